package certs

import (
	"context"
	"log/slog"

	"go.uber.org/zap/zapcore"
)

// slogCore sends certmagic's zap logging to the node's slog logger, one
// level down for its routine steps: certmagic logs every step of every
// issuance ("acquiring lock", "trying to solve challenge") at info, which is
// Awning's debug. Warnings and errors keep their level, except the ones
// onEvent already logs once (an issuer's failure).
type slogCore struct {
	log   *slog.Logger
	attrs []any
}

func newSlogCore(log *slog.Logger) zapcore.Core {
	return &slogCore{log: log.With("component", "certmagic")}
}

// demoted lists certmagic error messages that an event already reports.
var demoted = map[string]bool{
	"could not get certificate from issuer": true,
	"will retry":                            true,
	"job failed":                            true,
	"challenge failed":                      true, // acmez, per challenge type tried
	"validating authorization":              true,
}

func level(l zapcore.Level, msg string) slog.Level {
	switch {
	case l >= zapcore.ErrorLevel && !demoted[msg]:
		return slog.LevelError
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	default:
		return slog.LevelDebug
	}
}

func (c *slogCore) Enabled(l zapcore.Level) bool {
	return c.log.Enabled(context.Background(), level(l, ""))
}

func (c *slogCore) With(fields []zapcore.Field) zapcore.Core {
	return &slogCore{log: c.log, attrs: append(append([]any(nil), c.attrs...), attrsOf(fields)...)}
}

func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.log.Enabled(context.Background(), level(e.Level, e.Message)) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	args := append(append([]any(nil), c.attrs...), attrsOf(fields)...)
	if e.LoggerName != "" {
		args = append(args, "logger", e.LoggerName)
	}
	c.log.Log(context.Background(), level(e.Level, e.Message), e.Message, args...)
	return nil
}

func (c *slogCore) Sync() error { return nil }

func attrsOf(fields []zapcore.Field) []any {
	if len(fields) == 0 {
		return nil
	}
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(enc)
	}
	out := make([]any, 0, 2*len(enc.Fields))
	for k, v := range enc.Fields {
		out = append(out, k, v)
	}
	return out
}
