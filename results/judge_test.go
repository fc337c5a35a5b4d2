package results

import (
	"testing"

	"github.com/asyncbench/asyncbench/loadgen/summary"
)

// TestJudge covers every rule of the status table and the precedence
// between rules that match together, with the exact reasons.
func TestJudge(t *testing.T) {
	ok := func(edit func(*summary.Summary)) *summary.Summary {
		s := &summary.Summary{Requests: 1000}
		if edit != nil {
			edit(s)
		}
		return s
	}
	oneRead := func(s *summary.Summary) { s.Errors, s.ErrorKinds = 1, map[string]uint64{"read": 1} }
	backlog := func(s *summary.Summary) { s.ServerBacklog, s.ServerBacklogReason = true, "sends waited" }
	idle := func(s *summary.Summary) { s.Requests, s.ServerIdle = 0, &summary.IdleMemory{} }
	const (
		noise   = "other processes used 15.0% of the pinned CPUs (limit 5%)"
		fell    = "system-wide TCP memory fell by 100 KiB while the connections were open: other sockets closed meanwhile"
		failRun = "loadgen reported a failed run (exit status 3): run failed"
		satRun  = "loadgen reported a saturated run (exit status 4)"
	)
	tests := []struct {
		name   string
		rule   string // the rule that gives the status
		ev     Evidence
		status Status
		reason string
	}{
		{"not run", "not run",
			Evidence{Failure: "server exited before listening", Notes: []string{"ran after waiting 5s for quiet"}},
			StatusFailed, "server exited before listening; ran after waiting 5s for quiet"},
		{"server exited", "server exited",
			Evidence{Summary: ok(func(s *summary.Summary) { oneRead(s); s.StopReason = summary.StopServerExited })},
			StatusFailed, "server exited during the run; 1 errors (read=1)"},
		{"server exited beats nothing completed", "server exited",
			Evidence{Summary: &summary.Summary{Server: &summary.ServerStats{Exited: true}}},
			StatusFailed, "server exited during the run"},
		{"idle without server_idle", "idle without server_idle",
			Evidence{Summary: &summary.Summary{}, Idle: true},
			StatusFailed, "the generator reported no server_idle (a loadgen without -idle?)"},
		{"nothing completed", "nothing completed",
			Evidence{Summary: &summary.Summary{Errors: 5}},
			StatusFailed, "no requests completed; 5 errors (kinds not given)"},
		{"one connect error", "connect errors",
			Evidence{Summary: ok(func(s *summary.Summary) {
				s.Requests, s.Errors, s.ErrorKinds = 100000, 1, map[string]uint64{summary.ErrorKindConnect: 1}
			})},
			StatusFailed, "connections failed; 1 errors (connect=1)"},
		{"idle connect beats unanswered", "connect errors",
			Evidence{Summary: ok(func(s *summary.Summary) {
				idle(s)
				s.Errors, s.ErrorKinds = 2, map[string]uint64{"connect": 1, "timeout": 1}
			}), Idle: true},
			StatusFailed, "connections failed; 2 errors (connect=1 timeout=1)"},
		{"idle request unanswered", "idle request unanswered",
			Evidence{Summary: ok(func(s *summary.Summary) {
				idle(s)
				s.Errors, s.ErrorKinds = 1, map[string]uint64{"timeout": 1}
			}), Idle: true},
			StatusFailed, "not every connection's request was answered; 1 errors (timeout=1)"},
		{"errors over 1%", "too many errors",
			Evidence{Summary: &summary.Summary{Requests: 98, Errors: 2}},
			StatusFailed, "more than 1% of requests failed; 2 errors (kinds not given)"},
		{"errors at 1%", "ok",
			Evidence{Summary: &summary.Summary{Requests: 99, Errors: 1, ErrorKinds: map[string]uint64{"read": 1, "write": 0}}},
			StatusOK, "1 errors (read=1)"},
		{"errors beat saturation, backlog, exit, noise and bottleneck", "too many errors",
			Evidence{Summary: &summary.Summary{Requests: 98, Errors: 2, Saturated: true, ServerBacklog: true},
				Exit: StatusSaturated, ExitDetail: " (exit status 4)", Noise: noise, Bottleneck: BottleneckGenerator},
			StatusFailed, "more than 1% of requests failed; 2 errors (kinds not given)"},
		{"generator exited failed", "generator exited failed",
			Evidence{Summary: ok(func(s *summary.Summary) { s.Saturated, s.SaturatedReason = true, "send lag p99 5ms" }),
				Exit: StatusFailed, ExitDetail: " (exit status 3): run failed"},
			StatusFailed, failRun + "; send lag p99 5ms"},
		{"exit failed beats noisy host and bottleneck", "generator exited failed",
			Evidence{Summary: ok(oneRead), Exit: StatusFailed, ExitDetail: " (exit status 3): run failed", Noise: noise, Bottleneck: BottleneckGenerator},
			StatusFailed, failRun + "; 1 errors (read=1)"},
		{"idle exit failed keeps the fall", "generator exited failed",
			Evidence{Summary: ok(idle), Idle: true, SocketFellKiB: 100, Exit: StatusFailed, ExitDetail: " (exit status 3): run failed"},
			StatusFailed, failRun + "; " + fell},
		{"noisy host", "noisy host",
			Evidence{Summary: ok(nil), Noise: noise},
			StatusNoisy, noise},
		{"noisy beats generator-bound", "noisy host",
			Evidence{Summary: ok(oneRead), Noise: noise, Bottleneck: BottleneckGenerator},
			StatusNoisy, noise + "; generator-bound; 1 errors (read=1)"},
		{"noisy beats backlog", "noisy host",
			Evidence{Summary: ok(backlog), Rate: 1000, Noise: noise},
			StatusNoisy, noise + "; server backlog: sends waited"},
		{"noisy beats exit saturated over backlog", "noisy host",
			Evidence{Summary: ok(backlog), Rate: 1000, Noise: noise, Exit: StatusSaturated, ExitDetail: " (exit status 4)"},
			StatusNoisy, noise + "; " + satRun + "; server backlog: sends waited"},
		{"noisy beats saturated", "noisy host",
			Evidence{Summary: ok(func(s *summary.Summary) { s.Saturated, s.SaturatedReason = true, "send lag p99 5ms" }), Noise: noise},
			StatusNoisy, noise + "; send lag p99 5ms"},
		{"noisy beats idle socket fall", "noisy host",
			Evidence{Summary: ok(idle), Idle: true, SocketFellKiB: 100, Noise: noise},
			StatusNoisy, noise + "; " + fell},
		{"generator saturated", "generator saturated",
			Evidence{Summary: ok(func(s *summary.Summary) { oneRead(s); s.Saturated, s.SaturatedReason = true, "send lag p99 5ms" })},
			StatusSaturated, "send lag p99 5ms; 1 errors (read=1)"},
		{"saturated without a reason beats backlog, exit and bottleneck", "generator saturated",
			Evidence{Summary: ok(func(s *summary.Summary) { backlog(s); s.Saturated = true }),
				Exit: StatusSaturated, ExitDetail: " (exit status 4)", Bottleneck: BottleneckGenerator},
			StatusSaturated, "generator fell behind its schedule"},
		{"idle saturated", "generator saturated",
			Evidence{Summary: ok(func(s *summary.Summary) { idle(s); s.Saturated = true }), Idle: true, SocketFellKiB: 100},
			StatusSaturated, "generator fell behind its schedule"},
		{"idle socket memory fell", "idle socket memory fell",
			Evidence{Summary: ok(idle), Idle: true, SocketFellKiB: 100, Exit: StatusSaturated, Bottleneck: BottleneckGenerator},
			StatusNoisy, fell},
		{"generator exited saturated", "generator exited saturated",
			Evidence{Summary: ok(oneRead), Exit: StatusSaturated, ExitDetail: " (exit status 4)", Bottleneck: BottleneckGenerator},
			StatusSaturated, satRun + "; 1 errors (read=1)"},
		{"exit saturated over backlog", "generator exited saturated",
			Evidence{Summary: ok(backlog), Rate: 1000, Exit: StatusSaturated, ExitDetail: " (exit status 4)"},
			StatusSaturated, satRun + "; server backlog: sends waited"},
		{"server backlog", "server backlog",
			Evidence{Summary: ok(func(s *summary.Summary) { oneRead(s); backlog(s) }), Rate: 1000},
			StatusBacklog, "server backlog: sends waited; 1 errors (read=1)"},
		{"backlog beats generator-bound", "server backlog",
			Evidence{Summary: ok(backlog), Bottleneck: BottleneckGenerator},
			StatusBacklog, "server backlog: sends waited"},
		{"idle has no backlog", "ok",
			Evidence{Summary: ok(func(s *summary.Summary) { idle(s); backlog(s) }), Idle: true},
			StatusOK, ""},
		{"generator-bound", "generator-bound",
			Evidence{Summary: ok(oneRead), Bottleneck: BottleneckGenerator, Notes: []string{"ran after waiting 5s for quiet"}},
			StatusSaturated, "generator-bound; 1 errors (read=1); ran after waiting 5s for quiet"},
		{"open loop generator-bound is ok", "ok",
			Evidence{Summary: ok(nil), Rate: 1000, Bottleneck: BottleneckGenerator},
			StatusOK, ""},
		{"ok with notes", "ok",
			Evidence{Summary: ok(oneRead), Bottleneck: BottleneckServer, Notes: []string{"TCP slab unreadable", "ran after waiting 5s for quiet"}},
			StatusOK, "1 errors (read=1); TCP slab unreadable; ran after waiting 5s for quiet"},
	}
	won := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := firstMatch(&tt.ev, LayerHost+1); r.Name != tt.rule {
				t.Errorf("first match %q, want %q", r.Name, tt.rule)
			}
			won[tt.rule] = true
			st, reason := Judge(tt.ev)
			if st != tt.status || reason != tt.reason {
				t.Errorf("Judge = %s %q\nwant %s %q", st, reason, tt.status, tt.reason)
			}
		})
	}
	for _, r := range Rules {
		if !won[r.Name] {
			t.Errorf("no case for rule %q", r.Name)
		}
	}
}

// TestFellBehind: an open-loop row served less than MinServedShare of its
// rate; a closed-loop row never fell behind.
func TestFellBehind(t *testing.T) {
	for _, tt := range []struct {
		rate, rps float64
		want      bool
	}{{0, 10, false}, {1000, 980, false}, {1000, 979.9, true}, {1000, 1000, false}} {
		if got := (Row{Rate: tt.rate, RPS: tt.rps}).FellBehind(); got != tt.want {
			t.Errorf("rate %v rps %v: %v, want %v", tt.rate, tt.rps, got, tt.want)
		}
	}
}
