package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// caAAD binds the sealed CA key to its row.
const caAAD = "fjord_ca"

// CA returns the Fjord CA: its certificate (PEM) and private key (PKCS #8 DER). The first
// caller creates it with create; every replica then reads the same one (a concurrent creation
// loses to the first and reads it).
func (s *Store) CA(ctx context.Context, create func() (certPEM, keyDER []byte, err error)) ([]byte, []byte, error) {
	cert, key, err := s.readCA(ctx)
	if !errors.Is(err, ErrNotFound) {
		return cert, key, err
	}
	certPEM, keyDER, err := create()
	if err != nil {
		return nil, nil, err
	}
	sealed, err := s.sealer.Seal(keyDER, caAAD)
	if err != nil {
		return nil, nil, err
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO fjord_ca (id, certificate, private_key) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING`,
		string(certPEM), sealed); err != nil {
		return nil, nil, interpret(err)
	}
	return s.readCA(ctx)
}

func (s *Store) readCA(ctx context.Context) ([]byte, []byte, error) {
	var cert string
	var sealed []byte
	if err := s.pool.QueryRow(ctx, `SELECT certificate, private_key FROM fjord_ca WHERE id = 1`).Scan(&cert, &sealed); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil, ErrNotFound
		}
		return nil, nil, interpret(err)
	}
	key, err := s.sealer.Open(sealed, caAAD)
	if err != nil {
		return nil, nil, err
	}
	return []byte(cert), key, nil
}

// Enrollment is the certificate an agent id holds.
type Enrollment struct {
	AgentID string
	// Serial is the certificate's serial number (hex); Fingerprint its SHA-256 (hex).
	Serial, Fingerprint string
	NotAfter            time.Time
	EnrolledAt          time.Time
	// RevokedAt is zero while the certificate is valid.
	RevokedAt time.Time
}

// Revoked reports whether the enrollment was revoked.
func (e Enrollment) Revoked() bool { return !e.RevokedAt.IsZero() }

const enrollmentCols = `agent_id, serial, fingerprint, not_after, enrolled_at, revoked_at`

func scanEnrollment(row pgx.CollectableRow) (Enrollment, error) {
	var e Enrollment
	var revoked *time.Time
	err := row.Scan(&e.AgentID, &e.Serial, &e.Fingerprint, &e.NotAfter, &e.EnrolledAt, &revoked)
	if revoked != nil {
		e.RevokedAt = *revoked
	}
	return e, err
}

// AgentEnroll records the certificate of an agent id. An id that holds a certificate that is
// not revoked is refused with ErrConflict: only a revoked id enrolls again.
func (s *Store) AgentEnroll(ctx context.Context, e Enrollment) error {
	tag, err := s.pool.Exec(ctx, `INSERT INTO agent_enrollments (agent_id, serial, fingerprint, not_after, enrolled_at)
		VALUES ($1, $2, $3, $4, now())
		ON CONFLICT (agent_id) DO UPDATE SET serial = EXCLUDED.serial, fingerprint = EXCLUDED.fingerprint,
			not_after = EXCLUDED.not_after, enrolled_at = now(), revoked_at = NULL
		WHERE agent_enrollments.revoked_at IS NOT NULL`, e.AgentID, e.Serial, e.Fingerprint, e.NotAfter)
	if err != nil {
		return interpret(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrConflict
	}
	return nil
}

// AgentEnrollment returns an agent id's enrollment, or ErrNotFound.
func (s *Store) AgentEnrollment(ctx context.Context, id string) (Enrollment, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+enrollmentCols+` FROM agent_enrollments WHERE agent_id = $1`, id)
	if err != nil {
		return Enrollment{}, interpret(err)
	}
	e, err := pgx.CollectExactlyOneRow(rows, scanEnrollment)
	if errors.Is(err, pgx.ErrNoRows) {
		return Enrollment{}, ErrNotFound
	}
	return e, interpret(err)
}

// AgentEnrollments returns every enrollment by agent id.
func (s *Store) AgentEnrollments(ctx context.Context) (map[string]Enrollment, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+enrollmentCols+` FROM agent_enrollments`)
	if err != nil {
		return nil, interpret(err)
	}
	es, err := pgx.CollectRows(rows, scanEnrollment)
	if err != nil {
		return nil, interpret(err)
	}
	out := make(map[string]Enrollment, len(es))
	for _, e := range es {
		out[e.AgentID] = e
	}
	return out, nil
}

// AgentRevoke revokes an agent id's certificate (a second revoke keeps the first time) and
// wakes its stream wherever it is held (NotifyAgents), which then closes. ErrNotFound: the id
// never enrolled.
func (s *Store) AgentRevoke(ctx context.Context, id string) (Enrollment, error) {
	var e Enrollment
	err := s.tx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE agent_enrollments SET revoked_at = coalesce(revoked_at, now()) WHERE agent_id = $1
			RETURNING `+enrollmentCols, id)
		if err != nil {
			return err
		}
		if e, err = pgx.CollectExactlyOneRow(rows, scanEnrollment); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		return s.notifyTx(ctx, tx, NotifyAgents, id)
	})
	if errors.Is(err, ErrNotFound) {
		return Enrollment{}, err
	}
	return e, interpret(err)
}

