package loadgen

import "time"

// Pacer decides when requests go out in an open-loop run. Pace is given the
// time elapsed since the schedule began and the number of requests already
// sent; it returns how long to wait before the next one is due (0 when it is
// already due) or stop when the schedule has ended. A Pacer is called from
// one goroutine at a time.
type Pacer interface {
	Pace(elapsed time.Duration, sent uint64) (wait time.Duration, stop bool)
}

// PacerFunc adapts a function to a Pacer.
type PacerFunc func(elapsed time.Duration, sent uint64) (time.Duration, bool)

// Pace calls f.
func (f PacerFunc) Pace(elapsed time.Duration, sent uint64) (time.Duration, bool) {
	return f(elapsed, sent)
}

var _ Pacer = ConstantPacer{}

// ConstantPacer is the wrk2 schedule: slot i of the whole schedule is due at
// i/Rate seconds. A pacer may own only every Every-th slot starting at Slot,
// so that Every connections sharing one schedule interleave: its request k
// is due at (k·Every + Slot)/Rate. Due times never move, so after a stall
// every overdue request is due at once (wait 0) and keeps its intended time.
type ConstantPacer struct {
	Rate  float64 // requests per second of the whole schedule; ≤ 0 stops
	Every uint64  // share of the slots this pacer owns; 0 means 1 (all)
	Slot  uint64  // first slot owned, < Every
}

// Due returns when this pacer's request k is intended, measured from the
// start of the schedule.
func (p ConstantPacer) Due(k uint64) time.Duration {
	every := p.Every
	if every == 0 {
		every = 1
	}
	return time.Duration(float64(k*every+p.Slot) * 1e9 / p.Rate)
}

// DueBy returns how many of this pacer's slots are due at elapsed: the
// first slot not yet due.
func (p ConstantPacer) DueBy(elapsed time.Duration) uint64 {
	every := p.Every
	if every == 0 {
		every = 1
	}
	x := float64(elapsed)*p.Rate/1e9 - float64(p.Slot)
	if x < 0 {
		return 0
	}
	k := uint64(x) / every
	for p.Due(k) <= elapsed { // rounding: step to the first slot not due
		k++
	}
	for k > 0 && p.Due(k-1) > elapsed {
		k--
	}
	return k
}

// Pace implements Pacer.
func (p ConstantPacer) Pace(elapsed time.Duration, sent uint64) (time.Duration, bool) {
	if !(p.Rate > 0) {
		return 0, true
	}
	if due := p.Due(sent); due > elapsed {
		return due - elapsed, false
	}
	return 0, false
}

// Spread splits a total rate over conns connections: connection c owns slots
// c, c+conns, c+2·conns, … so that together they follow the single schedule
// i/rate and consecutive sends go out on different connections.
func Spread(rate float64, conns int) []ConstantPacer {
	ps := make([]ConstantPacer, conns)
	for c := range ps {
		ps[c] = ConstantPacer{Rate: rate, Every: uint64(conns), Slot: uint64(c)}
	}
	return ps
}
