package cli

import (
	"errors"
	"flag"
	"fmt"
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
