package summary_test

import (
	"testing"

	"github.com/asyncbench/asyncbench/loadgen"
	"github.com/asyncbench/asyncbench/loadgen/summary"
)

// TestErrorKindConnect: the summary's key for connect errors is the name
// the generator counts them under.
func TestErrorKindConnect(t *testing.T) {
	if got := loadgen.ErrConnect.String(); got != summary.ErrorKindConnect {
		t.Fatalf("loadgen names connect errors %q, summary %q", got, summary.ErrorKindConnect)
	}
}

// TestTooManyErrors: more than FailErrorPercent of the attempts, exactly:
// 100 × errors > attempts at 1%, also where the share is exactly 1%.
func TestTooManyErrors(t *testing.T) {
	if summary.FailErrorPercent != 1 {
		t.Skip("the exact comparison below is written for 1%")
	}
	for total := uint64(1); total <= 20000; total++ {
		for _, errs := range []uint64{total/100 - 1, total / 100, total/100 + 1, total} {
			if errs > total {
				continue
			}
			want := 100*errs > total
			if got := summary.TooManyErrors(total-errs, errs); got != want {
				t.Fatalf("%d errors of %d attempts: %v, want %v", errs, total, got, want)
			}
		}
	}
}
