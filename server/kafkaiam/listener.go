package kafkaiam

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kfake speaks SASL PLAIN and SCRAM only. The gate sits between each connection and kfake
// (kfake.ListenFn): it terminates TLS, answers SaslHandshake itself for every mechanism but
// AWS_MSK_IAM (UNSUPPORTED_SASL_MECHANISM, then the connection is closed, as Kafka does),
// verifies the AWS_MSK_IAM SaslAuthenticate payload, and only then logs the connection in to
// kfake as an internal PLAIN superuser whose random password never leaves the process (the
// handshake and authenticate requests are rewritten, and kfake's empty PLAIN answer becomes
// MSK's JSON answer). kfake runs with EnableSASL, so a connection that did not pass the gate
// can send nothing but ApiVersions and the SASL requests: anything else closes it.

// Options are the kfake options of a cluster that requires AWS_MSK_IAM over TLS (tlsCfg nil:
// over plain TCP).
func Options(v *Verifier, tlsCfg *tls.Config, log *slog.Logger) []kfake.Opt {
	return NewGate(v, tlsCfg, log).Options()
}

// Gate wraps a cluster's listeners.
type Gate struct {
	v          *Verifier
	tls        *tls.Config
	log        *slog.Logger
	user, pass string
	// Accepted and Refused count authentications (tests).
	Accepted, Refused atomic.Int64
}

// Options are the kfake options that put g in front of a cluster.
func (g *Gate) Options() []kfake.Opt {
	return []kfake.Opt{kfake.EnableSASL(), kfake.Superuser("PLAIN", g.user, g.pass), kfake.ListenFn(g.Listen)}
}

// NewGate makes the gate of one cluster with a fresh internal user.
func NewGate(v *Verifier, tlsCfg *tls.Config, log *slog.Logger) *Gate {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return &Gate{v: v, tls: tlsCfg, log: log, user: "fjord-iam-" + hex.EncodeToString(b[:4]), pass: hex.EncodeToString(b)}
}

// Listen is kfake's ListenFn.
func (g *Gate) Listen(network, addr string) (net.Listener, error) {
	l, err := net.Listen(network, addr)
	if err != nil {
		return nil, err
	}
	return &listener{Listener: l, g: g}, nil
}

type listener struct {
	net.Listener
	g *Gate
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if l.g.tls != nil {
		c = tls.Server(c, l.g.tls)
	}
	return &conn{Conn: c, g: l.g}, nil
}

// conn is one client connection as kfake sees it.
type conn struct {
	net.Conn
	g *Gate

	in     []byte // rewritten bytes for kfake to read
	authed atomic.Bool
	iam    bool // the client's handshake chose AWS_MSK_IAM
	wmu    sync.Mutex
	fix    map[int32]int16 // answers to rewrite: correlation id → request key (under wmu)
	vers   map[int32]int16 // their request versions
	wbuf   []byte
}

// expect notes an answer of kfake's to rewrite.
func (c *conn) expect(h header) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.fix == nil {
		c.fix, c.vers = map[int32]int16{}, map[int32]int16{}
	}
	c.fix[h.corr], c.vers[h.corr] = h.key, h.version
}

func (c *conn) Read(p []byte) (int, error) {
	for len(c.in) == 0 {
		if c.authed.Load() {
			return c.Conn.Read(p)
		}
		frame, err := readFrame(c.Conn)
		if err != nil {
			return 0, err
		}
		out, err := c.gate(frame)
		if err != nil {
			c.Conn.Close()
			return 0, err
		}
		c.in = out
	}
	n := copy(p, c.in)
	c.in = c.in[n:]
	return n, nil
}

func readFrame(r io.Reader) ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n > 100<<20 {
		return nil, errors.New("kafkaiam: request too large before authentication")
	}
	frame := make([]byte, 4+n)
	copy(frame, size[:])
	_, err := io.ReadFull(r, frame[4:])
	return frame, err
}

