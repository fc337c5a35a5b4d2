package runner

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/asyncbench/asyncbench/results"
)

// Rates relative to capacity. A plan's rates key takes numbers (requests/s,
// 0 = closed loop) and percentages of capacity ("50%"): capacity is the
// closed-loop throughput of the same label, workload, connections,
// pipeline and payload measured earlier in the same run and the same round.
// A plan with percentages gets the closed-loop cells it needs even when
// its rates do not list 0, and in every round each closed-loop cell runs
// before the fractions that depend on it (see capacityFirst). A fraction
// cell's key carries the percentage ("r50pct"), its row the resolved rate
// (rate) and the fraction (rate_fraction).

// MaxRateFraction bounds a percentage of capacity (1000%).
const MaxRateFraction = 10

// RateValue is one entry of a plan file's rates: PerSec requests/s, or,
// when IsFraction, Fraction of capacity. In YAML it is a number or a
// string "N%".
type RateValue struct {
	PerSec     float64
	Fraction   float64
	IsFraction bool
}

// UnmarshalYAML reads a number or "N%".
func (v *RateValue) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if pct, ok := strings.CutSuffix(strings.TrimSpace(n.Value), "%"); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return fmt.Errorf("line %d: rates %q: want a number of requests/s or a percentage of capacity such as \"50%%\"", n.Line, n.Value)
			}
			// Zero or below is refused by Validate, naming the value.
			*v = RateValue{Fraction: f / 100, IsFraction: true}
			return nil
		}
		var f float64
		if err := n.Decode(&f); err == nil {
			*v = RateValue{PerSec: f}
			return nil
		}
	}
	return fmt.Errorf("line %d: rates %q: want a number of requests/s or a percentage of capacity such as \"50%%\"", n.Line, n.Value)
}

// MarshalYAML writes a number, or "N%" for a fraction.
func (v RateValue) MarshalYAML() (any, error) {
	if v.IsFraction {
		return formatRate(v.Fraction*100) + "%", nil
	}
	return v.PerSec, nil
}

// splitRates moves the plan file's rates into Rates and Fractions.
func (p *Plan) splitRates() {
	if p.RateList == nil {
		return
	}
	p.Rates, p.Fractions = nil, nil
	for _, v := range p.RateList {
		if v.IsFraction {
			p.Fractions = append(p.Fractions, v.Fraction)
		} else {
			p.Rates = append(p.Rates, v.PerSec)
		}
	}
	p.RateList = nil
}

// joinRates is the rates key Marshal writes: Rates, then Fractions.
func (p *Plan) joinRates() []RateValue {
	out := make([]RateValue, 0, len(p.Rates)+len(p.Fractions))
	for _, r := range p.Rates {
		out = append(out, RateValue{PerSec: r})
	}
	for _, f := range p.Fractions {
		out = append(out, RateValue{Fraction: f, IsFraction: true})
	}
	return out
}

// checkFractions validates the percentages of capacity.
func (p *Plan) checkFractions() []error {
	var errs []error
	seen := map[float64]bool{}
	for _, f := range p.Fractions {
		if math.IsNaN(f) || f <= 0 || f > MaxRateFraction {
			errs = append(errs, fmt.Errorf("rates %s%%: a percentage of capacity must be above 0%% and at most %d%%", formatRate(f*100), 100*MaxRateFraction))
		}
		if seen[f] {
			errs = append(errs, fmt.Errorf("rate %s%% listed twice", formatRate(f*100)))
		}
		seen[f] = true
	}
	return errs
}

// cellRate is one rate of the matrix: absolute, or a fraction of capacity.
type cellRate struct {
	perSec, fraction float64
}

// cellRates are the rates every combination is measured at: Rates, then
// Fractions, with closed loop (0) added when there are fractions and
// Rates lacks it.
func (p *Plan) cellRates() []cellRate {
	var out []cellRate
	closed := false
	for _, r := range p.Rates {
		out = append(out, cellRate{perSec: r})
		closed = closed || r == 0
	}
	if len(p.Fractions) > 0 && !closed {
		out = append(out, cellRate{})
	}
	for _, f := range p.Fractions {
		out = append(out, cellRate{fraction: f})
	}
	return out
}

// rateKey is a cell's rate part of its key: "r0", "r10000", "r50pct".
func (c Cell) rateKey() string {
	if c.Fraction > 0 {
		return formatRate(c.Fraction*100) + "pct"
	}
	return formatRate(c.Rate)
}

