package runner

import (
	"context"
	"time"

	"github.com/asyncbench/asyncbench/results"
)

// Re-runs. A cell repetition whose row says nothing about the server for
// a reason outside it is measured again at the end of its round, after
// the round's other cells, up to Plan.Retries times:
//
//   - noisy: another process or steal used the pinned CPUs. The noise is
//     the host's, and light work beside a run comes in bursts, so a later
//     try usually finds the CPUs quiet; a re-run first waits up to
//     RerunQuietWait for a quiet second (waitQuiet).
//   - generator-bound (results.Row.GeneratorBound): saturated with the
//     generator's CPUs busy and the server's not, closed loop or open
//     loop. In the published quick set (quick-2core) the only such rows,
//     gnet plaintext at 1,024 connections in 2 of 6 rounds, were at the
//     line: server 88–90% busy, generator 96–98%, at 90–92k req/s, while
//     the same cell's other 4 rounds were server-bound (server 97–100%,
//     generator 84–87%) at 90–107k req/s. Which side crosses 90% first is
//     chance there, and a re-run comes out server-bound about two times in
//     three. A cell whose re-run is generator-bound again is limited by
//     the generator's CPU itself: its later generator-bound rows are not
//     re-run (they stay in the report as lower bounds) so that such a
//     cell costs one extra measurement per run, not Retries per round.
//
// A failed cell is not re-run: a server that crashed or refused is a
// result. Every attempt's row goes to summary.csv with its number in the
// attempt column; Latest keeps the last completed one.

// DefaultRetries is Plan.Retries when the plan does not set it.
const DefaultRetries = 2

// RerunQuietWait is the longest a re-run of a noisy cell waits for a
// quiet second on the pinned CPUs (see waitQuiet) when -quiet-wait asks
// for less.
const RerunQuietWait = 2 * time.Second

// RetryLimit is how many times a cell repetition may be re-run.
func (p *Plan) RetryLimit() int {
	if p.Retries == nil {
		return DefaultRetries
	}
	return *p.Retries
}

// wantRerun reports whether row should be measured again.
func (r *runner) wantRerun(row results.Row) bool {
	switch {
	case row.Status == results.StatusNoisy:
		return true
	case row.GeneratorBound():
		return !r.boundAgain[row.Cell]
	}
	return false
}

// round measures the cells of one round, then re-runs those that asked
// for it (wantRerun), each at most RetryLimit times, in the order they
// first ran.
func (r *runner) round(ctx context.Context, cells []Cell) error {
	type pending struct {
		c      Cell
		last   results.Row
		reruns int
	}
	limit := r.cfg.Plan.RetryLimit()
	var queue []pending
	for _, c := range cells {
		row, err := r.measure(ctx, c, 0)
		if err != nil {
			return err
		}
		if limit > 0 && r.wantRerun(row) {
			queue = append(queue, pending{c: c, last: row})
			r.total++
		}
	}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		var wait time.Duration
		if p.last.Status == results.StatusNoisy {
			wait = RerunQuietWait
		}
		row, err := r.measure(ctx, p.c, wait)
		if err != nil {
			return err
		}
		r.out.Reruns++
		if row.Status == results.StatusOK {
			r.out.RerunsOK++
		}
		if row.GeneratorBound() {
			r.boundAgain[row.Cell] = true
		}
		p.last, p.reruns = row, p.reruns+1
		if p.reruns < limit && r.wantRerun(row) {
			queue = append(queue, p)
			r.total++
		}
	}
	return nil
}

// priorAttempts counts the rows of each cell repetition in rows (a
// resumed run's summary.csv), so that its next attempt is numbered on.
func priorAttempts(rows []results.Row) map[string]int {
	m := map[string]int{}
	for _, r := range rows {
		id := rowID(r.Cell, r.Rep)
		m[id] = max(m[id]+1, r.AttemptOf())
	}
	return m
}
