# Fjord — make help lists the targets.
SHELL := /bin/bash
GO    ?= go
BIN   := bin
TOOLS := $(CURDIR)/bin/tools

# Code generators, pinned: `make generate` installs exactly these into bin/tools.
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
GRPC_GATEWAY_VERSION       := v2.32.0
PROTO_FILES := proto/fjord/kafkaconnect/v1/kafkaconnect.proto proto/fjord/kafka/v1/kafka.proto proto/fjord/admin/v1/admin.proto proto/fjord/agent/v1/agent.proto

.DEFAULT_GOAL := help
.PHONY: help build run test test-race lint generate verify bench tools clean chart

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## Build bin/fjord
	$(GO) build -o $(BIN)/fjord ./cmd/fjord

run: build ## Start Fjord on its embedded defaults (fjord dev): Postgres, two Kafka clusters, the API
	./$(BIN)/fjord dev

test: ## Run every test (real Postgres, real AWS clients); the console test's screenshots go to .artifacts/console/
	FJORD_TEST_ARTIFACTS=$(CURDIR)/.artifacts $(GO) test -count=1 -parallel 3 -timeout 15m ./...

test-race: ## Run every test with the race detector
	FJORD_TEST_ARTIFACTS=$(CURDIR)/.artifacts $(GO) test -race -count=1 -timeout 20m ./...

lint: ## gofmt, go vet, and the layout rules (TestLayout)
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^proto/gen/')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) test -count=1 -run TestLayout .

tools: ## Install the pinned code generators into bin/tools
	@mkdir -p $(TOOLS)
	@command -v protoc >/dev/null || { echo "protoc missing: apt-get install -y protobuf-compiler"; exit 1; }
	GOBIN=$(TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOBIN=$(TOOLS) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	GOBIN=$(TOOLS) $(GO) install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@$(GRPC_GATEWAY_VERSION)
	GOBIN=$(TOOLS) $(GO) install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2@$(GRPC_GATEWAY_VERSION)

generate: tools ## Regenerate protos from the AWS models, then Go code and OpenAPI (offline)
	$(GO) run ./proto/protogen -out proto
	rm -rf proto/gen api-docs/openapi && mkdir -p proto/gen api-docs/openapi
	PATH=$(TOOLS):$$PATH protoc -I proto -I /usr/include \
	  --go_out=proto/gen --go_opt=paths=source_relative \
	  --go-grpc_out=proto/gen --go-grpc_opt=paths=source_relative \
	  --grpc-gateway_out=proto/gen --grpc-gateway_opt=paths=source_relative,grpc_api_configuration=proto/gateway.yaml \
	  --openapiv2_out=api-docs/openapi --openapiv2_opt=grpc_api_configuration=proto/gateway.yaml \
	  $(PROTO_FILES)
	$(GO) run ./api-docs/gen > api-docs/operations.md
	$(GO) run ./api-docs/gen -page mm2-keys > api-docs/mm2-keys.md
	$(GO) run ./api-docs/gen -page debezium-keys > api-docs/debezium-keys.md

verify: generate ## Regenerate and fail if the committed generated code differs
	@git diff --exit-code -- proto api-docs || { echo "generated code is stale: run make generate and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- proto api-docs)" || { git status --porcelain -- proto api-docs; echo "untracked generated files"; exit 1; }

bench: ## Run the benchmarks (ONLY=replication,... for some suites); prints one JSON object per line
	$(GO) run ./bench $(if $(ONLY),-only $(ONLY))

chart: ## Copy deploy/prometheus and deploy/grafana into the Helm chart, lint it and package it into bin/
	rm -rf deploy/helm/fjord/files/prometheus deploy/helm/fjord/files/grafana
	mkdir -p deploy/helm/fjord/files/prometheus deploy/helm/fjord/files/grafana
	if ls deploy/prometheus/*.y*ml >/dev/null 2>&1; then cp deploy/prometheus/*.y*ml deploy/helm/fjord/files/prometheus/; fi
	if ls deploy/grafana/*.json >/dev/null 2>&1; then cp deploy/grafana/*.json deploy/helm/fjord/files/grafana/; fi
	helm lint --strict deploy/helm/fjord
	helm package deploy/helm/fjord -d $(BIN)

clean: ## Remove build output and the dev data dir
	rm -rf $(BIN) .fjord-dev .artifacts
