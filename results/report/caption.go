package report

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"strings"

	"github.com/asyncbench/asyncbench/results"
)

// dodgeWidth is how far apart, in decades of a log axis, the points of
// neighbouring backends at one x are drawn, so that no error bar hides
// another. 0.012 decades is under 3%: a point stays next to its x tick.
const dodgeWidth = 0.012

// dodgeLog shifts x on a log axis for series i of n: the series are spread
// symmetrically around x, dodgeWidth decades apart.
func dodgeLog(x float64, i, n int) float64 {
	return x * math.Pow(10, (float64(i)-float64(n-1)/2)*dodgeWidth)
}

// dodgeLinear shifts x on a linear axis for series i of n, step apart.
func dodgeLinear(x float64, i, n int, step float64) float64 {
	return x + (float64(i)-float64(n-1)/2)*step
}

// faded is c at half opacity, for the per-repetition lines under a merged
// one.
func faded(c color.Color) color.Color {
	r, g, b, _ := c.RGBA()
	return color.NRGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 0x70}
}

// rowsOf returns every row of the group.
func (g *group) rowsOf() []results.Row {
	var rows []results.Row
	for _, b := range g.backends {
		for _, c := range g.conns {
			cr := g.at(b, c)
			rows = append(append(append(rows, cr.ok...), cr.saturated...), cr.failed...)
		}
	}
	return rows
}

// okReps describes the ok repetitions behind a point: "5", or "3–5" when
// points differ.
func (g *group) okReps() string {
	lo, hi := math.MaxInt, 0
	for _, b := range g.backends {
		for _, c := range g.conns {
			if n := len(g.at(b, c).ok); n > 0 {
				lo, hi = min(lo, n), max(hi, n)
			}
		}
	}
	switch {
	case hi == 0:
		return "0"
	case lo == hi:
		return fmt.Sprint(hi)
	}
	return fmt.Sprintf("%d–%d", lo, hi)
}

// provenance is "run R, commit C" from rows.
func provenance(rows []results.Row) string {
	runs := distinct(rows, func(r results.Row) string { return r.RunID })
	commits := distinct(rows, func(r results.Row) string { return r.Commit })
	slices.Sort(runs)
	slices.Sort(commits)
	return fmt.Sprintf("run %s, commit %s", joinOr(runs, "unknown"), strings.Join(orUnknown(commits), ", "))
}

func orUnknown(v []string) []string {
	if len(v) == 0 {
		return []string{"unknown"}
	}
	return v
}

// plotCaption says what a point and a bar of the group's plots are, and
// where they come from.
func (g *group) plotCaption() string {
	return fmt.Sprintf("point = median of %s ok repetitions, bar = min–max\n%s", g.okReps(), provenance(g.rowsOf()))
}

// spectrumCaption says what the spectrum's lines are.
func (g *group) spectrumCaption() string {
	return "thick = merged histogram of the ok repetitions, thin = each repetition\n" + provenance(g.rowsOf())
}
