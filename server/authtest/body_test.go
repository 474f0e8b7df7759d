package authtest

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fjord-io/fjord/server/servertest"
)

// TestRefusedBeforeTheBody: an unsigned request, or one signed with an unknown key, is refused
// from its headers alone — the server answers while the client has sent only the first bytes
// of a 10 MB body, so a flood of such requests costs no body reads.
func TestRefusedBeforeTheBody(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	addr := strings.TrimPrefix(env.URL, "http://")
	for name, auth := range map[string]string{
		"unsigned": "",
		"unknown key": "Authorization: AWS4-HMAC-SHA256 Credential=AKIDNOSUCHKEY/" + time.Now().UTC().Format("20060102") +
			"/us-east-1/kafkaconnect/aws4_request, SignedHeaders=host;x-amz-date, Signature=00\r\n" +
			"X-Amz-Date: " + time.Now().UTC().Format("20060102T150405Z") + "\r\n",
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		req := "POST /v1/connectors HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\n" + auth +
			"Content-Length: 10000000\r\n\r\n{\"connectorName\":"
		if _, err := conn.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: no answer before the body: %v", name, err)
		}
		want := map[string]string{"unsigned": "MissingAuthenticationTokenException", "unknown key": "UnrecognizedClientException"}[name]
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") != want {
			t.Errorf("%s: %d %s, want 403 %s", name, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), want)
		}
		conn.Close()
	}
}
