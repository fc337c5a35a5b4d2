package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"testing"
)

func TestCode(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{flag.ErrHelp, ExitOK},
		{&UsageError{Err: flag.ErrHelp}, ExitOK},
		{Usagef("bad -c %d", -1), ExitUsage},
		{fmt.Errorf("loadgen: %w", Usagef("x")), ExitUsage},
		{&ExitError{Code: ExitSaturated, Err: errors.New("saturated")}, ExitSaturated},
		{fmt.Errorf("wrapped: %w", &ExitError{Code: ExitFailed, Err: errors.New("no request succeeded")}), ExitFailed},
		{errors.New("connect: refused"), ExitFailure},
	}
	for _, tt := range tests {
		if got := Code(tt.err); got != tt.want {
			t.Errorf("Code(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestUsagefWraps(t *testing.T) {
	base := errors.New("base")
	err := Usagef("bench run: %w", base)
	if !errors.Is(err, base) || err.Error() != "bench run: base" {
		t.Fatalf("Usagef = %v", err)
	}
}

func TestHintfWraps(t *testing.T) {
	base := errors.New("base")
	err := Hintf("bench run", "run: %w", base)
	if !errors.Is(err, base) || Code(err) != ExitUsage || err.Error() != "run: base (see bench run -h)" {
		t.Fatalf("Hintf = %v (exit %d)", err, Code(err))
	}
}

// TestParse: -h prints the usage on stdout and exits 0; a bad flag or value
// is one line with the hint, exit 2, nothing on stdout; good flags parse.
func TestParse(t *testing.T) {
	newFS := func() (*flag.FlagSet, *int) {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		n := fs.Int("n", 1, "how many")
		fs.Usage = func() {
			fmt.Fprintln(fs.Output(), "usage: x [-n N]")
			fs.PrintDefaults()
		}
		return fs, n
	}
	for _, h := range []string{"-h", "-help", "--help"} {
		fs, _ := newFS()
		var stdout bytes.Buffer
		err := Parse(fs, []string{h}, &stdout, "x")
		if !errors.Is(err, flag.ErrHelp) || Code(err) != ExitOK {
			t.Fatalf("%s: err %v (exit %d)", h, err, Code(err))
		}
		if out := stdout.String(); !strings.HasPrefix(out, "usage: x [-n N]\n") || !strings.Contains(out, "-n int") || !strings.Contains(out, "how many") {
			t.Fatalf("%s: stdout %q", h, out)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-bogus"}, "flag provided but not defined: -bogus (see x -h)"},
		{[]string{"-n", "many"}, `invalid value "many" for flag -n: parse error (see x -h)`},
	} {
		fs, _ := newFS()
		var stdout bytes.Buffer
		err := Parse(fs, tc.args, &stdout, "x")
		if Code(err) != ExitUsage || err.Error() != tc.want || stdout.Len() != 0 {
			t.Fatalf("%v: err %q (exit %d), stdout %q; want %q", tc.args, err, Code(err), stdout.String(), tc.want)
		}
	}
	fs, n := newFS()
	if err := Parse(fs, []string{"-n", "3", "rest"}, io.Discard, "x"); err != nil || *n != 3 || fs.Arg(0) != "rest" {
		t.Fatalf("err %v, n %d, args %q", err, *n, fs.Args())
	}
}

func TestExit(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
		out  string
	}{
		{nil, ExitOK, ""},
		{flag.ErrHelp, ExitOK, ""},
		{Hintf("x", "flag provided but not defined: -y"), ExitUsage, "x: flag provided but not defined: -y (see x -h)\n"},
		{errors.New("connect: refused"), ExitFailure, "x: connect: refused\n"},
		{&ExitError{Code: ExitFailed, Err: errors.New("no request succeeded")}, ExitFailed, "x: no request succeeded\n"},
	} {
		var stderr bytes.Buffer
		if code := Exit(&stderr, "x", tc.err); code != tc.code || stderr.String() != tc.out {
			t.Errorf("Exit(%v) = %d, stderr %q; want %d, %q", tc.err, code, stderr.String(), tc.code, tc.out)
		}
	}
}
