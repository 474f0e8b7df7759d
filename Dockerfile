# syntax=docker/dockerfile:1
# The one Fjord binary (server, agent, worker, migrate, dev, … are subcommands), static, on a
# distroless nonroot base. Build: docker build -t fjord --build-arg VERSION=$(git describe --always) .
# deploy/helm/fjord runs it; deploy/helm/chart_test.go runs this file's `go build` line.

ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/fjord ./cmd/fjord

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/fjord /usr/local/bin/fjord
# 65532 is distroless' nonroot user; the Helm chart runs it with a read-only root filesystem.
USER 65532:65532
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/fjord"]
CMD ["server"]