// header is a request header (v1, or v2 with tagged fields).
type header struct {
	key, version int16
	corr         int32
	clientID     []byte
	bodyAt       int // offset of the body in the frame
}

func parseHeader(frame []byte) (header, bool) {
	b := frame[4:]
	if len(b) < 10 {
		return header{}, false
	}
	h := header{key: int16(binary.BigEndian.Uint16(b)), version: int16(binary.BigEndian.Uint16(b[2:])), corr: int32(binary.BigEndian.Uint32(b[4:]))}
	i := 8
	l := int16(binary.BigEndian.Uint16(b[i:]))
	i += 2
	if l > 0 {
		if len(b) < i+int(l) {
			return header{}, false
		}
		h.clientID = b[i : i+int(l)]
		i += int(l)
	}
	req := kmsg.RequestForKey(h.key)
	if req != nil {
		req.SetVersion(h.version)
		if req.IsFlexible() {
			n, w := binary.Uvarint(b[i:])
			if w <= 0 {
				return header{}, false
			}
			i += w
			for ; n > 0; n-- {
				_, w := binary.Uvarint(b[i:])
				if w <= 0 {
					return header{}, false
				}
				i += w
				size, w2 := binary.Uvarint(b[i:])
				if w2 <= 0 || len(b) < i+w2+int(size) {
					return header{}, false
				}
				i += w2 + int(size)
			}
		}
	}
	h.bodyAt = 4 + i
	return h, true
}

// gate handles one request of a connection that has not authenticated: it returns the bytes
// kfake reads, or an error after answering the client itself (the connection is closed).
func (c *conn) gate(frame []byte) ([]byte, error) {
	h, ok := parseHeader(frame)
	if !ok {
		return nil, errors.New("kafkaiam: malformed request header")
	}
	switch h.key {
	case int16(kmsg.SASLHandshake):
		req := kmsg.NewPtrSASLHandshakeRequest()
		req.SetVersion(h.version)
		if err := req.ReadFrom(frame[h.bodyAt:]); err != nil {
			return nil, err
		}
		if req.Mechanism != Mechanism || c.iam || h.version < 1 {
			resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
			resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
			resp.SupportedMechanisms = []string{Mechanism}
			if c.iam || (h.version < 1 && req.Mechanism == Mechanism) {
				resp.ErrorCode = kerr.IllegalSaslState.Code // v0 handshakes (unframed tokens) are not served
			}
			c.g.Refused.Add(1)
			c.g.log.Info("AWS_MSK_IAM cluster refused a SASL mechanism", "mechanism", req.Mechanism, "client", c.RemoteAddr().String())
			c.respond(h, resp)
			return nil, errClosed
		}
		c.iam = true
		req.Mechanism = "PLAIN"
		return rebuild(h, req), nil
	case int16(kmsg.SASLAuthenticate):
		req := kmsg.NewPtrSASLAuthenticateRequest()
		req.SetVersion(h.version)
		if err := req.ReadFrom(frame[h.bodyAt:]); err != nil {
			return nil, err
		}
		if !c.iam {
			return frame, nil // kfake refuses it: no handshake
		}
		cred, err := c.g.v.Verify(context.Background(), req.SASLAuthBytes)
		if err != nil {
			c.g.Refused.Add(1)
			c.g.log.Info("AWS_MSK_IAM authentication refused", "client", c.RemoteAddr().String(), "reason", err.Error())
			resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
			resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
			msg := "[" + randomID() + "] Access denied: " + err.Error()
			resp.ErrorMessage = &msg
			c.respond(h, resp)
			return nil, errClosed
		}
		c.g.Accepted.Add(1)
		c.g.log.Debug("AWS_MSK_IAM connection authenticated", "principal", cred.Principal, "client", c.RemoteAddr().String())
		if !cred.Expires.IsZero() {
			// The session ends with its credentials (kfake does not re-authenticate).
			time.AfterFunc(time.Until(cred.Expires), func() { c.Conn.Close() })
		}
		req.SASLAuthBytes = []byte("\x00" + c.g.user + "\x00" + c.g.pass)
		c.expect(h)
		c.authed.Store(true)
		return rebuild(h, req), nil
	case int16(kmsg.ApiVersions):
		// kfake lists SaslHandshake from v1; Kafka (and MSK) from v0, which librdkafka
		// requires before it tries any mechanism.
		c.expect(h)
	}
	return frame, nil // kfake refuses anything but ApiVersions before SASL
}

