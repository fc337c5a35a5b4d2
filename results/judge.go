package results

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/asyncbench/asyncbench/loadgen/summary"
)

// Evidence is everything known about a measured cell when its status is
// decided: what the generator printed and how it exited, what the idle
// measurement and the CPU attribution found, and whether the host was
// quiet. Judge turns it into the row's status and reason.
type Evidence struct {
	// Failure says why the cell gave no summary (a server that did not
	// start, a generator that failed without one); "" when it gave one.
	Failure string
	// Summary is the generator's summary; nil when there is none.
	Summary *summary.Summary
	// Idle marks an idle workload: judged by its set-up, not its window,
	// in which nothing completing is what idle means.
	Idle bool
	// SocketFellKiB is, for an idle cell, how far the system-wide TCP
	// memory fell while its connections were open (0: it did not fall, or
	// was not read).
	SocketFellKiB int64
	// Exit is the generator's verdict given by its exit status:
	// StatusFailed or StatusSaturated, "" for none. ExitDetail follows its
	// message: the exit status and the first line of its stderr.
	Exit       Status
	ExitDetail string
	// Rate is the offered rate, requests/s; 0 = closed loop.
	Rate float64
	// Bottleneck is the side whose CPUs limited the cell (Row.Bottleneck).
	Bottleneck string
	// Noise says why the host was noisy in the window; "" when it was
	// quiet or not measured.
	Noise string
	// Notes qualify the reason whatever the status; they end it.
	Notes []string
}

// Layer says whose finding a rule reads. A rule's reason goes on with
// what the layers beneath it found (see Judge).
type Layer int

// Layers, from the deepest.
const (
	LayerRun     Layer = iota // the generator's summary and the idle measurement
	LayerVerdict              // the generator's exit verdict and the CPU attribution
	LayerHost                 // other work on the pinned CPUs
)

// Rule is one row of the status table: when Match holds, the cell has
// Status, and Reason says why ("" for none).
type Rule struct {
	Name   string
	Layer  Layer
	Match  func(*Evidence) bool
	Status Status
	Reason func(*Evidence) string
}

// Rules is the status table, in precedence order: the first rule that
// matches gives a cell its status. Every status a row is written with
// comes from here.
var Rules = []Rule{
	{"not run", LayerRun, notRun, StatusFailed, func(e *Evidence) string { return e.Failure }},
	{"server exited", LayerRun, serverExited, StatusFailed, text("server exited during the run")},
	{"idle without server_idle", LayerRun, idleNoReport, StatusFailed, text("the generator reported no server_idle (a loadgen without -idle?)")},
	{"nothing completed", LayerRun, nothingCompleted, StatusFailed, text("no requests completed")},
	{"connect errors", LayerRun, connectErrors, StatusFailed, text("connections failed")},
	{"idle request unanswered", LayerRun, idleUnanswered, StatusFailed, text("not every connection's request was answered")},
	{"too many errors", LayerRun, tooManyErrors, StatusFailed, text(fmt.Sprintf("more than %g%% of requests failed", summary.FailErrorPercent))},
	{"generator exited failed", LayerVerdict, exitFailed, StatusFailed, exitReason("loadgen reported a failed run")},
	{"noisy host", LayerHost, noisyHost, StatusNoisy, func(e *Evidence) string { return e.Noise }},
	{"generator saturated", LayerRun, generatorSaturated, StatusSaturated, saturatedReason},
	{"idle socket memory fell", LayerRun, idleSocketFell, StatusNoisy, socketFellReason},
	{"generator exited saturated", LayerVerdict, exitSaturated, StatusSaturated, exitReason("loadgen reported a saturated run")},
	{"server backlog", LayerRun, serverBacklog, StatusBacklog, func(e *Evidence) string { return "server backlog: " + e.Summary.ServerBacklogReason }},
	{"generator-bound", LayerVerdict, generatorBound, StatusSaturated, text("generator-bound")},
	{"ok", LayerRun, func(*Evidence) bool { return true }, StatusOK, text("")},
}

