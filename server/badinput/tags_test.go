package badinput

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/fjord-io/fjord/server/servertest"
	"github.com/fjord-io/fjord/store"
)

// TestTagResourceBounds: TagResource and UntagResource check the request's own bounds before
// the resource is looked up (an unknown ARN still answers 400 naming the member, not 404), and
// a TagResource that would leave a resource with more than 50 tags is refused with nothing
// written, on both services' resources.
func TestTagResourceBounds(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	f := setup(t, env)
	r := send(t, env, http.MethodPost, "/v1/worker-configurations", "kafkaconnect", marshal(body{
		"name": "tagged", "propertiesFileContent": b64("key.converter=org.apache.kafka.connect.storage.StringConverter\n"),
		"tags": manyTags(store.MaxTags),
	}))
	if r.status != http.StatusOK {
		t.Fatalf("create with %d tags: %d %s", store.MaxTags, r.status, r.raw)
	}
	full := r.body["workerConfigurationArn"].(string)
	unknown := strings.Replace(f.workerConfigARN, "fixture-workers", "no-such-workers", 1)
	tagPath := func(arn string) string { return "/v1/tags/" + escape(arn) }

	for _, tc := range []struct {
		name string
		tags body
		want string
	}{
		{"51 tags", manyTags(51), "tags"},
		{"tag key of 129 characters", body{strings.Repeat("k", 129): "v"}, "tags"},
		{"tag key empty", body{"": "v"}, "tags"},
		{"tag value of 257 characters", body{"team": strings.Repeat("v", 257)}, "tags.team"},
		{"reserved prefix", body{"aws:x": "v"}, "tags"},
	} {
		for _, arn := range []string{f.pluginARN, unknown} {
			t.Run("TagResource/"+tc.name, func(t *testing.T) {
				badRequest(t, send(t, env, http.MethodPost, tagPath(arn), "kafkaconnect", marshal(body{"tags": tc.tags})), []string{tc.want})
			})
		}
	}
	for _, tc := range []struct {
		name string
		keys []string
	}{
		{"201 keys", func() []string {
			var k []string
			for i := range 201 {
				k = append(k, fmt.Sprint("k", i))
			}
			return k
		}()},
		{"key of 129 characters", []string{strings.Repeat("k", 129)}},
	} {
		q := url.Values{"tagKeys": tc.keys}
		for _, arn := range []string{f.pluginARN, unknown} {
			t.Run("UntagResource/"+tc.name, func(t *testing.T) {
				badRequest(t, send(t, env, http.MethodDelete, tagPath(arn)+"?"+q.Encode(), "kafkaconnect", nil), []string{"tagKeys"})
			})
		}
	}

	tags := func(arn string) map[string]any {
		t.Helper()
		r := send(t, env, http.MethodGet, tagPath(arn), "kafkaconnect", nil)
		if r.status != http.StatusOK {
			t.Fatalf("ListTagsForResource: %d %s", r.status, r.raw)
		}
		m, _ := r.body["tags"].(map[string]any)
		return m
	}
	// A resource with 50 tags takes no 51st, even in a request that also overwrites one: the
	// whole request is refused and nothing changes.
	before := tags(full)
	if len(before) != store.MaxTags {
		t.Fatalf("%d tags, want %d", len(before), store.MaxTags)
	}
	r = send(t, env, http.MethodPost, tagPath(full), "kafkaconnect", marshal(body{"tags": body{"key-000": "changed", "one-more": "v"}}))
	badRequest(t, r, []string{"tags"})
	if after := tags(full); !maps.Equal(before, after) {
		t.Fatalf("a refused TagResource changed the tags: %v", after)
	}
	// Overwriting existing keys stays within the limit.
	r = send(t, env, http.MethodPost, tagPath(full), "kafkaconnect", marshal(body{"tags": body{"key-000": "changed"}}))
	if r.status != http.StatusOK {
		t.Fatalf("overwrite a tag: %d %s", r.status, r.raw)
	}
	// 30 tags, then 21 more in one request: refused, the 30 stay.
	r = send(t, env, http.MethodPost, tagPath(f.pluginARN), "kafkaconnect", marshal(body{"tags": manyTags(30)}))
	if r.status != http.StatusOK {
		t.Fatalf("30 tags: %d %s", r.status, r.raw)
	}
	more := body{}
	for i := range 21 {
		more[fmt.Sprint("more-", i)] = "v"
	}
	badRequest(t, send(t, env, http.MethodPost, tagPath(f.pluginARN), "kafkaconnect", marshal(body{"tags": more})), []string{"tags"})
	if got := tags(f.pluginARN); len(got) != 30 {
		t.Fatalf("after a refused TagResource: %d tags, want 30", len(got))
	}
}