// capacityCell is the closed-loop cell whose throughput a fraction cell's
// rate is relative to: its own label's, or the reference label's when the
// plan shares capacity (capLabel).
func (c Cell) capacityCell() Cell {
	cc := c
	cc.Rate, cc.Fraction = 0, 0
	if c.capLabel != "" {
		cc.Label, cc.capLabel = c.capLabel, ""
	}
	return cc
}

// capacityFirst reorders one round so that each closed-loop cell comes
// before the first fraction cell that needs it; the order is otherwise
// kept (the round's shuffle).
func capacityFirst(round []Cell) {
	needed := map[string]bool{}
	for _, c := range round {
		if c.Fraction > 0 {
			needed[c.capacityCell().Key()] = true
		}
	}
	if len(needed) == 0 {
		return
	}
	byKey := map[string]Cell{}
	for _, c := range round {
		if c.Fraction == 0 && needed[c.Key()] {
			byKey[c.Key()] = c
		}
	}
	out := make([]Cell, 0, len(round))
	placed := map[string]bool{}
	for _, c := range round {
		k := c.Key()
		if c.Fraction == 0 && needed[k] {
			if !placed[k] {
				out = append(out, c)
				placed[k] = true
			}
			continue
		}
		if c.Fraction > 0 {
			ck := c.capacityCell().Key()
			if cc, ok := byKey[ck]; ok && !placed[ck] {
				out = append(out, cc)
				placed[ck] = true
			}
		}
		out = append(out, c)
	}
	copy(round, out)
}

// capacities holds the closed-loop rows of a run by cell repetition, to
// resolve fraction cells.
type capacities map[string]results.Row

// newCapacities indexes the closed-loop rows among prior (a resumed run's
// summary.csv), keeping a completed row over a failed or noisy one.
func newCapacities(prior []results.Row) capacities {
	m := capacities{}
	for _, r := range Latest(prior) {
		m.add(r)
	}
	return m
}

// add records r if it is a closed-loop row, replacing an earlier row of
// the same repetition unless that one completed and r did not.
func (m capacities) add(r results.Row) {
	if r.Rate != 0 || r.RateFraction != nil {
		return
	}
	id := rowID(r.Cell, r.Rep)
	if old, ok := m[id]; ok && usableCapacity(old) && !usableCapacity(r) {
		return
	}
	m[id] = r
}

func usableCapacity(r results.Row) bool {
	return r.Status != results.StatusFailed && r.Status != "" && r.RPS > 0
}

// resolve sets the rate of fraction cell c from its round's capacity row.
// reason is non-empty when there is no usable capacity: the cell is then
// not run but recorded as failed with that reason; note qualifies a
// capacity measured under a saturated generator or a noisy host.
func (m capacities) resolve(c Cell) (rc Cell, note, reason string) {
	if c.Fraction == 0 {
		return c, "", ""
	}
	key := c.capacityCell().Key()
	r, ok := m[rowID(key, c.Rep)]
	switch {
	case !ok:
		return c, "", fmt.Sprintf("capacity cell %s (round %d) was not measured", key, c.Rep)
	case !usableCapacity(r):
		return c, "", results.JoinReason(fmt.Sprintf("capacity cell %s (round %d) failed", key, c.Rep), r.Reason)
	}
	c.Rate = math.Max(1, math.Round(c.Fraction*r.RPS))
	if !r.Status.Counts() {
		note = fmt.Sprintf("capacity %s req/s from a %s closed-loop cell", formatRate(math.Round(r.RPS)), r.Status)
	}
	return c, note, ""
}

// runResolved runs cell c, a fraction cell at its round's capacity times
// its fraction; one without a usable capacity is not run but gives a
// failed row saying why.
func (cfg *Config) runResolved(ctx context.Context, caps capacities, c Cell) (row results.Row, eps []results.EndpointRow, interrupted bool) {
	rc, note, reason := caps.resolve(c)
	if reason != "" {
		return failed(baseRow(cfg, c, time.Now()), reason), nil, false
	}
	row, eps, interrupted = runCell(ctx, cfg, rc)
	row.Reason = results.JoinReason(row.Reason, note)
	return row, eps, interrupted
}

// setRateColumns fills the rate_fraction column of a fraction cell's row.
func setRateColumns(r *results.Row, c Cell) {
	if c.Fraction > 0 {
		r.RateFraction = new(c.Fraction)
	}
}
