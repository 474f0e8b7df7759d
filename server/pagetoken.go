package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/fjord-io/fjord/server/apierr"
)

// pageTokens mints and checks nextToken values. A token is base64url(JSON position) "."
// base64url(HMAC-SHA256): opaque to clients and tamper-evident. The HMAC key is derived from
// the at-rest encryption key, so every server replica accepts every other's tokens, and a token
// is bound to the list (kind), the account and the filter that produced it.
type pageTokens struct {
	key []byte
}

func newPageTokens(secret []byte) *pageTokens {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("fjord page tokens v1"))
	return &pageTokens{key: m.Sum(nil)}
}

// pagePosition is where a list continues.
type pagePosition struct {
	Kind    string `json:"k"`
	Account string `json:"a"`
	Filter  string `json:"f,omitempty"`
	Name    string `json:"n,omitempty"`
	ARN     string `json:"r,omitempty"`
	Time    int64  `json:"t,omitempty"`
	// ID is the last row id a page returned (workload events).
	ID int64 `json:"i,omitempty"`
}

func (p *pageTokens) mint(pos pagePosition) string {
	body, _ := json.Marshal(pos)
	m := hmac.New(sha256.New, p.key)
	m.Write(body)
	return base64.RawURLEncoding.EncodeToString(body) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// open checks a token against the list, account and filter it must belong to.
func (p *pageTokens) open(token, kind, account, filter string) (pagePosition, error) {
	bad := apierr.BadRequest("nextToken", "The nextToken is not valid for this request.")
	b64, sig, ok := strings.Cut(token, ".")
	if !ok {
		return pagePosition{}, bad
	}
	body, err1 := base64.RawURLEncoding.DecodeString(b64)
	mac, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil {
		return pagePosition{}, bad
	}
	m := hmac.New(sha256.New, p.key)
	m.Write(body)
	if !hmac.Equal(mac, m.Sum(nil)) {
		return pagePosition{}, bad
	}
	var pos pagePosition
	if err := json.Unmarshal(body, &pos); err != nil || pos.Kind != kind || pos.Account != account || pos.Filter != filter {
		return pagePosition{}, bad
	}
	return pos, nil
}