// Judge returns the status and reason of a cell. The status is that of
// the first rule in Rules that matches. The reason is that rule's text,
// then the text of the first rule that matches among those of the layers
// beneath it, and so on down to the run's own finding (a noisy host's
// reason goes on with a generator-bound or saturated verdict, then with
// what the run showed); then the errors the generator counted, by kind;
// then e.Notes.
func Judge(e Evidence) (Status, string) {
	var parts []string
	status := Status("")
	for layer := LayerHost + 1; layer > LayerRun; {
		r := firstMatch(&e, layer)
		if status == "" {
			status = r.Status
		}
		parts = append(parts, r.Reason(&e))
		layer = r.Layer
	}
	parts = append(parts, errorsText(e.Summary))
	return status, JoinReason(append(parts, e.Notes...)...)
}

// firstMatch is the first rule of a layer beneath below that matches e;
// the last rule matches every cell.
func firstMatch(e *Evidence, below Layer) Rule {
	for _, r := range Rules {
		if r.Layer < below && r.Match(e) {
			return r
		}
	}
	panic("results: no status rule matched")
}

// Predicates of the rules.

func notRun(e *Evidence) bool { return e.Summary == nil }

func serverExited(e *Evidence) bool {
	s := e.Summary
	return s.StopReason == summary.StopServerExited || (s.Server != nil && s.Server.Exited)
}

func idleNoReport(e *Evidence) bool { return e.Idle && e.Summary.ServerIdle == nil }

func nothingCompleted(e *Evidence) bool { return !e.Idle && e.Summary.Requests == 0 }

func connectErrors(e *Evidence) bool { return e.Summary.ErrorKinds[summary.ErrorKindConnect] > 0 }

func idleUnanswered(e *Evidence) bool { return e.Idle && e.Summary.Errors > 0 }

func tooManyErrors(e *Evidence) bool {
	return !e.Idle && summary.TooManyErrors(e.Summary.Requests, e.Summary.Errors)
}

func exitFailed(e *Evidence) bool { return e.Exit == StatusFailed }

func noisyHost(e *Evidence) bool { return e.Noise != "" }

func generatorSaturated(e *Evidence) bool { return e.Summary.Saturated }

func idleSocketFell(e *Evidence) bool { return e.Idle && e.SocketFellKiB > 0 }

func exitSaturated(e *Evidence) bool { return e.Exit == StatusSaturated }

func serverBacklog(e *Evidence) bool { return !e.Idle && e.Summary.ServerBacklog }

// generatorBound: a closed-loop cell whose generator was the bottleneck
// measured the generator, not the server.
func generatorBound(e *Evidence) bool { return e.Rate == 0 && e.Bottleneck == BottleneckGenerator }

// Reasons of the rules.

func text(s string) func(*Evidence) string { return func(*Evidence) string { return s } }

func exitReason(what string) func(*Evidence) string {
	return func(e *Evidence) string { return what + e.ExitDetail }
}

func saturatedReason(e *Evidence) string {
	if r := e.Summary.SaturatedReason; r != "" {
		return r
	}
	return "generator fell behind its schedule"
}

func socketFellReason(e *Evidence) string {
	return fmt.Sprintf("system-wide TCP memory fell by %d KiB while the connections were open: other sockets closed meanwhile", e.SocketFellKiB)
}

// errorsText lists the errors of s by kind, "" when there were none.
func errorsText(s *summary.Summary) string {
	if s == nil || s.Errors == 0 {
		return ""
	}
	kinds := slices.Sorted(maps.Keys(s.ErrorKinds))
	parts := make([]string, 0, len(kinds))
	for _, k := range kinds {
		if n := s.ErrorKinds[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", k, n))
		}
	}
	list := strings.Join(parts, " ")
	if len(parts) == 0 {
		list = "kinds not given"
	}
	return fmt.Sprintf("%d errors (%s)", s.Errors, list)
}

// JoinReason joins the non-empty parts of a reason with "; ".
func JoinReason(parts ...string) string {
	var keep []string
	for _, p := range parts {
		if p != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, "; ")
}

// MinServedShare is the least share of its offered rate an open-loop row
// must have completed to describe a steady state (see FellBehind).
const MinServedShare = 0.98

// FellBehind reports whether an open-loop row's server answered less than
// MinServedShare of the offered rate: requests queued for the whole window,
// so its latency grows with the window's length and a percentile of it
// describes the run, not the server at that rate. It gives no status (the
// server's own slowness is a result): the curves and the SLO search read
// it to leave such a row out of a steady state.
func (r Row) FellBehind() bool {
	return r.Rate > 0 && r.RPS < MinServedShare*r.Rate
}
