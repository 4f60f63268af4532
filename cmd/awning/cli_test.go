package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
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
