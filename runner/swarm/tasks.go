package swarm

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Task is one task of a service, as `docker inspect TASK...` describes it.
type Task struct {
	ID     string `json:"ID"`
	Slot   int    `json:"Slot"`
	NodeID string `json:"NodeID"`
	Status struct {
		State           string `json:"State"`
		Message         string `json:"Message"`
		Err             string `json:"Err"`
		ContainerStatus struct {
			ExitCode int `json:"ExitCode"`
		} `json:"ContainerStatus"`
	} `json:"Status"`
	DesiredState string `json:"DesiredState"`
}

// ParseTasks reads the JSON array `docker inspect` prints for tasks,
// sorted by slot.
func ParseTasks(data []byte) ([]Task, error) {
	var ts []Task
	if err := json.Unmarshal(data, &ts); err != nil {
		return nil, fmt.Errorf("docker inspect: tasks: %w", err)
	}
	slices.SortFunc(ts, func(a, b Task) int { return a.Slot - b.Slot })
	return ts, nil
}

// Done reports whether the task has reached a state it does not leave.
func (t Task) Done() bool {
	switch t.Status.State {
	case "complete", "failed", "rejected", "shutdown", "orphaned", "remove":
		return true
	}
	return false
}

// Loadgen exit codes a result is still written with: 0, and 4 (saturated:
// the row is marked, see loadgen/README.md).
const exitSaturated = 4

// OK reports whether the task ran to the end with a result: it completed,
// or exited saturated.
func (t Task) OK() bool {
	return t.Status.State == "complete" ||
		t.Status.State == "failed" && t.Status.ContainerStatus.ExitCode == exitSaturated
}

// Outcome says in a few words how the task ended or where it stands.
func (t Task) Outcome() string {
	s := t.Status
	switch {
	case s.State == "complete":
		return "completed"
	case s.State == "failed" && s.ContainerStatus.ExitCode != 0:
		return fmt.Sprintf("exited %d", s.ContainerStatus.ExitCode)
	case s.Err != "":
		return s.State + ": " + s.Err
	}
	return s.State
}

// Log is a generator's stdout split apart: with -collect logs it holds the
// interval log and then the JSON summary.
type Log struct {
	Hlog    string   // the interval log's lines
	Summary string   // the last line that is a JSON object; "" if none
	Other   []string // every other line: loadgen's messages
}

// SplitLog splits a generator's raw task log (`docker service logs --raw`).
// HdrHistogram log lines start with '#', '"' (the column header), "Tag="
// or a digit; a JSON summary starts with '{'; loadgen's own messages start
// with neither.
func SplitLog(raw string) Log {
	var l Log
	var hlog strings.Builder
	for line := range strings.Lines(raw) {
		t := strings.TrimRight(line, "\r\n")
		switch {
		case t == "":
		case strings.HasPrefix(t, "{"):
			l.Summary = t
		case t[0] == '#' || t[0] == '"' || strings.HasPrefix(t, "Tag=") || t[0] >= '0' && t[0] <= '9':
			hlog.WriteString(t)
			hlog.WriteByte('\n')
		default:
			l.Other = append(l.Other, t)
		}
	}
	l.Hlog = hlog.String()
	return l
}

// LastMessage is the line that best says why a task ended: the last line
// it wrote to stderr, else the last line of its stdout that is neither
// interval log nor summary, else "no output".
func LastMessage(stdout, stderr string) string {
	if l := lastLine(stderr, ""); l != "" {
		return l
	}
	if o := SplitLog(stdout).Other; len(o) > 0 {
		return strings.TrimSpace(o[len(o)-1])
	}
	return "no output"
}

// ReplicaError is a generator that failed or did not finish in time.
type ReplicaError struct {
	Slot     int
	Node     string
	Outcome  string        // e.g. "exited 1", "running" (when it timed out)
	Last     string        // last message in its log
	Replicas int           // generators in the run
	Others   int           // further replicas that failed too
	Deadline time.Duration // set when it timed out
}

func (e *ReplicaError) Error() string {
	what := e.Outcome
	if e.Deadline > 0 {
		what = fmt.Sprintf("did not finish within the deadline %v (%s)", e.Deadline, e.Outcome)
	}
	s := fmt.Sprintf("swarm: replica %d of %d %s on node %s; last log line: %s", e.Slot, e.Replicas, what, e.Node, e.Last)
	if e.Others > 0 {
		s += fmt.Sprintf(" (and %d more replicas)", e.Others)
	}
	return s
}
