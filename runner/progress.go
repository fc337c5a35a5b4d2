package runner

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/asyncbench/asyncbench/results"
)

// Progress is told about each cell of a run. Calls come from one goroutine.
type Progress interface {
	// Start is called once with the number of cells to run and their
	// planned total time.
	Start(cells int, planned time.Duration)
	// CellStart is called before each measurement: the i-th of n known so
	// far. A re-run (c.Attempt > 1) is counted in n once it is queued, so
	// n grows past Start's count when cells are measured again.
	CellStart(i, n int, c Cell)
	// CellDone gets the cell's row.
	CellDone(i, n int, c Cell, r results.Row)
	Finish()
}

type nopProgress struct{}

func (nopProgress) Start(int, time.Duration)             {}
func (nopProgress) CellStart(int, int, Cell)             {}
func (nopProgress) CellDone(int, int, Cell, results.Row) {}
func (nopProgress) Finish()                              {}

// cellLine is the one-line account of a finished cell, e.g.
// "[3/20] gnet/http/plaintext/c64/p1/r0/b0 rep1: 123456 req/s p99 812µs ok";
// a re-run says which: "[21/22] … rep1 re-run 1: …".
func cellLine(i, n int, c Cell, r results.Row) string {
	s := fmt.Sprintf("[%d/%d] %s: ", i, n, cellName(c))
	if r.Status == results.StatusFailed {
		return s + "failed: " + r.Reason
	}
	if c.Workload.Idle {
		s += idleLine(r)
	} else {
		s += fmt.Sprintf("%.0f req/s p99 %s %s", r.RPS, time.Duration(r.P99Us)*time.Microsecond, r.Status)
	}
	if r.Reason != "" {
		s += " (" + r.Reason + ")"
	}
	return s
}

// cellName is the cell's key and round, and its re-run if it is one.
func cellName(c Cell) string {
	s := fmt.Sprintf("%s rep%d", c.Key(), c.Rep)
	if c.Attempt > 1 {
		s += fmt.Sprintf(" re-run %d", c.Attempt-1)
	}
	return s
}

// LineProgress writes one plain line per finished cell, for logs and CI.
type LineProgress struct {
	W io.Writer
}

// Start implements Progress.
func (p LineProgress) Start(cells int, planned time.Duration) {
	fmt.Fprintf(p.W, "running %d cells, about %v\n", cells, planned.Round(time.Second))
}

// CellStart implements Progress.
func (p LineProgress) CellStart(int, int, Cell) {}

// CellDone implements Progress.
func (p LineProgress) CellDone(i, n int, c Cell, r results.Row) {
	fmt.Fprintln(p.W, cellLine(i, n, c, r))
}

// Finish implements Progress.
func (p LineProgress) Finish() {}

// BarProgress draws a progress bar with an ETA on a terminal, measured in
// planned time and advanced while each cell runs, and prints each finished
// cell's line above it.
type BarProgress struct {
	W io.Writer

	mu      sync.Mutex
	bar     *progressbar.ProgressBar
	perCell time.Duration // planned time of one cell
	cells   int           // measurements the bar spans: the planned cells, then re-runs
	base    time.Duration // planned time of the cells finished
	stop    chan struct{} // ends the current cell's ticker
}

// Start implements Progress.
func (p *BarProgress) Start(cells int, planned time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cells = cells
	if cells > 0 {
		p.perCell = planned / time.Duration(cells)
	}
	p.bar = progressbar.NewOptions64(max(int64(planned/time.Millisecond), 1),
		progressbar.OptionSetWriter(p.W),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionFullWidth(),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionSetDescription(fmt.Sprintf("%d cells", cells)),
	)
	_ = p.bar.RenderBlank()
}

// CellStart implements Progress.
func (p *BarProgress) CellStart(i, n int, c Cell) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n > p.cells { // re-runs: the bar grows by their planned time
		p.cells = n
		p.bar.ChangeMax64(max(int64(time.Duration(n)*p.perCell/time.Millisecond), 1))
	}
	p.bar.Describe(fmt.Sprintf("[%d/%d] %s", i, n, cellName(c)))
	p.stop = make(chan struct{})
	go p.tick(p.stop, time.Now())
}

// tick moves the bar through the current cell's planned time, stopping
// just short of its end until the cell is done.
func (p *BarProgress) tick(stop chan struct{}, start time.Time) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			p.mu.Lock()
			d := min(time.Since(start), p.perCell*95/100)
			_ = p.bar.Set64(int64((p.base + d) / time.Millisecond))
			p.mu.Unlock()
		}
	}
}

// CellDone implements Progress.
func (p *BarProgress) CellDone(i, n int, c Cell, r results.Row) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endTick()
	p.base += p.perCell
	_ = p.bar.Clear()
	fmt.Fprintln(p.W, cellLine(i, n, c, r))
	_ = p.bar.Set64(int64(p.base / time.Millisecond))
}

func (p *BarProgress) endTick() {
	if p.stop != nil {
		close(p.stop)
		p.stop = nil
	}
}

// Finish implements Progress.
func (p *BarProgress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endTick()
	_ = p.bar.Clear()
}
