// Command fjord is Fjord's single binary: `fjord server` (the API and, later, the scheduler),
// `fjord dev` (everything on a laptop), `fjord migrate` (schema), `fjord clusters` (the
// cluster registry's admin CLI), `fjord agents` / `fjord workloads` (the fleet view) and
// `fjord plugins` (what a custom plugin holds). Every flag can also be set by an environment
// variable, named in its help text.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// version is the build's version, reported by agents; set with -ldflags "-X main.version=…".
var version = "dev"

const usage = `fjord — a self-hosted Amazon MSK Connect and MSK Replicator

Usage:
  fjord dev       start everything on this machine (Postgres, two Kafka clusters, the server)
  fjord server    run an API server replica (production)
  fjord migrate   apply the database migrations (fjord migrate up)
  fjord clusters  manage the cluster registry (register, list, deregister)
  fjord agents    show the agent fleet (list)
  fjord workloads show where a connector or replicator runs and why (describe, events)
  fjord plugins   show the classes Fjord found in a custom plugin and who uses it (describe)
  fjord agent     run a data-plane agent (offers MCU to the fleet, runs workers)
  fjord worker    run one worker (started by an agent)

Run "fjord COMMAND -h" for a command's flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd {
	case "dev":
		err = runDev(ctx, args)
	case "server":
		err = runServer(ctx, args)
	case "migrate":
		err = runMigrate(ctx, args)
	case "clusters":
		err = runClusters(ctx, args)
	case "agents":
		err = runAgents(ctx, args)
	case "workloads":
		err = runWorkloads(ctx, args)
	case "plugins":
		err = runPlugins(ctx, args)
	case "agent":
		err = runAgent(ctx, args)
	case "worker":
		err = runWorker(ctx, args)
	case "help", "-h", "--help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "fjord: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		slog.Error("fjord "+cmd+" failed", "error", err.Error())
		os.Exit(1)
	}
}

// flags is a flag set whose every flag also reads an environment variable.
type flags struct {
	*flag.FlagSet
}

func newFlags(name, summary string) *flags {
	fs := flag.NewFlagSet("fjord "+name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: fjord %s [flags]\n\n%s\n\nFlags (each also read from the environment variable shown):\n", name, summary)
		fs.PrintDefaults()
	}
	return &flags{fs}
}

func envName(flagName string) string {
	return "FJORD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (f *flags) str(p *string, name, env, def, help string) {
	if env == "" {
		env = envName(name)
	}
	if v, ok := os.LookupEnv(env); ok {
		def = v
	}
	f.StringVar(p, name, def, help+" ($"+env+")")
}

func (f *flags) boolean(p *bool, name string, def bool, help string) {
	env := envName(name)
	if v, ok := os.LookupEnv(env); ok {
		def = v == "1" || strings.EqualFold(v, "true")
	}
	f.BoolVar(p, name, def, help+" ($"+env+")")
}

// newLogger returns the JSON logger every process uses.
func newLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
	slog.SetDefault(log)
	return log
}
