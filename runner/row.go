package runner

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/asyncbench/asyncbench/loadgen/summary"
	"github.com/asyncbench/asyncbench/results"
)

// MaxErrorShare is the share of attempted requests (completed plus
// errors) that may fail in an ok cell; above it the cell is failed. Any
// connect error fails the cell whatever the share: a connection that was
// never made means the generator did not drive the load the cell names.
const MaxErrorShare = 0.01

// fillRow copies a load generator summary into r and derives the per-
// connection and per-CPU-second columns and the status. Values the summary
// does not carry stay nil (not measured).
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
	r.Status, r.Reason = status(s)
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

// status judges a summary: failed when the server exited, nothing
// completed, any connect error occurred or more than MaxErrorShare of the
// attempted requests failed (timeouts included); saturated when the
// generator fell behind; else ok. Errors that do not fail the cell are
// listed in the reason.
func status(s *summary.Summary) (status results.Status, reason string) {
	errs := ""
	if s.Errors > 0 {
		errs = fmt.Sprintf("%d errors (%s)", s.Errors, errorKinds(s.ErrorKinds))
	}
	switch {
	case s.StopReason == summary.StopServerExited || (s.Server != nil && s.Server.Exited):
		return results.StatusFailed, joinReason("server exited during the run", errs)
	case s.Requests == 0:
		return results.StatusFailed, joinReason("no requests completed", errs)
	case s.ErrorKinds[ErrorConnect] > 0:
		return results.StatusFailed, joinReason("connections failed", errs)
	case float64(s.Errors) > MaxErrorShare*float64(s.Requests+s.Errors):
		return results.StatusFailed, joinReason(fmt.Sprintf("more than %g%% of requests failed", 100*MaxErrorShare), errs)
	case s.Saturated:
		reason = s.SaturatedReason
		if reason == "" {
			reason = "generator fell behind its schedule"
		}
		return results.StatusSaturated, joinReason(reason, errs)
	case s.ServerBacklog:
		return results.StatusBacklog, joinReason("server backlog: "+s.ServerBacklogReason, errs)
	}
	return results.StatusOK, errs
}

// ErrorConnect is the summary's error kind for failed connection attempts.
const ErrorConnect = "connect"

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
