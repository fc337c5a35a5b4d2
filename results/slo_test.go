package results

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestSLOFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	rate, p99, low, lo, hi, runs, closeCall := 31_250.5, int64(912), 31_000.0, int64(850), int64(1010), 3, true
	uLow, uHigh := 30_500.0, 33_000.0
	rows := []SLORow{
		{Backend: "gnet", Workload: "plaintext", Conns: 64, TargetP99Us: 1000, MaxRate: &rate, P99AtMaxUs: &p99, BracketLow: &low, Steps: 9, Reason: "confirmed, by a second run",
			P99LoUs: &lo, P99HiUs: &hi, Runs: &runs, Close: &closeCall, UndecidedLow: &uLow, UndecidedHigh: &uHigh},
		{Backend: "threads", Workload: "delay:1000", Conns: 1024, TargetP99Us: 1000, Steps: 4, Reason: "capacity probe failed (\"timeouts\")"},
	}
	if err := WriteSLOFile(filepath.Join(dir, SLOFile), rows); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, SLOFile)); err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode: %v %v", fi.Mode(), err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, SLOFile))
	if first := strings.SplitN(string(data), "\n", 2)[0]; first != "backend,workload,conns,target_p99_us,max_rate,p99_at_max_us,bracket_low,bracket_high,steps,reason,p99_lo_us,p99_hi_us,runs,close,undecided_low,undecided_high" {
		t.Fatalf("header %q", first)
	}
	if !strings.Contains(string(data), "gnet,plaintext,64,1000,31250.5,912,31000,,9,\"confirmed, by a second run\",850,1010,3,true,30500,33000\n") ||
		!strings.Contains(string(data), "threads,delay:1000,1024,1000,,,,,4,\"capacity probe failed (\"\"timeouts\"\")\",,,,,,\n") {
		t.Fatalf("empty optional columns: %s", data)
	}
	back, err := ReadSLOFile(dir, io.Discard)
	if err != nil || !reflect.DeepEqual(back, rows) {
		t.Fatalf("read back %+v, %v", back, err)
	}
	// A file written before the interval columns reads with them empty.
	old := "backend,workload,conns,target_p99_us,max_rate,p99_at_max_us,bracket_low,bracket_high,steps,reason\n" +
		"gnet,plaintext,64,1000,31250.5,912,31000,,9,confirmed by a second run\n"
	if err := os.WriteFile(filepath.Join(dir, SLOFile), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	back, err = ReadSLOFile(dir, io.Discard)
	if err != nil || len(back) != 1 || *back[0].P99AtMaxUs != 912 || back[0].P99LoUs != nil || back[0].Runs != nil || back[0].Close != nil || back[0].UndecidedLow != nil {
		t.Fatalf("older file: %+v, %v", back, err)
	}
	if _, err := ReadSLOFile(t.TempDir(), io.Discard); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("no slo.csv: %v", err)
	}
}

// TestSLORowText: the bracket and the undecided range in each of their
// states, with the caller's number format.
func TestSLORowText(t *testing.T) {
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) + "r" }
	low, high, zero := 19_500.0, 20_000.0, 0.0
	for _, tc := range []struct {
		low, high *float64
		bracket   string
		undecided string
	}{
		{&low, &high, "19500r–20000r", "19500r–20000r"},
		{nil, &high, "< 20000r", "–"},
		{&low, nil, "≥ 19500r", "–"},
		{nil, nil, "–", "–"},
		{&zero, &zero, "0r–0r", "none"},
	} {
		a := SLORow{BracketLow: tc.low, BracketHigh: tc.high, UndecidedLow: tc.low, UndecidedHigh: tc.high}
		if got := a.BracketText(f); got != tc.bracket {
			t.Errorf("BracketText(%v, %v) = %q, want %q", tc.low, tc.high, got, tc.bracket)
		}
		if got := a.UndecidedText(f); got != tc.undecided {
			t.Errorf("UndecidedText(%v, %v) = %q, want %q", tc.low, tc.high, got, tc.undecided)
		}
	}
}
