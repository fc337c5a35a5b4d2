package loadgen

import (
	"math"
	"time"
)

// Schedule is the wrk2 open-loop schedule: slot i of the whole schedule is
// due at i/Rate seconds. A schedule may own only every Every-th slot
// starting at Slot, so that Every connections sharing one schedule
// interleave: its slot k is due at (k·Every + Slot)/Rate. Due times never
// move, so after a stall every overdue request is due at once and keeps its
// intended time. Both engines ask it by slot number (Due, DueBy): the epoll
// engine walks the global schedule, the goroutine engine sets its read
// deadline to its own next slot, and both count the slots that came due
// behind a full window. It is a value; any goroutine may call it.
//
// A ramp (End > 0) holds Rate for Hold, then changes the rate linearly to
// End over Ramp and keeps End after it: the slots follow the integral of
// the rate, so slot i, counted from the start of the ramp, is due τ into
// it where Rate·τ + (End−Rate)·τ²/(2·Ramp) = i.
type Schedule struct {
	Rate  float64 // requests per second of the whole schedule, > 0; with a ramp its start rate
	Every uint64  // share of the slots this schedule owns; 0 means 1 (all)
	Slot  uint64  // first slot owned, < Every

	End  float64       // ramp: the rate reached at the end of the ramp, > 0; 0 = no ramp
	Hold time.Duration // ramp: time at Rate before the ramp begins (the warm-up)
	Ramp time.Duration // ramp: length of the ramp, > 0
}

// ramps reports whether p changes its rate.
func (p Schedule) ramps() bool { return p.End > 0 && p.End != p.Rate && p.Ramp > 0 }

// Due returns when this schedule's slot k is intended, measured from the
// start of the schedule.
func (p Schedule) Due(k uint64) time.Duration {
	every := p.Every
	if every == 0 {
		every = 1
	}
	if !p.ramps() {
		return time.Duration(float64(k*every+p.Slot) * 1e9 / p.Rate)
	}
	return time.Duration(math.Round(p.at(float64(k*every+p.Slot)) * 1e9))
}

// at returns the time, in seconds from the start, at which the x-th slot of
// the whole ramped schedule is due.
func (p Schedule) at(x float64) float64 {
	hold, ramp := p.Hold.Seconds(), p.Ramp.Seconds()
	held := p.Rate * hold // slots in the hold
	if x <= held {
		return x / p.Rate
	}
	j := x - held
	ramped := (p.Rate + p.End) * ramp / 2 // slots in the ramp
	if j > ramped {
		return hold + ramp + (j-ramped)/p.End
	}
	// a·τ² + b·τ = j, solved in the form that loses no precision when a
	// is small: τ = 2j / (b + √(b² + 4aj)).
	a, b := (p.End-p.Rate)/(2*ramp), p.Rate
	return hold + 2*j/(b+math.Sqrt(b*b+4*a*j))
}

// slots returns how many slots of the whole schedule have come due by t
// seconds from the start, as a real number (the integral of the rate).
func (p Schedule) slots(t float64) float64 {
	if !p.ramps() {
		return t * p.Rate
	}
	hold, ramp := p.Hold.Seconds(), p.Ramp.Seconds()
	if t <= hold {
		return t * p.Rate
	}
	tau := t - hold
	n := p.Rate * hold
	if tau > ramp {
		return n + (p.Rate+p.End)*ramp/2 + (tau-ramp)*p.End
	}
	return n + p.Rate*tau + (p.End-p.Rate)*tau*tau/(2*ramp)
}

// MeanRate is the mean rate of the schedule over the ramp (Rate when it
// does not ramp).
func (p Schedule) MeanRate() float64 {
	if !p.ramps() {
		return p.Rate
	}
	return (p.Rate + p.End) / 2
}

// DueBy returns how many of this schedule's slots are due at elapsed: the
// first slot not yet due.
func (p Schedule) DueBy(elapsed time.Duration) uint64 {
	every := p.Every
	if every == 0 {
		every = 1
	}
	x := p.slots(elapsed.Seconds()) - float64(p.Slot)
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
	return SpreadSchedule(Schedule{Rate: rate}, conns)
}

// SpreadSchedule splits the whole schedule all (a ramp included) over
// conns connections as Spread does.
func SpreadSchedule(all Schedule, conns int) []Schedule {
	ps := make([]Schedule, conns)
	for c := range ps {
		ps[c] = all
		ps[c].Every, ps[c].Slot = uint64(conns), uint64(c)
	}
	return ps
}
