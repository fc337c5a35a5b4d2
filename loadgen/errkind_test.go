package loadgen

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/asyncbench/asyncbench/loadgen/summary"
)

// summaryErrKinds are the keys of the summary's error_kinds, in the order
// they are reported: consumers of the JSON depend on these bytes.
var summaryErrKinds = []string{"connect", "read", "write", "timeout", "status", "mismatch", "protocol"}

// TestErrNoneIsZero checks that no error is the zero value of ErrKind and
// of the results that carry one, and that it counts nothing.
func TestErrNoneIsZero(t *testing.T) {
	var k ErrKind
	if k != ErrNone || ErrNone != 0 {
		t.Fatalf("zero ErrKind is %d (%s), ErrNone is %d", k, k, ErrNone)
	}
	if p := (pingResult{}); p.kind != ErrNone {
		t.Fatalf("zero pingResult kind %s", p.kind)
	}
	for k := range ErrKinds() {
		if k == ErrNone {
			t.Fatal("ErrKinds yields ErrNone")
		}
	}
	s := &shared{}
	s.phase.Store(phaseMeasure)
	c := &conn{s: s}
	c.fail(ErrNone)
	if c.st.errs != (errCounts{}) || s.errTotal.Load() != 0 {
		t.Fatalf("fail(ErrNone) counted %v, total %d", c.st.errs, s.errTotal.Load())
	}
	if d := c.retry(ErrNone); d != 0 {
		t.Fatalf("retry(ErrNone) = %v, want 0", d)
	}
	c.fail(ErrRead)
	if c.st.errs[ErrRead] != 1 || s.errTotal.Load() != 1 {
		t.Fatalf("fail(ErrRead) counted %v, total %d", c.st.errs, s.errTotal.Load())
	}
	var ph atomicPhase
	if ph.Load() != phaseWarmup {
		t.Fatalf("zero phase %d, want phaseWarmup", ph.Load())
	}
}

// TestErrKindNames checks the names table: every kind has its own non-empty
// name, the names are the summary's error_kinds keys in order, and a
// summary carries exactly those keys with each kind's count.
func TestErrKindNames(t *testing.T) {
	var names []string
	for k := range ErrKinds() {
		name := ErrKindName(k)
		if name == "" || name == ErrKindName(ErrNone) {
			t.Fatalf("kind %d has name %q", k, name)
		}
		if k.String() != name {
			t.Fatalf("kind %d: String %q, ErrKindName %q", k, k.String(), name)
		}
		names = append(names, name)
	}
	if !slices.Equal(names, summaryErrKinds) || len(names) != numErrKinds {
		t.Fatalf("names %q, want %q (%d kinds)", names, summaryErrKinds, numErrKinds)
	}
	for _, k := range []ErrKind{ErrNone, -1, ErrProtocol + 1} {
		if got := ErrKindName(k); got != "none" {
			t.Fatalf("ErrKindName(%d) = %q, want none", int(k), got)
		}
	}

	m := measured{latency: newHist()}
	for k := range ErrKinds() {
		m.counts.errs[k] = uint64(10 + k)
	}
	cfg := Config{Target: "http://127.0.0.1:1/", Conns: 1, Pipeline: 1}
	b, err := json.Marshal(summarize(cfg, summary.WorkloadHTTP, summary.EngineEpoll, m).Summary)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		ErrorKinds map[string]uint64 `json:"error_kinds"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.ErrorKinds) != len(summaryErrKinds) {
		t.Fatalf("error_kinds %v, want the keys %q", got.ErrorKinds, summaryErrKinds)
	}
	for i, name := range summaryErrKinds {
		if n, ok := got.ErrorKinds[name]; !ok || n != uint64(10+i+1) {
			t.Fatalf("error_kinds[%q] = %d (present %v), want %d", name, n, ok, 10+i+1)
		}
	}
}
