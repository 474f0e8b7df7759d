package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	adminv1 "github.com/fjord-io/fjord/proto/gen/fjord/admin/v1"
)

func runPlugins(ctx context.Context, args []string) error {
	const use = "usage: fjord plugins describe ARN [flags]"
	if len(args) == 0 || args[0] != "describe" {
		if len(args) > 0 {
			return fmt.Errorf("unknown plugins action %q: use describe", args[0])
		}
		return errors.New(use)
	}
	f := newFlags("plugins describe ARN", `Describes what Fjord found in a custom plugin through the admin gRPC API: the Java classes of
its object and of the JARs nested in it (indexed when it became ACTIVE), the likely
connector.class values, unreadable nested archives, and the connectors that use the plugin
(while one does, DeleteCustomPlugin answers ConflictException).`)
	var af adminFlags
	var revText, prefix, maxText string
	f.str(&revText, "revision", "", "0", "the revision to describe (0: the latest)")
	f.str(&prefix, "class-prefix", "", "", "show only the classes whose name starts with this")
	f.str(&maxText, "max-classes", "", "1000", "how many classes to show (at most 100000)")
	af.register(f)
	arn, err := parseWithPositional(f, args[1:])
	if err != nil {
		return err
	}
	if arn == "" {
		return errors.New(use)
	}
	rev, err := strconv.ParseInt(revText, 10, 64)
	if err != nil {
		return fmt.Errorf("--revision must be a number, got %q", revText)
	}
	maxClasses, err := strconv.Atoi(maxText)
	if err != nil {
		return fmt.Errorf("--max-classes must be a number, got %q", maxText)
	}
	client, closeConn, err := af.dial()
	if err != nil {
		return err
	}
	defer closeConn()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := client.DescribePlugin(ctx, &adminv1.DescribePluginRequest{
		CustomPluginArn: arn, Revision: rev, ClassPrefix: prefix, MaxClasses: int32(maxClasses)})
	if err != nil {
		return err
	}
	if af.output == "json" {
		return writeJSON(os.Stdout, resp)
	}
	return printPlugin(os.Stdout, resp, prefix)
}

// printPlugin writes a plugin's description for a terminal.
func printPlugin(out io.Writer, d *adminv1.DescribePluginResponse, prefix string) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "Name:\t%s\n", d.Name)
	fmt.Fprintf(w, "ARN:\t%s\n", d.CustomPluginArn)
	fmt.Fprintf(w, "Revision:\t%d\n", d.Revision)
	fmt.Fprintf(w, "State:\t%s\n", d.State)
	if sd := d.StateDescription; sd != nil {
		fmt.Fprintf(w, "State description:\t%s: %s\n", sd.Code, sd.Message)
	}
	if !d.Indexed {
		fmt.Fprintln(w, "Classes:\tnot indexed (the plugin is not ACTIVE, or not indexed yet)")
	} else {
		fmt.Fprintf(w, "Indexed:\t%s, %d archives, %d classes\n", d.IndexTime.AsTime().Format(time.RFC3339), d.ArchiveCount, d.ClassCount)
		for i, a := range d.UnreadableArchives {
			fmt.Fprintf(w, "%s\t%s\n", label(i, "Unreadable archives:"), a)
		}
		for i, c := range d.ConnectorClasses {
			fmt.Fprintf(w, "%s\t%s\n", label(i, "Connector classes:"), c)
		}
	}
	for i, u := range d.UsedBy {
		fmt.Fprintf(w, "%s\t%s (revision %d)\n", label(i, "Used by:"), u.ConnectorArn, u.Revision)
	}
	if d.Indexed {
		sel := "Classes"
		if prefix != "" {
			sel = fmt.Sprintf("Classes starting with %q", prefix)
		}
		fmt.Fprintf(w, "\n%s (%d of %d):\n", sel, len(d.Classes), d.MatchingClassCount)
		for _, c := range d.Classes {
			fmt.Fprintln(w, c)
		}
	}
	return w.Flush()
}

// label is s on a list's first line and blank on the others.
func label(i int, s string) string {
	if i == 0 {
		return s
	}
	return ""
}
