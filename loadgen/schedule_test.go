package loadgen

import (
	"sort"
	"testing"
	"time"
)

func TestScheduleDue(t *testing.T) {
	tests := []struct {
		name string
		p    Schedule
		k    uint64
		want time.Duration
	}{
		{"first slot at zero", Schedule{Rate: 100}, 0, 0},
		{"100/s is 10ms apart", Schedule{Rate: 100}, 1, 10 * time.Millisecond},
		{"100/s, k=250", Schedule{Rate: 100}, 250, 2500 * time.Millisecond},
		{"every 0 means 1", Schedule{Rate: 1000, Every: 0}, 7, 7 * time.Millisecond},
		{"3 of 4 slots, k=0", Schedule{Rate: 1000, Every: 4, Slot: 3}, 0, 3 * time.Millisecond},
		{"3 of 4 slots, k=2", Schedule{Rate: 1000, Every: 4, Slot: 3}, 2, 11 * time.Millisecond},
		{"fractional rate", Schedule{Rate: 0.5}, 3, 6 * time.Second},
		{"high rate", Schedule{Rate: 1e6}, 1_000_000, time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.Due(tc.k); got != tc.want {
				t.Fatalf("Due(%d) = %v, want %v", tc.k, got, tc.want)
			}
		})
	}
}

// TestScheduleDueBy: the number of slots due at a time, through a stall:
// after 1 s with nothing sent every overdue slot is due at once and keeps
// its intended time.
func TestScheduleDueBy(t *testing.T) {
	tests := []struct {
		name    string
		p       Schedule
		elapsed time.Duration
		want    uint64
	}{
		{"slot 0 due at once", Schedule{Rate: 200}, 0, 1},
		{"just before slot 1", Schedule{Rate: 200}, 5*time.Millisecond - 1, 1},
		{"exactly slot 1", Schedule{Rate: 200}, 5 * time.Millisecond, 2},
		{"after a 1 s stall", Schedule{Rate: 200}, 1005 * time.Millisecond, 202},
		{"own slot not yet due", Schedule{Rate: 1000, Every: 4, Slot: 3}, 2 * time.Millisecond, 0},
		{"3 of 4 slots at 11 ms", Schedule{Rate: 1000, Every: 4, Slot: 3}, 11 * time.Millisecond, 3},
		{"fractional rate", Schedule{Rate: 0.5}, 6 * time.Second, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.p.DueBy(tc.elapsed)
			if got != tc.want {
				t.Fatalf("DueBy(%v) = %d, want %d", tc.elapsed, got, tc.want)
			}
			if got > 0 && tc.p.Due(got-1) > tc.elapsed || tc.p.Due(got) <= tc.elapsed {
				t.Fatalf("DueBy(%v) = %d disagrees with Due", tc.elapsed, got)
			}
		})
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

// TestRampDue checks the ramp's slot times exactly on slots where the
// quadratic has a whole solution: 100 → 300 req/s over 10 s after a 1 s
// hold at 100 req/s. In the ramp, slot i (from its start, 100 slots in)
// is due τ into it where 100τ + 10τ² = i.
func TestRampDue(t *testing.T) {
	p := Schedule{Rate: 100, End: 300, Hold: time.Second, Ramp: 10 * time.Second}
	for _, tc := range []struct {
		slot uint64
		want time.Duration
	}{
		{0, 0},
		{50, 500 * time.Millisecond},         // in the hold: 50/100
		{100, time.Second},                   // the ramp begins
		{100 + 110, 2 * time.Second},         // τ = 1: 100 + 10
		{100 + 750, 6 * time.Second},         // τ = 5: 500 + 250
		{100 + 2000, 11 * time.Second},       // τ = 10, the end: 1000 + 1000
		{100 + 2000 + 300, 12 * time.Second}, // then 300/s
	} {
		if got := p.Due(tc.slot); got != tc.want {
			t.Errorf("Due(%d) = %v, want %v", tc.slot, got, tc.want)
		}
	}
	// Ramping down: 300 → 100 over 10 s, no hold: 300τ − 10τ² = i.
	down := Schedule{Rate: 300, End: 100, Ramp: 10 * time.Second}
	for slot, want := range map[uint64]time.Duration{290: time.Second, 2000: 10 * time.Second, 2100: 11 * time.Second} {
		if got := down.Due(slot); got != want {
			t.Errorf("down: Due(%d) = %v, want %v", slot, got, want)
		}
	}
	// Spread over 3 connections, a ramp still merges into the one schedule,
	// and DueBy agrees with Due.
	ps := SpreadSchedule(p, 3)
	var all []time.Duration
	for _, q := range ps {
		for k := uint64(0); k < 1000; k++ {
			all = append(all, q.Due(k))
			if n := q.DueBy(q.Due(k)); n != k+1 {
				t.Fatalf("conn %d: DueBy(Due(%d)) = %d", q.Slot, k, n)
			}
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	for i, d := range all {
		if want := p.Due(uint64(i)); d != want {
			t.Fatalf("merged slot %d at %v, want %v", i, d, want)
		}
	}
	if p.MeanRate() != 200 || (Schedule{Rate: 50}).MeanRate() != 50 {
		t.Fatal("mean rate")
	}
}