// ErrAgentLive is AgentClaim's refusal: another instance holds a live stream of the id.
var ErrAgentLive = errors.New("agent id already connected")

// LiveAgent describes the stream that holds an id (AgentClaim's refusal).
type LiveAgent struct {
	Address, ServerID string
	ConnectedAt       time.Time
}

// AgentClaim makes instance the holder of agent id's stream. It is refused (ErrAgentLive,
// with the live stream's description) while another instance's stream is live: open, the
// agent not DEAD, and a heartbeat within ttl. A new id, a disconnected or silent holder, or the
// same instance (a reconnect) claims it.
func (s *Store) AgentClaim(ctx context.Context, id, instance string, ttl time.Duration) (LiveAgent, error) {
	var live LiveAgent
	err := s.tx(ctx, func(tx pgx.Tx) error {
		// A new id: its row is created now, held by this instance, so that a concurrent claim
		// of another instance (on any replica) finds it live. AgentHello fills it in.
		tag, err := tx.Exec(ctx, `INSERT INTO agents (id, mcu_capacity, state, connected_at, last_heartbeat, instance)
			VALUES ($1, 0, 'ALIVE', now(), now(), $2) ON CONFLICT (id) DO NOTHING`, id, instance)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			return nil
		}
		var holder string
		var isLive bool
		err = tx.QueryRow(ctx, `SELECT instance, address, server_id, connected_at,
				disconnected_at IS NULL AND state <> 'DEAD' AND last_heartbeat > now() - make_interval(secs => $2)
			FROM agents WHERE id = $1 FOR UPDATE`, id, ttl.Seconds()).
			Scan(&holder, &live.Address, &live.ServerID, &live.ConnectedAt, &isLive)
		if err != nil {
			return err
		}
		if isLive && holder != "" && holder != instance {
			return ErrAgentLive
		}
		_, err = tx.Exec(ctx, `UPDATE agents SET instance = $2, disconnected_at = NULL, last_heartbeat = now() WHERE id = $1`, id, instance)
		return err
	})
	if errors.Is(err, ErrAgentLive) {
		return live, err
	}
	return LiveAgent{}, interpret(err)
}

// AgentSetInstance records the instance holding an agent's stream (after its Hello).
func (s *Store) AgentSetInstance(ctx context.Context, id, instance string) error {
	_, err := s.pool.Exec(ctx, `UPDATE agents SET instance = $2 WHERE id = $1`, id, instance)
	return interpret(err)
}

// WorkerHeldBy reports whether agentID may report on a worker: the worker is placed on it
// with this epoch and not stopping, or (stopping) is a stopping worker still placed on it.
func (s *Store) WorkerHeldBy(ctx context.Context, workerID, agentID string, epoch int64) (held, stopping bool, err error) {
	var rowEpoch int64
	err = s.pool.QueryRow(ctx, `SELECT epoch, stopping FROM workers WHERE id = $1 AND agent_id = $2`, workerID, agentID).
		Scan(&rowEpoch, &stopping)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, false, nil
	}
	if err != nil {
		return false, false, interpret(err)
	}
	return rowEpoch == epoch || stopping, stopping, nil
}
