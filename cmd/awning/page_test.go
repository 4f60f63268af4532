package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/demoshop"
)

func TestPagePreview(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "logo.png"), demoshop.Logo(), 0o644)
	cfg := filepath.Join(dir, "awning.yaml")
	os.WriteFile(cfg, []byte(`sites:
  - name: bakkerij
    hosts: [bakkerij.example]
    origin: {urls: ["http://127.0.0.1:8080"]}
    page: {brand: "Bakkerij de Vries", languages: [nl, en], logo: logo.png, timezone: Europe/Amsterdam}
  - name: winkel
    hosts: [winkel.example]
    origin: {urls: ["http://127.0.0.1:8081"]}
`), 0o600)
	tests := []struct {
		name string
		args []string
		want []string // in the output, or in the error when wantErr
		err  bool
	}{
		{"outage, main language", []string{"--site", "bakkerij"},
			[]string{`<html lang="nl">`, `<section lang="en"`, `src="data:image/png;base64,`, "We zijn zo terug"}, false},
		{"maintenance in English with an end", []string{"--site", "bakkerij", "--mode", "maintenance", "--lang", "en", "--end", "2025-01-14T16:00:00+01:00"},
			[]string{`<html lang="en">`, "We’re doing some maintenance", "Tuesday 14 January at 16:00 (CET)"}, false},
		{"read-only maintenance", []string{"--site", "bakkerij", "--mode", "maintenance", "--read-only"},
			[]string{"Bestellen kan even niet"}, false},
		{"end from now", []string{"--site", "bakkerij", "--mode", "maintenance", "--end", "2h"},
			[]string{`class="until"`}, false},
		{"unknown site", []string{"--site", "nope"}, []string{`--site: no site is named "nope"; the config has bakkerij, winkel`}, true},
		{"site required with several", nil, []string{"--site: the config has several sites; name one of bakkerij, winkel"}, true},
		{"language not spoken", []string{"--site", "bakkerij", "--lang", "de"}, []string{`--lang: site "bakkerij" speaks nl, en, not "de"`}, true},
		{"bad mode", []string{"--site", "bakkerij", "--mode", "closed"}, []string{`--mode: want outage or maintenance, got "closed"`}, true},
		{"end without maintenance", []string{"--site", "bakkerij", "--end", "2h"}, []string{"add --mode maintenance"}, true},
		{"bad end", []string{"--site", "bakkerij", "--mode", "maintenance", "--end", "soon"}, []string{`--end: want a time`}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			args := append([]string{"page", "preview", "--config", cfg}, tt.args...)
			err := run(context.Background(), args, &out, io.Discard)
			got := out.String()
			if tt.err {
				if err == nil {
					t.Fatalf("succeeded; want an error")
				}
				got = err.Error()
			} else if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("output lacks %q:\n%.400s", w, got)
				}
			}
		})
	}
}

func TestPagePreviewReportsConfigErrors(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "awning.yaml")
	os.WriteFile(cfg, []byte("sites:\n  - name: s\n    hosts: [s.example]\n    origin: {urls: [\"http://127.0.0.1:1\"]}\n    page: {languages: [nl, xx]}\n"), 0o600)
	err := run(context.Background(), []string{"page", "preview", "--config", cfg}, io.Discard, io.Discard)
	if err == nil || err.Error() != cfg+`:5:28: sites[0].page.languages[1]: no translations for "xx"; pages speak da, de, en, es, fr, it, nl, pl, sv` {
		t.Errorf("error = %v", err)
	}
}

func TestParseEnd(t *testing.T) {
	now := time.Date(2025, 1, 14, 12, 34, 56, 0, time.UTC)
	if got, _ := parseEnd("90m", now); !got.Equal(time.Date(2025, 1, 14, 14, 4, 0, 0, time.UTC)) {
		t.Errorf("parseEnd(90m) = %v", got)
	}
}
