package agent

import (
	"context"
	"errors"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
)

// session is one Connect stream. The dialer goroutine receives on it; one sender goroutine
// sends what the loop queues in out. out and closed belong to the loop (the only writer); the
// loop closes out to close the agent's side of the stream.
type session struct {
	stream     grpc.BidiStreamingClient[agentv1.AgentMessage, agentv1.ServerMessage]
	out        chan *agentv1.AgentMessage
	closed     bool
	cancel     context.CancelFunc
	senderDone chan struct{}
	// welcomed is set by the dialer goroutine when a Welcome arrived.
	welcomed bool
}

// dial keeps one session open until ctx is done: it opens a stream, hands it to the loop,
// receives on it until it breaks, and retries with backoff. Established sessions use
// streamCtx, which outlives ctx so that the drain can still report.
func (l *loop) dial(ctx, streamCtx context.Context) {
	var delay time.Duration
	for attempt := 1; ctx.Err() == nil; attempt++ {
		s, err := l.open(streamCtx)
		if err == nil {
			l.events <- sessionUp{s}
			err = l.receive(s)
			s.cancel()
			<-s.senderDone
			l.events <- sessionDown{s, err}
			if s.welcomed {
				delay, attempt = 0, 1
			}
		}
		if ctx.Err() != nil {
			return
		}
		delay = l.a.cfg.ReconnectBackoff.Next(delay, 0)
		log := l.log.With("server", l.a.cfg.ServerAddr, "error", err.Error(), "attempt", attempt, "retry_in", delay.String())
		switch c := status.Code(err); {
		case c == codes.Unauthenticated || c == codes.PermissionDenied:
			log.Error("the server refused the agent's certificate (revoked, or not enrolled there); retrying — after `fjord agents revoke`, remove the agent's --state-dir to enroll it again")
		case c == codes.AlreadyExists:
			log.Error("the server refused the agent: another process with this agent id is connected; retrying")
		case s != nil && s.welcomed:
			log.Warn("the stream to the server broke; reconnecting (workers keep running)")
		default:
			log.Warn("cannot reach the Fjord server; retrying (workers keep running)")
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// open starts a Connect stream and its sender goroutine.
func (l *loop) open(streamCtx context.Context) (*session, error) {
	ctx, cancel := context.WithCancel(streamCtx)
	stream, err := l.client.Connect(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	s := &session{stream: stream, out: make(chan *agentv1.AgentMessage, outboxSize), cancel: cancel, senderDone: make(chan struct{})}
	go s.sendLoop(ctx)
	return s, nil
}

// sendLoop is the only caller of stream.Send and CloseSend. A failed Send ends it; the
// receiver then learns the stream's real status from Recv.
func (s *session) sendLoop(ctx context.Context) {
	defer close(s.senderDone)
	for {
		select {
		case m, ok := <-s.out:
			if !ok {
				_ = s.stream.CloseSend()
				return
			}
			if err := s.stream.Send(m); err != nil {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// receive forwards the server's messages to the loop until the stream ends.
func (l *loop) receive(s *session) error {
	for {
		m, err := s.stream.Recv()
		if errors.Is(err, io.EOF) {
			return errors.New("the server closed the stream")
		}
		if err != nil {
			return err
		}
		switch msg := m.Msg.(type) {
		case *agentv1.ServerMessage_Welcome:
			s.welcomed = true
			l.events <- welcomed{s, msg.Welcome}
		case *agentv1.ServerMessage_Desired:
			l.events <- desiredSet{s, msg.Desired}
		}
	}
}
