package runner

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/asyncbench/asyncbench/loadgen/summary"
	"github.com/asyncbench/asyncbench/results"
)

// MaxErrorShare is the share of failed requests above which a cell is
// marked failed rather than ok.
const MaxErrorShare = 0.01

// fillRow copies a load generator summary into r and derives the per-
// connection and per-CPU-second columns and the status.
func fillRow(r *results.Row, s *summary.Summary) {
	r.DurationS = s.DurationSeconds
	r.Requests = s.Requests
	r.RPS = s.RPS
	r.P50us = s.Latency.P50
	r.P90us = s.Latency.P90
	r.P99us = s.Latency.P99
	r.P999us = s.Latency.P999
	r.MaxUs = s.Latency.Max
	r.MeanUs = s.Latency.Mean
	r.Errors = s.Errors
	r.Saturated = s.Saturated
	if s.Uncorrected != nil {
		r.UncorrP99 = s.Uncorrected.P99
	}
	if s.SendLag != nil {
		r.SendLagP99 = s.SendLag.P99
	}
	r.GenCPUs = s.GeneratorCPUSeconds
	r.ReqPerGenCPU = perCPU(s.Requests, s.GeneratorCPUSeconds)
	if st := s.Server; st != nil {
		r.RSSIdleKiB = st.RSSIdleKiB
		r.RSSPeakKiB = st.RSSPeakKiB
		r.RSSMeanKiB = st.RSSMeanKiB
		r.RSSPerConnBytes = rssPerConn(st.RSSPeakKiB, st.RSSIdleKiB, r.Conns)
		r.ServerCPUs = st.CPUSeconds
		r.ReqPerServerCPU = perCPU(s.Requests, st.CPUSeconds)
		r.CtxSwitches = st.CtxSwitches
		r.ThreadsPeak = st.ThreadsPeak
	}
	r.Status, r.Reason = status(s)
}

// rssPerConn is (peak−idle)·1024/conns in bytes, 0 without connections.
func rssPerConn(peakKiB, idleKiB int64, conns int) int64 {
	if conns <= 0 {
		return 0
	}
	return (peakKiB - idleKiB) * 1024 / int64(conns)
}

// perCPU is requests per CPU-second, 0 when no CPU time was measured.
func perCPU(requests uint64, cpuS float64) float64 {
	if cpuS <= 0 {
		return 0
	}
	return float64(requests) / cpuS
}

// status judges a summary: saturated when the generator fell behind, failed
// when nothing completed or more than MaxErrorShare of requests failed,
// else ok. Errors below the threshold are listed in the reason.
func status(s *summary.Summary) (status, reason string) {
	errs := ""
	if s.Errors > 0 {
		errs = fmt.Sprintf("%d errors (%s)", s.Errors, errorKinds(s.ErrorKinds))
	}
	switch {
	case s.StopReason == summary.StopServerExited || (s.Server != nil && s.Server.Exited):
		return results.StatusFailed, joinReason("server exited during the run", errs)
	case s.Requests == 0:
		return results.StatusFailed, joinReason("no requests completed", errs)
	case float64(s.Errors) > MaxErrorShare*float64(s.Requests+s.Errors):
		return results.StatusFailed, errs
	case s.Saturated:
		reason = s.SaturatedReason
		if reason == "" {
			reason = "generator fell behind its schedule"
		}
		return results.StatusSaturated, joinReason(reason, errs)
	}
	return results.StatusOK, errs
}

// joinReason joins the non-empty parts with "; ".
func joinReason(parts ...string) string {
	var keep []string
	for _, p := range parts {
		if p != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, "; ")
}

func errorKinds(m map[string]uint64) string {
	kinds := slices.Sorted(maps.Keys(m))
	parts := make([]string, 0, len(kinds))
	for _, k := range kinds {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
		}
	}
	if len(parts) == 0 {
		return "kinds not given"
	}
	return strings.Join(parts, " ")
}

// rowID identifies a cell repetition in summary.csv.
func rowID(cell string, rep int) string { return fmt.Sprintf("%s#%d", cell, rep) }

// Completed returns the cell repetitions in rows that need not run again:
// those with status ok or saturated.
func Completed(rows []results.Row) map[string]bool {
	done := map[string]bool{}
	for _, r := range rows {
		if r.Status == results.StatusOK || r.Status == results.StatusSaturated {
			done[rowID(r.Cell, r.Rep)] = true
		}
	}
	return done
}

// Latest keeps one row per cell repetition: a completed one if any, else
// the last, in the order the rows were first written. A resumed run that
// retried a failed cell thus reports the retry.
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
		case out[i].Status != results.StatusOK && out[i].Status != results.StatusSaturated:
			out[i] = r
		}
	}
	return slices.Clip(out)
}
