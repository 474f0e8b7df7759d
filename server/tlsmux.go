package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc/credentials"

	"github.com/fjord-io/fjord/server/agentgw"
)

// The gRPC port serves two gRPC servers (api-docs/agent-identity.md):
//
//   - the agent gateway, always over TLS: a TLS connection whose ServerName (SNI) is
//     agentgw.ServerName gets the replica's gateway certificate (issued by the Fjord CA) and
//     may present an agent's client certificate;
//   - the API (kafkaconnect, kafka, admin): plaintext, or TLS with --tls-cert/--tls-key
//     (then a plaintext connection is closed).
//
// grpcMux accepts connections, tells them apart by their first byte (a TLS record starts
// with 0x16; an HTTP/2 preface with 'P'), completes the TLS handshake itself and hands each
// connection to the listener of its server. Both servers use handshaken as their transport
// credentials, which exposes the finished handshake to the handlers (peer.AuthInfo).
type grpcMux struct {
	lis      net.Listener
	agentTLS *tls.Config
	// apiTLS is nil for a plaintext API.
	apiTLS     *tls.Config
	agent, api *chanListener
	log        *slog.Logger
	wg         sync.WaitGroup
}

// muxHandshakeTimeout bounds the first byte and the TLS handshake of a connection.
const muxHandshakeTimeout = 10 * time.Second

func newGRPCMux(lis net.Listener, agentTLS, apiTLS *tls.Config, log *slog.Logger) *grpcMux {
	return &grpcMux{lis: lis, agentTLS: agentTLS, apiTLS: apiTLS, log: log,
		agent: newChanListener(lis.Addr()), api: newChanListener(lis.Addr())}
}

// serve accepts until the listener closes, then closes both server listeners.
func (m *grpcMux) serve() {
	defer func() {
		m.wg.Wait()
		m.agent.Close()
		m.api.Close()
	}()
	for {
		c, err := m.lis.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.route(c)
		}()
	}
}

func (m *grpcMux) route(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(muxHandshakeTimeout))
	br := bufio.NewReader(c)
	first, err := br.Peek(1)
	if err != nil {
		c.Close()
		return
	}
	pc := &peekedConn{Conn: c, r: br}
	if first[0] != 0x16 { // not TLS
		if m.apiTLS != nil {
			m.log.Debug("closing a plaintext connection to the TLS gRPC port", "remote", c.RemoteAddr().String())
			c.Close()
			return
		}
		_ = c.SetDeadline(time.Time{})
		m.api.push(pc)
		return
	}
	toAgent := false
	cfg := &tls.Config{GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if hello.ServerName == agentgw.ServerName || m.apiTLS == nil {
			toAgent = true
			return m.agentTLS, nil
		}
		return m.apiTLS, nil
	}}
	tc := tls.Server(pc, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), muxHandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		m.log.Debug("TLS handshake on the gRPC port failed", "remote", c.RemoteAddr().String(), "error", err.Error())
		c.Close()
		return
	}
	_ = c.SetDeadline(time.Time{})
	if toAgent {
		m.agent.push(tc)
	} else {
		m.api.push(tc)
	}
}

// peekedConn is a connection whose first bytes were read into r.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (p *peekedConn) Read(b []byte) (int, error) { return p.r.Read(b) }

// chanListener is a net.Listener fed by grpcMux.
type chanListener struct {
	addr   net.Addr
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *chanListener) push(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.closed:
		c.Close()
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }

// handshaken are the transport credentials of a gRPC server whose connections grpcMux
// already secured (or left plaintext): a *tls.Conn's handshake becomes the peer's
// credentials.TLSInfo.
type handshaken struct{}

func (handshaken) ClientHandshake(context.Context, string, net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errors.New("server-side credentials only")
}

func (handshaken) ServerHandshake(c net.Conn) (net.Conn, credentials.AuthInfo, error) {
	if tc, ok := c.(*tls.Conn); ok {
		return c, credentials.TLSInfo{State: tc.ConnectionState(),
			CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}}, nil
	}
	return c, insecureInfo{}, nil
}

func (handshaken) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "tls"}
}
func (handshaken) Clone() credentials.TransportCredentials { return handshaken{} }
func (handshaken) OverrideServerName(string) error         { return nil }

// insecureInfo is the AuthInfo of a plaintext connection.
type insecureInfo struct{ credentials.CommonAuthInfo }

func (insecureInfo) AuthType() string { return "insecure" }
