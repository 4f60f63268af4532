package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/awningproxy/awning/admin"
	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/state"
)

// TestMistypedCommand: a subcommand that does not exist is an error with
// what was probably meant, at every level; a group given no subcommand
// still prints its help.
func TestMistypedCommand(t *testing.T) {
	tests := []struct {
		args []string
		want string // in the error; "" for success
	}{
		{[]string{"maintenance", "stauts"}, `unknown command "stauts" for "awning maintenance"; did you mean status?`},
		{[]string{"mantenance", "status"}, `unknown command "mantenance" for "awning"; did you mean maintenance?`},
		{[]string{"page", "sett", "--site", "x"}, `did you mean set?`},
		{[]string{"update", "lst"}, `did you mean list`},
		{[]string{"fallback", "relase"}, `did you mean release?`},
		{[]string{"token", "nwe"}, `did you mean new?`},
		{[]string{"maintenance", "frobnicate"}, "`awning maintenance --help` lists its commands"},
		{[]string{"maintenance"}, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), tt.args, &out, io.Discard)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("error %v; want the group's help", err)
			case tt.want == "" && !strings.Contains(out.String(), "Available Commands"):
				t.Errorf("printed %q; want the group's help", out.String())
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v; want %q", err, tt.want)
			}
		})
	}
}

// TestMistypedCommandExitStatus: the binary exits non-zero, saying so on
// stderr.
func TestMistypedCommandExitStatus(t *testing.T) {
	var stderr bytes.Buffer
	cmd := exec.Command(binary(t), "maintenance", "stauts")
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("exit: %v; want status 1", err)
	}
	if !strings.Contains(stderr.String(), "did you mean status?") {
		t.Errorf("stderr %q lacks the suggestion", stderr.String())
	}
}

// TestUsageErrors: a missing argument or a bad flag names the command it
// is about and how that command is used, not only cobra's "accepts 1
// arg(s), received 0".
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"update", "retract", "--site", "bakkerij"}, "update retract: accepts 1 arg(s), received 0; usage: awning update retract ID"},
		{[]string{"check-config"}, "check-config: accepts 1 arg(s), received 0; usage: awning check-config FILE"},
		{[]string{"token", "revoke"}, "usage: awning token revoke NAME"},
		{[]string{"maintenance", "on", "--sit", "x"}, "maintenance on: unknown flag: --sit; usage: awning maintenance on [flags]"},
		{[]string{"page", "preview", "--mode"}, "page preview: flag needs an argument: --mode"},
		{[]string{"--bogus"}, "unknown flag: --bogus; usage: awning [flags]"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			err := run(context.Background(), tt.args, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v; want %q", err, tt.want)
			}
		})
	}
}

// TestReportConfigProblems: configuration problems are written one a line
// with nothing before the file name (editors and CI logs link each), then
// how many there were; any other error gets the "awning:" prefix.
func TestReportConfigProblems(t *testing.T) {
	errs := config.Errors{
		{File: "a.yaml", Line: 1, Column: 48, Path: "listen.bogus", Msg: `unknown key "bogus"`},
		{File: "a.yaml", Line: 2, Column: 13, Path: "tls.mode", Msg: `want acme, self-signed or off, got "offf"`},
	}
	var b bytes.Buffer
	report(&b, errs)
	want := "a.yaml:1:48: listen.bogus: unknown key \"bogus\"\n" +
		"a.yaml:2:13: tls.mode: want acme, self-signed or off, got \"offf\"\n" +
		"awning: 2 problems in the configuration\n"
	if b.String() != want {
		t.Errorf("report wrote\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	report(&b, errors.New("read config: open x.yaml: no such file or directory"))
	if got := b.String(); got != "awning: read config: open x.yaml: no such file or directory\n" {
		t.Errorf("report wrote %q", got)
	}
}

// TestShoppersColumn: maintenance status says what shoppers get; in
// read-only maintenance they browse copies, and only ordering gets the
// maintenance page.
func TestShoppersColumn(t *testing.T) {
	active := func(mode string) *admin.MaintenanceView {
		return &admin.MaintenanceView{Maintenance: state.Maintenance{Enabled: true, Mode: mode}, Active: true}
	}
	for _, tt := range []struct {
		v    admin.SiteView
		want string
	}{
		{admin.SiteView{Open: true}, "open"},
		{admin.SiteView{Open: true, Maintenance: active("")}, "maintenance page"},
		{admin.SiteView{Open: true, Maintenance: active("full")}, "maintenance page"},
		{admin.SiteView{Open: true, Maintenance: active("read-only")}, "copies, ordering paused"},
		{admin.SiteView{Open: true, ForceFallback: true}, "fallback (forced)"},
		{admin.SiteView{}, "fallback (origin down)"},
	} {
		if got := shoppers(tt.v); got != tt.want {
			t.Errorf("shoppers(%+v) = %q; want %q", tt.v, got, tt.want)
		}
	}
}

// TestPageSetNeedsAChange: page set with nothing to set is an error, not
// "Branding updated", and reaches no admin API.
func TestPageSetNeedsAChange(t *testing.T) {
	err := run(context.Background(), []string{"page", "set", "--site", "bakkerij", "--admin", "http://127.0.0.1:1", "--token", "x"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "page set: nothing to change") {
		t.Errorf("error %v; want nothing to change", err)
	}
}
