package main

import (
	"log/slog"

	"github.com/fjord-io/fjord/server"
	"github.com/fjord-io/fjord/server/connectrest"
)

// connectRESTFlags configure the Kafka Connect REST API listener (server/connectrest).
type connectRESTFlags struct {
	addr, region, clusterID string
}

func (c *connectRESTFlags) register(f *flags, defaultAddr string) {
	off := " (empty: off)"
	if defaultAddr != "" {
		off = " (empty: off; two fjord dev on one host need distinct ports, as for --http-addr)"
	}
	f.str(&c.addr, "connect-rest-addr", "", defaultAddr, "Kafka Connect REST API listen address"+off)
	if defaultAddr != "" {
		return // fjord dev: the connectors of its --region
	}
	f.str(&c.region, "connect-rest-region", "", "us-east-1", "region of the connectors the Kafka Connect REST API shows and creates")
}

// start starts the API when an address is set (nil otherwise). anonymousAccount, when set, is
// the account of unauthenticated requests (fjord dev); defaultBootstrap is the kafkaCluster of
// connectors created there whose configuration names none.
func (c *connectRESTFlags) start(srv *server.Server, log *slog.Logger, anonymousAccount, defaultBootstrap string, tlsCert, tlsKey string) (*connectrest.API, error) {
	if c.addr == "" {
		return nil, nil
	}
	api, err := connectrest.New(connectrest.Config{Addr: c.addr, Server: srv, Region: c.region, AnonymousAccount: anonymousAccount,
		DefaultBootstrapServers: defaultBootstrap, KafkaClusterID: c.clusterID, Logger: log, TLSCert: tlsCert, TLSKey: tlsKey})
	if err != nil {
		return nil, err
	}
	if err := api.Start(); err != nil {
		return nil, err
	}
	return api, nil
}
