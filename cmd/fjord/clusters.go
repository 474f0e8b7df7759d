package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"

	adminv1 "github.com/fjord-io/fjord/proto/gen/fjord/admin/v1"
	"github.com/fjord-io/fjord/server/sigv4"
)

func runClusters(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: fjord clusters register|list|deregister [flags]")
	}
	action, args := args[0], args[1:]
	f := newFlags("clusters "+action, `Manages the cluster registry through the admin gRPC API. Calls are SigV4-signed with the
given credential; clusters belong to that credential's account and to --region.`)
	var server, accessKey, secretKey, region, name, bootstrap, version, arn string
	f.str(&server, "server", "", "127.0.0.1:9090", "gRPC address of a Fjord server")
	f.str(&accessKey, "access-key-id", "AWS_ACCESS_KEY_ID", "test", "access key to sign with")
	f.str(&secretKey, "secret-access-key", "AWS_SECRET_ACCESS_KEY", "test", "secret key to sign with")
	f.str(&region, "region", "AWS_REGION", "us-east-1", "region of the clusters")
	f.str(&name, "name", "", "", "cluster name (register)")
	f.str(&bootstrap, "bootstrap-servers", "", "", "host:port[,host:port…] (register)")
	f.str(&version, "kafka-version", "", "", "Kafka version the cluster reports (register; default 3.7.x)")
	f.str(&arn, "arn", "", "", "cluster ARN (deregister)")
	var ct clientTLS
	ct.register(f)
	if err := f.Parse(args); err != nil {
		return err
	}
	newLogger("warn")
	transport, err := ct.dialOption()
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient(server, transport,
		grpc.WithUnaryInterceptor(sigv4.UnaryClientInterceptor(sigv4.Credential{AccessKeyID: accessKey, SecretAccessKey: secretKey}, region, "kafka")))
	if err != nil {
		return err
	}
	defer conn.Close()
	client := adminv1.NewAdminClient(conn)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var out any
	switch action {
	case "register":
		if name == "" || bootstrap == "" {
			return errors.New("register needs --name and --bootstrap-servers")
		}
		resp, err := client.RegisterCluster(ctx, &adminv1.RegisterClusterRequest{ClusterName: name, BootstrapServers: bootstrap, KafkaVersion: version})
		if err != nil {
			return err
		}
		out = clusterJSON(resp.Cluster)
	case "list":
		resp, err := client.ListClusters(ctx, &adminv1.ListClustersRequest{})
		if err != nil {
			return err
		}
		list := []map[string]string{}
		for _, c := range resp.Clusters {
			list = append(list, clusterJSON(c))
		}
		out = list
	case "deregister":
		if arn == "" {
			return errors.New("deregister needs --arn")
		}
		if _, err := client.DeregisterCluster(ctx, &adminv1.DeregisterClusterRequest{ClusterArn: arn}); err != nil {
			return err
		}
		out = map[string]string{"clusterArn": arn, "state": "DEREGISTERED"}
	default:
		return fmt.Errorf("unknown clusters action %q: use register, list or deregister", action)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func clusterJSON(c *adminv1.Cluster) map[string]string {
	return map[string]string{
		"clusterArn": c.ClusterArn, "clusterName": c.ClusterName, "bootstrapServers": c.BootstrapServers,
		"kafkaVersion": c.KafkaVersion, "creationTime": c.CreationTime.AsTime().Format(time.RFC3339),
	}
}