// rebuild re-encodes a request with the original header.
func rebuild(h header, req kmsg.Request) []byte {
	b := make([]byte, 4, 64)
	b = binary.BigEndian.AppendUint16(b, uint16(h.key))
	b = binary.BigEndian.AppendUint16(b, uint16(h.version))
	b = binary.BigEndian.AppendUint32(b, uint32(h.corr))
	if h.clientID == nil {
		b = binary.BigEndian.AppendUint16(b, 0xffff)
	} else {
		b = binary.BigEndian.AppendUint16(b, uint16(len(h.clientID)))
		b = append(b, h.clientID...)
	}
	if req.IsFlexible() {
		b = append(b, 0)
	}
	b = req.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// respond writes an answer of the gate's own.
func (c *conn) respond(h header, resp kmsg.Response) {
	b := make([]byte, 8, 64)
	binary.BigEndian.PutUint32(b[4:], uint32(h.corr))
	if resp.IsFlexible() {
		b = append(b, 0)
	}
	b = resp.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, _ = c.Conn.Write(b)
}

// Write passes kfake's answers, turning its answer to the rewritten authenticate into MSK's
// and listing SaslHandshake from v0 in its ApiVersions answers.
func (c *conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if len(c.fix) == 0 && len(c.wbuf) == 0 {
		return c.Conn.Write(p)
	}
	c.wbuf = append(c.wbuf, p...)
	for len(c.wbuf) >= 8 {
		n := int(binary.BigEndian.Uint32(c.wbuf))
		if len(c.wbuf) < 4+n {
			break
		}
		frame := c.wbuf[:4+n]
		corr := int32(binary.BigEndian.Uint32(frame[4:]))
		if key, ok := c.fix[corr]; ok {
			switch key {
			case int16(kmsg.SASLAuthenticate):
				frame = mskAnswer(frame, c.vers[corr])
			case int16(kmsg.ApiVersions):
				frame = saslV0(frame, c.vers[corr])
			}
			delete(c.fix, corr)
			delete(c.vers, corr)
		}
		if _, err := c.Conn.Write(frame); err != nil {
			return 0, err
		}
		c.wbuf = c.wbuf[4+n:]
	}
	if len(c.wbuf) == 0 {
		c.wbuf = nil
	}
	return len(p), nil
}

// mskAnswer replaces the auth bytes of kfake's SaslAuthenticate answer with MSK's JSON.
func mskAnswer(frame []byte, version int16) []byte {
	resp := kmsg.NewPtrSASLAuthenticateResponse()
	resp.SetVersion(version)
	at := 8
	if resp.IsFlexible() {
		at++ // empty tagged fields of the response header
	}
	if err := resp.ReadFrom(frame[at:]); err != nil || resp.ErrorCode != 0 {
		return frame
	}
	answer, _ := json.Marshal(map[string]string{"version": "2020_10_22", "request-id": randomID()})
	resp.SASLAuthBytes = answer
	return reframe(frame[:at], resp)
}

// saslV0 lists SaslHandshake from v0 in an ApiVersions answer (its header never has tags).
func saslV0(frame []byte, version int16) []byte {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(version)
	if err := resp.ReadFrom(frame[8:]); err != nil || resp.ErrorCode != 0 {
		return frame
	}
	for i := range resp.ApiKeys {
		if resp.ApiKeys[i].ApiKey == int16(kmsg.SASLHandshake) {
			resp.ApiKeys[i].MinVersion = 0
		}
	}
	return reframe(frame[:8], resp)
}

func reframe(head []byte, resp kmsg.Response) []byte {
	b := append([]byte(nil), head...)
	b = resp.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
