package runner

import (
	"fmt"
	"slices"

	"github.com/asyncbench/asyncbench/loadgen/summary"
	"github.com/asyncbench/asyncbench/results"
)

// fillRow copies a load generator summary into r and derives the per-
// connection and per-CPU-second columns; the status is the judge's
// (results.Judge). Values the summary does not carry stay nil (not
// measured).
func fillRow(r *results.Row, s *summary.Summary) {
	r.DurationS = s.DurationSeconds
	r.Requests = s.Requests
	r.RPS = s.RPS
	r.P50Us = s.Latency.P50
	r.P90Us = s.Latency.P90
	r.P99Us = s.Latency.P99
	r.P999Us = s.Latency.P999
	r.MaxUs = s.Latency.Max
	r.MeanUs = s.Latency.Mean
	r.Errors = s.Errors
	r.Saturated = s.Saturated
	if s.Rate > 0 && s.Uncorrected != nil {
		r.UncorrectedP99Us = new(s.Uncorrected.P99)
	}
	if s.Rate > 0 && s.SendLag != nil {
		r.SendLagP99Us = new(s.SendLag.P99)
		if s.OwnSendLag != nil {
			r.OwnSendLagP99Us = new(s.OwnSendLag.P99)
		}
	}
	r.GeneratorCPUSeconds = new(s.GeneratorCPUSeconds)
	r.ReqPerGeneratorCPUSecond = perCPU(s.Requests, s.GeneratorCPUSeconds)
	if st := s.Server; st != nil {
		fillServer(r, s.Requests, st)
	}
}

// fillServer copies the server's resource use into r.
func fillServer(r *results.Row, requests uint64, st *summary.ServerStats) {
	r.RSSIdleKiB = new(st.RSSIdleKiB)
	r.RSSPeakKiB = new(st.RSSPeakKiB)
	r.RSSMeanKiB = new(st.RSSMeanKiB)
	r.RSSPerConnBytes = rssPerConn(st.RSSPeakKiB, st.RSSIdleKiB, r.Conns)
	r.ServerCPUSeconds = new(st.CPUSeconds)
	r.ReqPerServerCPUSecond = perCPU(requests, st.CPUSeconds)
	r.CtxSwitches = new(st.CtxSwitches)
	r.ThreadsPeak = new(st.ThreadsPeak)
}

// rssPerConn is (peak−idle)·1024/conns in bytes; nil (not measured) below
// results.MinConnsForRSSPerConn connections.
func rssPerConn(peakKiB, idleKiB int64, conns int) *int64 {
	if conns < results.MinConnsForRSSPerConn {
		return nil
	}
	return new((peakKiB - idleKiB) * 1024 / int64(conns))
}

// perCPU is requests per CPU-second; nil when no CPU time was measured.
func perCPU(requests uint64, cpuS float64) *float64 {
	if cpuS <= 0 {
		return nil
	}
	return new(float64(requests) / cpuS)
}

// rowID identifies a cell repetition in summary.csv.
func rowID(cell string, rep int) string { return fmt.Sprintf("%s#%d", cell, rep) }

// Completed returns the cell repetitions in rows that need not run again:
// those with a completed row (ok or saturated). A generator-bound row
// whose re-run an interrupt cut off thus stays as it is on -resume; a
// noisy or failed one runs again.
func Completed(rows []results.Row) map[string]bool {
	done := map[string]bool{}
	for _, r := range rows {
		if r.Completed() {
			done[rowID(r.Cell, r.Rep)] = true
		}
	}
	return done
}

// Latest keeps one row per cell repetition, in the order the repetitions
// were first written: the last completed one (ok or saturated) if any,
// else the last. An ok re-run thus replaces the noisy or generator-bound
// row it re-measured, and a resumed run that retried a failed cell
// reports the retry; a repetition whose every attempt was noisy keeps its
// last noisy row, which the report leaves out of every number.
func Latest(rows []results.Row) []results.Row {
	idx := map[string]int{}
	var out []results.Row
	for _, r := range rows {
		id := rowID(r.Cell, r.Rep)
		i, seen := idx[id]
		switch {
		case !seen:
			idx[id] = len(out)
			out = append(out, r)
		case r.Completed() || !out[i].Completed():
			out[i] = r
		}
	}
	return slices.Clip(out)
}
