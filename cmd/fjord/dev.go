package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/fjord-io/fjord/server"
	"github.com/fjord-io/fjord/server/artifact"
	"github.com/fjord-io/fjord/store"
	"github.com/fjord-io/fjord/store/pgembed"
)

// devAccount and devCredential are the LocalStack convention: test/test → 000000000000.
const (
	devAccount = "000000000000"
	devKey     = "test"
)

func runDev(ctx context.Context, args []string) error {
	f := newFlags("dev", `Starts everything on this machine: a throwaway Postgres under --data-dir (unless
--database-url), two in-process Kafka clusters registered as "source" and "target", and the
server. Ctrl-C stops everything.`)
	var (
		dataDir, databaseURL, httpAddr, grpcAddr, sourceAddr, targetAddr, credsFile, region, logLevel string
	)
	f.str(&dataDir, "data-dir", "", "./.fjord-dev", "where Postgres, the encryption key and the local S3 buckets live")
	f.str(&databaseURL, "database-url", "DATABASE_URL", "", "use this Postgres instead of starting one")
	f.str(&httpAddr, "http-addr", "", "127.0.0.1:8080", "REST (AWS API), /healthz and /metrics listen address")
	f.str(&grpcAddr, "grpc-addr", "", "127.0.0.1:9090", "gRPC listen address")
	f.str(&sourceAddr, "source-kafka-addr", "", "127.0.0.1:19092", "listen address of the in-process Kafka cluster \"source\"")
	f.str(&targetAddr, "target-kafka-addr", "", "127.0.0.1:29092", "listen address of the in-process Kafka cluster \"target\"")
	f.str(&credsFile, "credentials-file", "", "", `JSON list of {"accessKeyId","secretAccessKey","accountId"}; default: test/test as account 000000000000`)
	f.str(&region, "region", "AWS_REGION", "us-east-1", "region in which the dev clusters are registered")
	f.str(&logLevel, "log-level", "", "info", "debug, info, warn or error")
	if err := f.Parse(args); err != nil {
		return err
	}
	log := newLogger(logLevel)
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return err
	}
	dataDir, _ = filepath.Abs(dataDir)
	key, err := store.EnsureKeyFile(filepath.Join(dataDir, "encryption.key"))
	if err != nil {
		return err
	}
	creds := []store.Credential{{AccessKeyID: devKey, SecretAccessKey: devKey, AccountID: devAccount}}
	if credsFile != "" {
		if creds, err = loadCredentials(credsFile); err != nil {
			return err
		}
	}

	if databaseURL == "" {
		pg, err := pgembed.Start(ctx, pgembed.Options{Dir: filepath.Join(dataDir, "postgres"), Logger: log})
		if err != nil {
			return fmt.Errorf("start Postgres: %w", err)
		}
		defer func() {
			if err := pg.Stop(); err != nil {
				log.Error("stop Postgres", "error", err)
			}
		}()
		if err := pg.CreateDatabase(ctx, "fjord"); err != nil && !strings.Contains(err.Error(), "already exists") {
			return fmt.Errorf("create database: %w", err)
		}
		databaseURL = pg.URL("fjord")
	}
	st, err := openStore(ctx, log, databaseURL, key, creds)
	if err != nil {
		return err
	}
	defer st.Close()

	clusters := map[string]string{"source": sourceAddr, "target": targetAddr}
	for _, name := range []string{"source", "target"} {
		kc, err := startKafka(clusters[name])
		if err != nil {
			return fmt.Errorf("start Kafka cluster %s on %s: %w", name, clusters[name], err)
		}
		defer kc.Close()
		seen := map[string]bool{}
		for _, c := range creds {
			if seen[c.AccountID] {
				continue
			}
			seen[c.AccountID] = true
			if _, err := server.RegisterCluster(ctx, st, c.AccountID, region, name, clusters[name], ""); err != nil {
				return fmt.Errorf("register cluster %s: %w", name, err)
			}
		}
		log.Info("kafka cluster ready", "cluster", name, "bootstrap_servers", clusters[name])
	}

	s3Dir := filepath.Join(dataDir, "s3")
	if err := os.MkdirAll(s3Dir, 0o755); err != nil {
		return err
	}
	srv, err := server.New(server.Config{HTTPAddr: httpAddr, GRPCAddr: grpcAddr, Store: st, Secret: key,
		Artifacts: artifact.NewDirFetcher(s3Dir), Logger: log})
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	defer srv.Stop()
	printBanner(log, banner{HTTP: srv.HTTPAddr(), GRPC: srv.GRPCAddr(), Source: sourceAddr, Target: targetAddr,
		Region: region, S3Dir: s3Dir, DataDir: dataDir, Creds: credsFile == ""})
	<-ctx.Done()
	log.Info("shutting down")
	return nil
}

// startKafka starts a one-broker kfake cluster on addr (127.0.0.1:PORT).
func startKafka(addr string) (*kfake.Cluster, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if host != "127.0.0.1" && host != "localhost" {
		return nil, errors.New("the in-process Kafka clusters listen on 127.0.0.1 only")
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, err
	}
	return kfake.NewCluster(kfake.Ports(port), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(3))
}

type banner struct {
	HTTP, GRPC, Source, Target, Region, S3Dir, DataDir string
	Creds                                              bool
}

var bannerTmpl = template.Must(template.New("banner").Parse(`
Fjord dev is ready.

  AWS API (REST)   http://{{.HTTP}}     health: http://{{.HTTP}}/healthz   metrics: /metrics
  gRPC             {{.GRPC}}
  Kafka "source"   {{.Source}}
  Kafka "target"   {{.Target}}
  S3 buckets       {{.S3Dir}}/<bucket>/   (bucket ARN arn:aws:s3:::<bucket>)
  data dir         {{.DataDir}}
{{if .Creds}}  credentials      access key "test", secret "test" → account 000000000000
{{end}}
Try:
  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION={{.Region}}
  aws --endpoint-url http://{{.HTTP}} kafka list-clusters-v2
  aws --endpoint-url http://{{.HTTP}} kafkaconnect list-connectors
  mkdir -p {{.S3Dir}}/plugins && (cd /tmp && echo x > x.txt && zip -q mm2.zip x.txt) && cp /tmp/mm2.zip {{.S3Dir}}/plugins/
  aws --endpoint-url http://{{.HTTP}} kafkaconnect create-custom-plugin --name mm2 --content-type ZIP \
      --location 's3Location={bucketArn=arn:aws:s3:::plugins,fileKey=mm2.zip}'
  kcat -b {{.Source}} -L

Stop with Ctrl-C.
`))

func printBanner(log *slog.Logger, b banner) {
	if err := bannerTmpl.Execute(os.Stdout, b); err != nil {
		log.Error("print banner", "error", err)
	}
}
