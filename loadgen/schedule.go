package loadgen

import "time"

// Schedule is the wrk2 open-loop schedule: slot i of the whole schedule is
// due at i/Rate seconds. A schedule may own only every Every-th slot
// starting at Slot, so that Every connections sharing one schedule
// interleave: its slot k is due at (k·Every + Slot)/Rate. Due times never
// move, so after a stall every overdue request is due at once and keeps its
// intended time. Both engines ask it by slot number (Due, DueBy): the epoll
// engine walks the global schedule, the goroutine engine sets its read
// deadline to its own next slot, and both count the slots that came due
// behind a full window. It is a value; any goroutine may call it.
type Schedule struct {
	Rate  float64 // requests per second of the whole schedule, > 0
	Every uint64  // share of the slots this schedule owns; 0 means 1 (all)
	Slot  uint64  // first slot owned, < Every
}

// Due returns when this schedule's slot k is intended, measured from the
// start of the schedule.
func (p Schedule) Due(k uint64) time.Duration {
	every := p.Every
	if every == 0 {
		every = 1
	}
	return time.Duration(float64(k*every+p.Slot) * 1e9 / p.Rate)
}

// DueBy returns how many of this schedule's slots are due at elapsed: the
// first slot not yet due.
func (p Schedule) DueBy(elapsed time.Duration) uint64 {
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

// Spread splits a total rate over conns connections: connection c owns slots
// c, c+conns, c+2·conns, … so that together they follow the single schedule
// i/rate and consecutive sends go out on different connections.
func Spread(rate float64, conns int) []Schedule {
	ps := make([]Schedule, conns)
	for c := range ps {
		ps[c] = Schedule{Rate: rate, Every: uint64(conns), Slot: uint64(c)}
	}
	return ps
}
