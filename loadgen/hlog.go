package loadgen

import (
	"bufio"
	"fmt"
	"io"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// HlogInterval is the length of one interval in the -hlog file.
const HlogInterval = time.Second

// collector cuts the connections' corrected-latency histograms into
// intervals and writes them in the HdrHistogram log format.
//
// Each connection records into its own histogram under its own mutex, which
// only the collector ever contends, once per interval: it swaps the
// connection's histogram with an empty spare, merges the full one into the
// interval and resets it to become the next spare. The hot path pays an
// uncontended lock per read, never a wait on I/O.
//
// The collector shares the generator's CPU with the event loops, so what it
// does during the window delays them. Cutting an interval costs about
// 30 µs at 64 connections; encoding it for the log (compression, about
// 0.5 ms and a fresh compressor's garbage each time, measured with
// GOMAXPROCS=1) is left until the window has closed: intervals wait as
// sparse copies (a few KiB each) in pending, and finish writes them all.
type collector struct {
	conns   []*conn
	spares  []*hdr.PackedHistogram
	iv      *hdr.Histogram // reused interval histogram
	total   *hdr.Histogram
	pending []*hdr.PackedHistogram // intervals cut, not yet written
	w       *bufio.Writer
	lw      *hdr.HistogramLogWriter
	start   time.Time                                              // start of the window
	last    time.Time                                              // end of the previous interval
	onCut   func(elapsed, length time.Duration, iv *hdr.Histogram) // called with each interval cut; may be nil
	stop    chan struct{}
	done    chan struct{}
	err     error
}

// startCollector writes the log header to w and starts cutting intervals;
// with a nil w it only cuts them (for onCut). onCut, when not nil, sees
// every interval but the last, partial one: its end since start, its
// length and its histogram (valid during the call only).
func startCollector(conns []*conn, w io.Writer, start time.Time, onCut func(elapsed, length time.Duration, iv *hdr.Histogram)) *collector {
	c := &collector{
		conns:  conns,
		spares: make([]*hdr.PackedHistogram, len(conns)),
		iv:     newHist(),
		total:  newHist(),
		start:  start,
		last:   start,
		onCut:  onCut,
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	for i := range c.spares {
		c.spares[i] = newPacked()
	}
	if w == nil {
		go c.run()
		return c
	}
	c.w = bufio.NewWriter(w)
	c.lw = hdr.NewHistogramLogWriter(c.w)
	ms := start.UnixMilli()
	c.lw.SetBaseTime(ms)
	c.keep(c.lw.OutputLogFormatVersion())
	c.keep(c.lw.OutputComment("[Latency in microseconds; Interval_Max in seconds]"))
	// The writer's own StartTime and BaseTime lines drop the milliseconds;
	// these keep them, in the format its reader parses.
	secs := float64(ms) / 1000
	_, err := fmt.Fprintf(c.w, "#[StartTime: %.3f (seconds since epoch), %s]\n#[BaseTime: %.3f (seconds since epoch)]\n",
		secs, time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00"), secs)
	c.keep(err)
	c.keep(c.lw.OutputLegend())
	go c.run()
	return c
}

func (c *collector) keep(err error) {
	if c.err == nil {
		c.err = err
	}
}

func (c *collector) run() {
	defer close(c.done)
	t := time.NewTicker(HlogInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case now := <-t.C:
			c.cut(now, false)
		}
	}
}

// cut closes the interval ending at end and, with a log, queues a sparse
// copy of it in pending for finish to write. Intervals are timed in whole
// milliseconds and never shorter than one: an interval that would be empty
// in time is kept only if it holds values (stretched to 1 ms); the last one
// (final) is left out when it holds none.
func (c *collector) cut(end time.Time, final bool) {
	c.iv.Reset()
	for i, cn := range c.conns {
		cn.hmu.Lock()
		cn.lat, c.spares[i] = c.spares[i], cn.lat
		cn.hmu.Unlock()
		c.spares[i].MergeInto(c.iv)
		c.spares[i].Reset()
	}
	if c.onCut != nil && !final {
		c.onCut(end.Sub(c.start), end.Sub(c.last), c.iv)
	}
	startMs, endMs := c.last.UnixMilli(), end.UnixMilli()
	empty := c.iv.TotalCount() == 0
	if empty && (final || endMs <= startMs) {
		return
	}
	endMs = max(endMs, startMs+1)
	c.iv.SetStartTimeMs(startMs)
	c.iv.SetEndTimeMs(endMs)
	c.last = time.UnixMilli(endMs)
	if c.lw != nil {
		p := newPacked()
		p.MergeFrom(c.iv)
		p.Compact()
		p.SetStartTimeMs(startMs)
		p.SetEndTimeMs(endMs)
		c.pending = append(c.pending, p)
	}
	c.total.Merge(c.iv)
}

// finish cuts the last, partial interval once the connections have
// stopped, writes every interval cut to the log, and returns the total of
// all intervals.
func (c *collector) finish(end time.Time) *hdr.Histogram {
	close(c.stop)
	<-c.done
	c.cut(end, true)
	for _, p := range c.pending {
		c.keep(c.lw.OutputIntervalPackedHistogram(p))
	}
	c.pending = nil
	if c.w != nil {
		c.keep(c.w.Flush())
	}
	return c.total
}
