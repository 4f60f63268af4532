package node

import (
	"io"
	"log/slog"

	"github.com/awningproxy/awning/config"
)

// NewLogger returns the process logger for cfg, writing to w. Its level is
// held in level, so a reload can change it.
func NewLogger(cfg config.Log, w io.Writer, level *slog.LevelVar) *slog.Logger {
	level.Set(parseLevel(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func parseLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}
