package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/fjord-io/fjord/store"
)

// TestReplicatorOperations: a replicator update is stored with the replicator's change in one
// transaction (a refused change stores neither), is listed by ActiveOperations next to
// connector operations, advances through a plan that also sets the replicator's state with a
// code, and goes with its replicator.
func TestReplicatorOperations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _, _ := open(t)
	const acct, region = "000000000000", "us-east-1"
	rep := &store.Resource{ARN: "arn:r1", AccountID: acct, Region: region, Name: "r1", State: "RUNNING", Doc: []byte("v1")}
	if err := st.Replicators.Create(ctx, rep, nil, nil); err != nil {
		t.Fatal(err)
	}
	conn := &store.Resource{ARN: "arn:c1", AccountID: acct, Region: region, Name: "c1", State: "RUNNING", Doc: []byte("c")}
	if err := st.Connectors.Create(ctx, conn, nil, nil); err != nil {
		t.Fatal(err)
	}

	// Refused: neither the replicator nor the operation is written.
	refused := errors.New("refused")
	_, err := st.Replicators.Update(ctx, acct, region, rep.ARN, store.UpdateOptions{Operation: &store.Operation{ARN: "arn:op0",
		ConnectorARN: rep.ARN, AccountID: acct, State: "UPDATE_IN_PROGRESS", Doc: []byte(`{}`), Replicator: true}},
		func(r *store.Resource) error { r.Doc = []byte("half"); return refused })
	if !errors.Is(err, refused) {
		t.Fatalf("refused update: %v", err)
	}
	if ops, err := st.ActiveOperations(ctx); err != nil || len(ops) != 0 {
		t.Fatalf("after a refused update: %d operations, %v", len(ops), err)
	}

	if _, err := st.Connectors.Update(ctx, acct, region, conn.ARN, store.UpdateOptions{Operation: &store.Operation{ARN: "arn:cop",
		ConnectorARN: conn.ARN, AccountID: acct, State: "UPDATE_IN_PROGRESS", Doc: []byte(`{}`), Secret: []byte("origin")}},
		func(r *store.Resource) error { r.State = "UPDATING"; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Replicators.Update(ctx, acct, region, rep.ARN, store.UpdateOptions{Operation: &store.Operation{ARN: "arn:rop",
		ConnectorARN: rep.ARN, AccountID: acct, State: "UPDATE_IN_PROGRESS", Doc: []byte(`{"restart":true}`), Replicator: true}},
		func(r *store.Resource) error { r.State, r.Doc = "UPDATING", []byte("v2"); return nil }); err != nil {
		t.Fatal(err)
	}
	ops, err := st.ActiveOperations(ctx)
	if err != nil || len(ops) != 2 {
		t.Fatalf("active operations: %d, %v", len(ops), err)
	}
	if ops[0].ARN != "arn:cop" || ops[0].Replicator || string(ops[0].Secret) != "origin" ||
		ops[1].ARN != "arn:rop" || !ops[1].Replicator || ops[1].ConnectorARN != rep.ARN || string(ops[1].Doc) != `{"restart":true}` {
		t.Fatalf("active operations, oldest first: %+v %+v", ops[0], ops[1])
	}

	lead, err := st.LeaderAcquire(ctx, "test")
	if err != nil || lead == nil {
		t.Fatalf("LeaderAcquire: %v %v", lead, err)
	}
	defer lead.Release()
	done := *ops[1]
	done.State, done.Doc = "UPDATE_FAILED", []byte(`{"restart":true,"restarted":true}`)
	if err := st.ApplyPlan(ctx, store.Plan{Term: lead.Term, Ops: []store.OpChange{{Op: &done, Table: st.Replicators, ARN: rep.ARN,
		State: "FAILED", StateCode: "INVALID_CONFIGURATION", StateMessage: "refused"}}}); err != nil {
		t.Fatal(err)
	}
	got, err := st.Replicators.Get(ctx, acct, region, rep.ARN)
	if err != nil || got.State != "FAILED" || got.StateCode != "INVALID_CONFIGURATION" || got.StateMessage != "refused" || string(got.Doc) != "v2" {
		t.Fatalf("replicator after the plan: %+v %v", got, err)
	}
	ops, err = st.ActiveOperations(ctx)
	if err != nil || len(ops) != 1 || ops[0].ARN != "arn:cop" {
		t.Fatalf("active operations after the replicator's ended: %v %v", ops, err)
	}
	all, err := st.ReplicatorOperations(ctx, rep.ARN)
	if err != nil || len(all) != 1 || all[0].State != "UPDATE_FAILED" || string(all[0].Doc) != `{"restart":true,"restarted":true}` {
		t.Fatalf("the replicator's operations: %v %v", all, err)
	}

	if err := st.ApplyPlan(ctx, store.Plan{Term: lead.Term, Remove: []store.RemoveWorkload{{Table: st.Replicators, ARN: rep.ARN}}}); err != nil {
		t.Fatal(err)
	}
	if all, err := st.ReplicatorOperations(ctx, rep.ARN); err != nil || len(all) != 0 {
		t.Fatalf("operations of a removed replicator: %d, %v", len(all), err)
	}
}
