package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/fjord-io/fjord/proto/gen/fjord/admin/v1"
)

// TestPrintPlugin: `fjord plugins describe`'s table shows the index, the likely connector
// classes, the users and the selected classes; an unindexed plugin says so.
func TestPrintPlugin(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	err := printPlugin(&b, &adminv1.DescribePluginResponse{
		CustomPluginArn: "arn:p", Name: "debezium", State: "ACTIVE", Revision: 1, Indexed: true,
		IndexTime: timestamppb.New(time.Date(2026, 12, 2, 14, 5, 11, 0, time.UTC)), ArchiveCount: 3, ClassCount: 3,
		MatchingClassCount: 2, Classes: []string{"io.debezium.connector.mysql.MySqlConnector"},
		ConnectorClasses:   []string{"io.debezium.connector.mysql.MySqlConnector"},
		UnreadableArchives: []string{"lib/broken.jar"},
		UsedBy:             []*adminv1.PluginUse{{ConnectorArn: "arn:c", Revision: 1}},
	}, "io.debezium.connector.")
	if err != nil {
		t.Fatal(err)
	}
	out := regexp.MustCompile(`:  +`).ReplaceAllString(b.String(), ": ") // the table's padding
	for _, want := range []string{
		"Indexed: 2026-12-02T14:05:11Z, 3 archives, 3 classes\n",
		"Unreadable archives: lib/broken.jar\n",
		"Connector classes: io.debezium.connector.mysql.MySqlConnector\n",
		"Used by: arn:c (revision 1)\n",
		"Classes starting with \"io.debezium.connector.\" (1 of 2):\nio.debezium.connector.mysql.MySqlConnector\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	if err := printPlugin(&b, &adminv1.DescribePluginResponse{CustomPluginArn: "arn:p", Name: "p", State: "CREATING", Revision: 1}, ""); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); !strings.Contains(out, "not indexed") || strings.Contains(out, "Classes (") {
		t.Errorf("unindexed plugin:\n%s", out)
	}
}
