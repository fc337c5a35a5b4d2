package runner

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asyncbench/asyncbench/results"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestBarProgressAdvancesWithinCell runs in a synctest bubble: the sleep
// advances a fake clock, so the test takes no wall time and does not
// depend on how busy the machine is.
func TestBarProgressAdvancesWithinCell(t *testing.T) {
	synctest.Test(t, testBarProgress)
}

func testBarProgress(t *testing.T) {
	var buf syncBuf
	p := &BarProgress{W: &buf}
	c := Cell{Backend: "gnet", Workload: Workloads["plaintext"], Conns: 8, Pipeline: 1, Rep: 1}
	p.Start(2, 4*time.Second)
	p.CellStart(1, 2, c)
	time.Sleep(1300 * time.Millisecond)
	synctest.Wait()
	during := buf.String()
	p.CellDone(1, 2, c, results.Row{Status: results.StatusOK, RPS: 10, P99Us: 5})
	p.Finish()
	// 4 s planned: after ≥ 1 s of the first cell the bar is past 0 %.
	if !regexp.MustCompile(`\b([1-9]|[1-4][0-9])%`).MatchString(during) {
		t.Fatalf("bar did not move during the cell: %q", during)
	}
	if !strings.Contains(buf.String(), "[1/2] gnet/http/plaintext/c8/p1/r0/b0 rep1: 10 req/s p99 5µs ok\n") {
		t.Fatalf("no cell line: %q", buf.String())
	}
}
