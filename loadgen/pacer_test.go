package loadgen

import (
	"sort"
	"testing"
	"time"
)

func TestConstantPacerDue(t *testing.T) {
	tests := []struct {
		name string
		p    ConstantPacer
		k    uint64
		want time.Duration
	}{
		{"first slot at zero", ConstantPacer{Rate: 100}, 0, 0},
		{"100/s is 10ms apart", ConstantPacer{Rate: 100}, 1, 10 * time.Millisecond},
		{"100/s, k=250", ConstantPacer{Rate: 100}, 250, 2500 * time.Millisecond},
		{"every 0 means 1", ConstantPacer{Rate: 1000, Every: 0}, 7, 7 * time.Millisecond},
		{"3 of 4 slots, k=0", ConstantPacer{Rate: 1000, Every: 4, Slot: 3}, 0, 3 * time.Millisecond},
		{"3 of 4 slots, k=2", ConstantPacer{Rate: 1000, Every: 4, Slot: 3}, 2, 11 * time.Millisecond},
		{"fractional rate", ConstantPacer{Rate: 0.5}, 3, 6 * time.Second},
		{"high rate", ConstantPacer{Rate: 1e6}, 1_000_000, time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.Due(tc.k); got != tc.want {
				t.Fatalf("Due(%d) = %v, want %v", tc.k, got, tc.want)
			}
		})
	}
}

func TestConstantPacerPace(t *testing.T) {
	p := ConstantPacer{Rate: 200} // one slot every 5ms
	tests := []struct {
		name     string
		elapsed  time.Duration
		sent     uint64
		wantWait time.Duration
		wantStop bool
	}{
		{"first is due at once", 0, 0, 0, false},
		{"second waits 5ms", 0, 1, 5 * time.Millisecond, false},
		{"mid-interval waits the rest", 7 * time.Millisecond, 2, 3 * time.Millisecond, false},
		{"exactly due", 10 * time.Millisecond, 2, 0, false},
		{"ahead of schedule", 0, 200, time.Second, false},
		// After a 1s stall with 3 sent, slots 3..200 are overdue: all go out
		// at once (wait 0), slot 201 is in the future again.
		{"stall: slot 3 overdue", 1005 * time.Millisecond, 3, 0, false},
		{"stall: slot 201 overdue", 1005 * time.Millisecond, 201, 0, false},
		{"stall: slot 202 not yet", 1005 * time.Millisecond, 202, 5 * time.Millisecond, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wait, stop := p.Pace(tc.elapsed, tc.sent)
			if wait != tc.wantWait || stop != tc.wantStop {
				t.Fatalf("Pace(%v, %d) = (%v, %v), want (%v, %v)", tc.elapsed, tc.sent, wait, stop, tc.wantWait, tc.wantStop)
			}
		})
	}
	if _, stop := (ConstantPacer{}).Pace(0, 0); !stop {
		t.Fatal("zero rate must stop")
	}
}

// TestCatchUpKeepsIntendedTimes drives a pacer through a stall: each request
// is sent when Pace says so, but the clock jumps 1s after the third. The
// overdue requests must go out back to back and keep their intended times.
func TestCatchUpKeepsIntendedTimes(t *testing.T) {
	p := ConstantPacer{Rate: 100}
	var now time.Duration
	var sent uint64
	var burst int
	for sent < 120 {
		wait, stop := p.Pace(now, sent)
		if stop {
			t.Fatal("unexpected stop")
		}
		if wait == 0 && now > p.Due(sent) {
			burst++ // overdue: sent immediately
		}
		now += wait
		if want := time.Duration(sent) * 10 * time.Millisecond; p.Due(sent) != want {
			t.Fatalf("intended time of %d = %v, want %v", sent, p.Due(sent), want)
		}
		sent++
		if sent == 3 {
			now += time.Second // stall
		}
	}
	// Slots 3..101 were due by 1.02s; the stall started at 20ms, ended at
	// 1.02s, so slots 3..101 (99 of them) were overdue, slot 102 was not.
	if burst != 99 {
		t.Fatalf("overdue sends = %d, want 99", burst)
	}
}

func TestSpreadInterleaves(t *testing.T) {
	const rate, conns, per = 1000.0, 7, 50
	ps := Spread(rate, conns)
	if len(ps) != conns {
		t.Fatalf("len = %d", len(ps))
	}
	var all []time.Duration
	for _, p := range ps {
		for k := uint64(0); k < per; k++ {
			all = append(all, p.Due(k))
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	// Merged, the connections follow exactly the global schedule i/rate.
	for i, d := range all {
		if want := time.Duration(i) * time.Millisecond; d != want {
			t.Fatalf("merged slot %d at %v, want %v", i, d, want)
		}
	}
	// Connection c's first send is c/rate: consecutive sends change connection.
	for c, p := range ps {
		if got := p.Due(0); got != time.Duration(c)*time.Millisecond {
			t.Fatalf("conn %d first due %v", c, got)
		}
		if got := p.Due(1) - p.Due(0); got != conns*time.Millisecond {
			t.Fatalf("conn %d interval %v", c, got)
		}
	}
}

func TestPacerFunc(t *testing.T) {
	var f Pacer = PacerFunc(func(e time.Duration, s uint64) (time.Duration, bool) { return e, s > 1 })
	if w, s := f.Pace(3, 2); w != 3 || !s {
		t.Fatalf("got %v %v", w, s)
	}
}
