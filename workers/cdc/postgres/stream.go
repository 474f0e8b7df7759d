package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/fjord-io/fjord/workers/cdc"
	"github.com/fjord-io/fjord/workers/cdc/debezium"
)

// stream decodes pgoutput from the replication connection into records.
type stream struct {
	e     *Engine
	conn  *pgx.Conn
	rconn *pgconn.PgConn
	out   cdc.Emitter
	res   *resume // the offset to skip up to, nil when nothing is to be skipped
	rels  map[uint32]*relTable
	msgs  map[uint32]*pglogrepl.RelationMessage
	types map[uint32]*pgType
	cat   *catalogReader

	// The open transaction.
	xid        int64
	commitTime time.Time
	inTx       bool
	lastCommit pglogrepl.LSN

	batch   []cdc.Record
	pending int // change events in batch
	// tx is the open transaction's metadata (provide.transaction.metadata), nil without.
	tx *txMeta
	// resumeOffset is the offset a restart resumes from (its transaction context).
	resumeOffset map[string]any
}

// flushWait is how long a batch waits for more changes before it is handed over.
const flushWait = 2 * time.Millisecond

func (s *stream) run(ctx context.Context) error {
	e := s.e
	s.msgs = map[uint32]*pglogrepl.RelationMessage{}
	s.cat = &catalogReader{e: e, conn: s.conn, types: s.types}
	nextStatus := time.Now().Add(e.cfg.StatusInterval)
	var flushAt time.Time
	// Reads wait on the connection's read deadline rather than a context per message (a
	// context costs a watcher per read); stopping sets the deadline to now.
	nc := s.rconn.Conn()
	stop := context.AfterFunc(ctx, func() { _ = nc.SetReadDeadline(time.Now()) })
	defer stop()
	defer func() { _ = nc.SetReadDeadline(time.Time{}) }()
	var deadlineSet time.Time
	for {
		now := time.Now()
		if !now.Before(nextStatus) {
			if err := s.status(ctx); err != nil {
				return err
			}
			nextStatus = now.Add(e.cfg.StatusInterval)
		}
		deadline := nextStatus
		if len(s.batch) > 0 {
			if flushAt.IsZero() {
				flushAt = now.Add(flushWait)
			}
			if flushAt.Before(deadline) {
				deadline = flushAt
			}
		}
		if !deadline.Equal(deadlineSet) {
			if err := nc.SetReadDeadline(deadline); err != nil {
				return fmt.Errorf("replication connection: %w", err)
			}
			deadlineSet = deadline
		}
		if ctx.Err() != nil { // after the deadline: a stop from now on interrupts the read
			return nil
		}
		msg, err := s.rconn.ReceiveMessage(context.Background())
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if pgconn.Timeout(err) {
				if len(s.batch) > 0 && !time.Now().Before(flushAt) {
					if err := s.flush(ctx); err != nil {
						return err
					}
					flushAt = time.Time{}
				}
				continue
			}
			return fmt.Errorf("receive from replication slot %q: %w", e.cfg.Slot, err)
		}
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			if len(m.Data) == 0 {
				continue
			}
			switch m.Data[0] {
			case pglogrepl.PrimaryKeepaliveMessageByteID:
				ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(m.Data[1:])
				if err != nil {
					return fmt.Errorf("parse keepalive: %w", err)
				}
				if ka.ReplyRequested {
					if err := s.status(ctx); err != nil {
						return err
					}
					nextStatus = time.Now().Add(e.cfg.StatusInterval)
				}
			case pglogrepl.XLogDataByteID:
				xld, err := pglogrepl.ParseXLogData(m.Data[1:])
				if err != nil {
					return fmt.Errorf("parse XLogData: %w", err)
				}
				if err := s.handle(ctx, xld); err != nil {
					return err
				}
				if len(s.batch) >= e.cfg.MaxBatchSize {
					if err := s.flush(ctx); err != nil {
						return err
					}
					flushAt = time.Time{}
				}
			}
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("replication slot %q: %s", e.cfg.Slot, pgconn.ErrorResponseToPgError(m).Error())
		case *pgproto3.CopyDone:
			return fmt.Errorf("replication slot %q: the server ended the stream", e.cfg.Slot)
		}
	}
}

