package runtime

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fjord-io/fjord/workers/catalog"
)

// clusterHealth is what a task knows of whether one cluster answers it: when a request last
// succeeded, when the trouble since began, and the last failure.
type clusterHealth struct {
	okAt     atomic.Int64 // Unix nanoseconds of the last successful request
	failFrom atomic.Int64 // Unix nanoseconds of the first failure after okAt (0: none)

	mu     sync.Mutex
	name   string // e.g. `source cluster "src" (127.0.0.1:9092)`
	code   string
	broker string
	err    string
}

// NameCluster names cluster c in health messages: which cluster and how it is configured.
func (m *TaskMetrics) NameCluster(c Cluster, name string) {
	h := &m.health[c]
	h.mu.Lock()
	h.name = name
	h.mu.Unlock()
}

// ClusterOK records a request a client of the task completed with cluster c.
func (m *TaskMetrics) ClusterOK(c Cluster) {
	h := &m.health[c]
	h.okAt.Store(time.Now().UnixNano())
	if h.failFrom.Load() != 0 {
		h.failFrom.Store(0)
	}
}

// ClusterFailed records a failed connection or request of a client of the task with broker
// of cluster c: a DNS name that does not resolve (DNS_RESOLUTION_FAILED), a refused identity
// (AUTHENTICATION_FAILED, auth true), anything else (CLUSTER_UNREACHABLE).
func (m *TaskMetrics) ClusterFailed(c Cluster, broker string, err error, auth bool) {
	if err == nil {
		return
	}
	h := &m.health[c]
	now := time.Now().UnixNano()
	if f := h.failFrom.Load(); f == 0 || f < h.okAt.Load() {
		h.failFrom.Store(now)
	}
	code := catalog.CodeClusterUnreachable
	var dns *net.DNSError
	switch {
	case auth:
		code = catalog.CodeAuthenticationFailed
	case errors.As(err, &dns):
		code = catalog.CodeDNSResolutionFailed
	}
	h.mu.Lock()
	h.code, h.broker, h.err = code, broker, err.Error()
	h.mu.Unlock()
}

// Health is the task's cluster trouble: the first cluster that has failed every request since
// some time, as "CODE: message" and when it began ("" and the zero time while every cluster
// answers).
func (m *TaskMetrics) Health(now time.Time) (string, time.Time) {
	for c := range m.health {
		h := &m.health[c]
		from := h.failFrom.Load()
		if from == 0 || from < h.okAt.Load() {
			continue
		}
		h.mu.Lock()
		name, code, broker, msg := h.name, h.code, h.broker, h.err
		h.mu.Unlock()
		if name == "" {
			name = Cluster(c).String() + " cluster"
		}
		since := time.Unix(0, from)
		what := "has not answered"
		switch code {
		case catalog.CodeAuthenticationFailed:
			what = "has refused the task's credentials"
		case catalog.CodeDNSResolutionFailed:
			what = "has had a broker name that does not resolve"
		}
		return fmt.Sprintf("%s: the %s %s for %s (broker %s): %s", code, name, what,
			now.Sub(since).Round(time.Second), broker, msg), since
	}
	return "", time.Time{}
}
