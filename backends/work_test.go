package backends

import (
	"strings"
	"testing"
	"time"
)

func TestParseMicros(t *testing.T) {
	tests := []struct {
		q    string
		want time.Duration
		ok   bool
	}{
		{"us=0", 0, true},
		{"us=2000", 2 * time.Millisecond, true},
		{"us=10000000", 10 * time.Second, true},
		{"x=1&us=50", 50 * time.Microsecond, true},
		{"us=50&x=1", 50 * time.Microsecond, true},
		{"us=007", 7 * time.Microsecond, true},
		{"", 0, false},
		{"us=", 0, false},
		{"us", 0, false},
		{"us=-1", 0, false},
		{"us=+1", 0, false},
		{"us=1.5", 0, false},
		{"us=10000001", 0, false},
		{"us=99999999", 0, false},
		{"us=123456789", 0, false},
		{"us=1&us=2", 0, false},
		{"us=1e3", 0, false},
		{"us=%31", 0, false},
		{"uss=1", 0, false},
		{"x=us=1", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseMicros([]byte(tt.q))
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseMicros(%q) = %v, %v; want %v, %v", tt.q, got, ok, tt.want, tt.ok)
		}
	}
	if n := testing.AllocsPerRun(100, func() { ParseMicros([]byte("a=b&us=1234")) }); n != 0 {
		t.Errorf("ParseMicros allocates %v times", n)
	}
}

func TestBadWorkBodyLength(t *testing.T) {
	if len(BadWorkBody) != 41 || !strings.HasPrefix(BadWorkBody, "us must") {
		t.Fatalf("BadWorkBody is %d bytes; its doc says 41", len(BadWorkBody))
	}
}

// TestBurnCPU checks the CPU time used, which the thread's clock reports
// whatever else runs on the machine: at least what was asked, and at most
// the asked time plus a wide margin for the last stretch of work.
func TestBurnCPU(t *testing.T) {
	for _, d := range []time.Duration{0, 50 * time.Microsecond, 2 * time.Millisecond} {
		used := BurnCPU(d)
		if used < d || used > d+5*time.Millisecond {
			t.Errorf("BurnCPU(%v) used %v", d, used)
		}
	}
}