// status confirms the durable LSN to the server.
func (s *stream) status(ctx context.Context) error {
	l := s.e.flushLSN()
	err := pglogrepl.SendStandbyStatusUpdate(ctx, s.rconn, pglogrepl.StandbyStatusUpdate{WALWritePosition: l, WALFlushPosition: l, WALApplyPosition: l})
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("send standby status update: %w", err)
	}
	return nil
}

func (s *stream) flush(ctx context.Context) error {
	if len(s.batch) == 0 {
		return nil
	}
	// While the runtime holds the batch back, keep confirming to the server so that
	// wal_sender_timeout does not end the connection.
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(s.e.cfg.StatusInterval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				_ = s.status(ctx)
			}
		}
	}()
	err := s.out.Emit(ctx, s.batch...)
	close(done)
	wg.Wait()
	s.e.met.Polled(s.pending)
	s.batch, s.pending = s.batch[:0], 0
	return err
}

func (s *stream) handle(ctx context.Context, xld pglogrepl.XLogData) error {
	msg, err := pglogrepl.Parse(xld.WALData)
	if err != nil {
		return fmt.Errorf("parse pgoutput message: %w", err)
	}
	lsn := xld.WALStart
	switch m := msg.(type) {
	case *pglogrepl.RelationMessage:
		// A new or changed table: its schemas are rebuilt at its next change.
		s.msgs[m.RelationID] = m
		delete(s.rels, m.RelationID)
	case *pglogrepl.BeginMessage:
		s.xid, s.commitTime, s.inTx = int64(m.Xid), m.CommitTime, true
		if s.tx != nil {
			s.tx.begin(s.xid)
			if s.res != nil && s.xid == s.res.txID && s.resumeOffset["transaction_id"] == s.tx.id {
				s.tx.restore(s.resumeOffset) // its BEGIN was emitted before the restart
			} else {
				s.batch = append(s.batch, s.tx.record(s.e, "BEGIN", m.CommitTime))
			}
		}
		s.e.mu.Lock()
		s.e.idle = 0
		s.e.mu.Unlock()
	case *pglogrepl.CommitMessage:
		s.inTx = false
		if s.tx != nil {
			// The END event carries the commit's offset: once it is durable, so is the
			// transaction, and a restart resumes after it.
			end := s.tx.record(s.e, "END", m.CommitTime)
			l := int64(m.TransactionEndLSN)
			end.Offset = map[string]any{"lsn": l, "txId": s.xid, "ts_usec": m.CommitTime.UnixMicro(), "lsn_proc": l, "lsn_commit": l, "messageType": "COMMIT"}
			s.e.emitted(end.Offset)
			s.batch = append(s.batch, end)
		}
		s.lastCommit = m.TransactionEndLSN
		s.e.met.BehindSource(time.Since(m.CommitTime))
		if s.res != nil && s.xid == s.res.txID {
			s.res = nil // the partly emitted transaction is behind us
		}
		s.e.mu.Lock()
		s.e.idle = m.TransactionEndLSN
		s.e.mu.Unlock()
	case *pglogrepl.InsertMessage:
		return s.change(ctx, lsn, m.RelationID, debezium.OpCreate, "INSERT", nil, m.Tuple, 0)
	case *pglogrepl.UpdateMessage:
		return s.change(ctx, lsn, m.RelationID, debezium.OpUpdate, "UPDATE", m.OldTuple, m.NewTuple, m.OldTupleType)
	case *pglogrepl.DeleteMessage:
		return s.change(ctx, lsn, m.RelationID, debezium.OpDelete, "DELETE", m.OldTuple, nil, m.OldTupleType)
	case *pglogrepl.TruncateMessage:
		for _, id := range m.RelationIDs {
			if err := s.change(ctx, lsn, id, debezium.OpTruncate, "TRUNCATE", nil, nil, 0); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *stream) relation(ctx context.Context, id uint32) (*relTable, error) {
	if rt, ok := s.rels[id]; ok {
		return rt, nil
	}
	m, ok := s.msgs[id]
	if !ok {
		return nil, fmt.Errorf("pgoutput sent a change of relation %d before its Relation message", id)
	}
	cols := make([]colDef, len(m.Columns))
	for i, c := range m.Columns {
		cols[i] = colDef{name: c.Name, oid: c.DataType, typmod: c.TypeModifier}
	}
	rt, err := s.cat.table(ctx, id, m.Namespace, m.RelationName, cols)
	if err != nil {
		return nil, err
	}
	s.rels[id] = rt
	return rt, nil
}

func tupleValues(t *pglogrepl.TupleData) ([][]byte, func(int) bool) {
	if t == nil {
		return nil, nil
	}
	vals := make([][]byte, len(t.Columns))
	toast := false
	for i, c := range t.Columns {
		switch c.DataType {
		case pglogrepl.TupleDataTypeText, pglogrepl.TupleDataTypeBinary:
			vals[i] = c.Data
		case pglogrepl.TupleDataTypeToast:
			toast = true
		}
	}
	if !toast {
		return vals, nil
	}
	return vals, func(i int) bool { return i < len(t.Columns) && t.Columns[i].DataType == pglogrepl.TupleDataTypeToast }
}

func (s *stream) change(ctx context.Context, lsn pglogrepl.LSN, relID uint32, op debezium.Op, typ string, old, new *pglogrepl.TupleData, oldType uint8) error {
	if s.res != nil && s.xid == s.res.txID && int64(lsn) <= s.res.lsn {
		return nil // emitted before the restart
	}
	rt, err := s.relation(ctx, relID)
	if err != nil {
		return err
	}
	if rt.skip {
		return nil
	}
	e := s.e
	ev := cdc.Event{Table: rt.table, Op: op, Partition: e.partition()}
	if new != nil {
		vals, unchanged := tupleValues(new)
		if ev.After, err = rt.row(vals, unchanged, e.cfg.Unavailable); err != nil {
			return err
		}
	}
	if old != nil {
		// REPLICA IDENTITY FULL sends the whole old row ('O'); DEFAULT and USING INDEX only
		// its key ('K'), the other columns null.
		vals, unchanged := tupleValues(old)
		if ev.Before, err = rt.row(vals, unchanged, e.cfg.Unavailable); err != nil {
			return err
		}
	}
	if op == debezium.OpUpdate && old != nil && new != nil && oldType == pglogrepl.UpdateMessageTupleTypeOld {
		// An unchanged TOASTed column of the new row is in the full old row.
		for i, j := range rt.src {
			if j < len(new.Columns) && new.Columns[j].DataType == pglogrepl.TupleDataTypeToast && j < len(old.Columns) && old.Columns[j].DataType == pglogrepl.TupleDataTypeText {
				if v, err := rt.conv[i](old.Columns[j].Data); err == nil && v != nil {
					ev.After[i] = v
				}
			}
		}
	}
	ev.Source = e.source(s.commitTime, "false", rt.schema, rt.name, s.xid, lsn, s.lastCommit)
	off := make(map[string]any, 8)
	off["lsn"], off["txId"], off["ts_usec"], off["lsn_proc"], off["messageType"] = int64(lsn), s.xid, s.commitTime.UnixMicro(), int64(lsn), typ
	if s.lastCommit != 0 {
		off["lsn_commit"] = int64(s.lastCommit)
	}
	if s.tx != nil && !e.cfg.Skipped[string(op)] {
		ev.Txn = s.tx.event(rt.table.ID)
		s.tx.offset(off)
	}
	ev.Offset = off
	e.emitted(off) // before the transaction's end may be confirmed (flushLSN)
	s.batch = append(s.batch, cdc.Records(e.cfg.Config, ev, time.Now())...)
	s.pending++
	return nil
}
