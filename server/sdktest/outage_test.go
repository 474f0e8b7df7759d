package sdktest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"
	"github.com/aws/smithy-go"

	"github.com/fjord-io/fjord/server/servertest"
	"github.com/fjord-io/fjord/store/pgtest"
)

// TestDatabaseOutage: while Postgres is down the API answers 503 ServiceUnavailableException
// (AWS-shaped, retried by the SDKs) — never a 500 — and it recovers by itself once the
// database is back.
func TestDatabaseOutage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pg := pgtest.StartRestartable(t)
	env := servertest.Start(t, servertest.Options{DatabaseURL: pg.URL()})
	kc := kafkaconnect.NewFromConfig(env.AWSConfig(servertest.AccessKey, servertest.SecretKey), func(o *kafkaconnect.Options) {
		o.RetryMaxAttempts = 1 // see every answer
	})
	list := func() error {
		_, err := kc.ListWorkerConfigurations(ctx, &kafkaconnect.ListWorkerConfigurationsInput{})
		return err
	}
	if err := list(); err != nil {
		t.Fatalf("before the outage: %v", err)
	}

	pg.Stop()
	for i := range 3 {
		err := list()
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != "ServiceUnavailableException" {
			t.Fatalf("call %d during the outage: %v, want ServiceUnavailableException", i, err)
		}
	}

	pg.Start()
	back := time.Now()
	for {
		err := list()
		if err == nil {
			t.Logf("answering again %.2f s after the database came back", time.Since(back).Seconds())
			break
		}
		if time.Since(back) > 15*time.Second {
			t.Fatalf("still failing 15 s after the database came back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
