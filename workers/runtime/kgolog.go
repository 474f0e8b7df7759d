package runtime

import (
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"
)

// KgoLogger adapts slog to franz-go's logger at warn level and above, for the Kafka clients of
// tasks.
func KgoLogger(l *slog.Logger) kgo.Logger { return kgoSlog{l} }

type kgoSlog struct{ l *slog.Logger }

func (k kgoSlog) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (k kgoSlog) Log(level kgo.LogLevel, msg string, kv ...any) {
	if level == kgo.LogLevelError {
		k.l.Error(msg, kv...)
		return
	}
	k.l.Warn(msg, kv...)
}
