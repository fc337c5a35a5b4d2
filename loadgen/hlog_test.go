package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// logInterval is one interval line of an .hlog file.
type logInterval struct {
	start, length float64 // seconds from the base time
	count         int64
}

// readHlog parses a log with hdrhistogram-go's reader (for the
// histograms) and by line (for the timestamps and header).
func readHlog(t *testing.T, log []byte) (header []string, ivs []logInterval, total *hdr.Histogram) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(log))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.HasPrefix(line, `"`) {
			header = append(header, line)
			continue
		}
		f := strings.Split(line, ",")
		start, err1 := strconv.ParseFloat(f[0], 64)
		length, err2 := strconv.ParseFloat(f[1], 64)
		if len(f) != 4 || err1 != nil || err2 != nil {
			t.Fatalf("bad interval line %q", line)
		}
		ivs = append(ivs, logInterval{start: start, length: length})
	}
	r := hdr.NewHistogramLogReader(bytes.NewReader(log))
	total = newHist()
	for i := 0; ; i++ {
		h, err := r.NextIntervalHistogram()
		if errors.Is(err, io.EOF) || (err == nil && h == nil) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ivs[i].count = h.TotalCount()
		total.Merge(h)
	}
	return header, ivs, total
}

// checkIntervals checks that intervals are positive, contiguous and
// increasing.
func checkIntervals(t *testing.T, ivs []logInterval) {
	t.Helper()
	end := 0.0
	for i, iv := range ivs {
		if iv.length <= 0 || iv.start < end-1e-6 {
			t.Fatalf("interval %d %+v: want positive length, starting at or after %v", i, iv, end)
		}
		end = iv.start + iv.length
	}
}

// TestCollectorIntervals cuts intervals in a bubble of fake time: 2 s of
// recording give exactly two 1 s intervals with the values recorded in
// each, no zero-length or empty one after them, and a start time with its
// milliseconds.
func TestCollectorIntervals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		time.Sleep(123 * time.Millisecond) // the bubble's clock starts on a whole second
		s := &shared{cfg: Config{Pipeline: 1}, req: []byte("x"), hlog: true}
		conns := []*conn{newConn(s, 0), newConn(s, 1)}
		record := func(c *conn, n int) {
			c.hmu.Lock()
			defer c.hmu.Unlock()
			for range n {
				c.lat.RecordValue(100)
			}
		}
		var log bytes.Buffer
		start := time.Now()
		col := startCollector(conns, &log, start, nil)
		record(conns[0], 3)
		time.Sleep(1500 * time.Millisecond)
		record(conns[1], 2)
		time.Sleep(500 * time.Millisecond) // the second tick, at 2 s
		synctest.Wait()
		total := col.finish(time.Now())
		if col.err != nil {
			t.Fatal(col.err)
		}
		header, ivs, logTotal := readHlog(t, log.Bytes())
		if len(ivs) != 2 || ivs[0].count != 3 || ivs[1].count != 2 || ivs[0].length != 1 || ivs[1].length != 1 {
			t.Fatalf("intervals %+v, want two of 1 s holding 3 and 2", ivs)
		}
		checkIntervals(t, ivs)
		if total.TotalCount() != 5 || !total.Equals(logTotal) {
			t.Fatalf("total %d, log total %d", total.TotalCount(), logTotal.TotalCount())
		}
		want := strconv.FormatFloat(float64(start.UnixMilli())/1000, 'f', 3, 64)
		if !strings.HasSuffix(want, ".123") || !strings.Contains(strings.Join(header, "\n"), "#[StartTime: "+want) ||
			!strings.Contains(strings.Join(header, "\n"), "#[BaseTime: "+want) {
			t.Fatalf("header %q, want StartTime and BaseTime %s", header, want)
		}
	})
}

// TestCollectorWritesAtFinish: during the window the log holds only its
// header (encoding an interval costs the generator's CPU); finish writes
// every interval cut, with every value where it was recorded.
func TestCollectorWritesAtFinish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &shared{cfg: Config{Pipeline: 1}, req: []byte("x"), hlog: true}
		conns := []*conn{newConn(s, 0), newConn(s, 1)}
		var log bytes.Buffer
		col := startCollector(conns, &log, time.Now(), nil)
		col.w.Flush()
		header := log.Len()
		values := []int64{1, 250, 999, 1000, 1001, 123456, 3_000_000}
		for sec := range 3 {
			c := conns[sec%2]
			c.hmu.Lock()
			for _, v := range values {
				c.lat.RecordValues(v, int64(sec+1))
			}
			c.hmu.Unlock()
			time.Sleep(time.Second)
			synctest.Wait()
		}
		col.w.Flush()
		if log.Len() != header {
			t.Fatalf("log grew from %d to %d bytes during the window", header, log.Len())
		}
		col.finish(time.Now())
		_, ivs, total := readHlog(t, log.Bytes())
		if len(ivs) != 3 {
			t.Fatalf("%d intervals, want 3", len(ivs))
		}
		for i, iv := range ivs {
			if want := int64(len(values) * (i + 1)); iv.count != want {
				t.Errorf("interval %d holds %d values, want %d", i, iv.count, want)
			}
		}
		want := newHist()
		for _, v := range values {
			want.RecordValues(v, 6)
		}
		if !total.Equals(want) {
			t.Errorf("the log's values differ from those recorded: p50 %d, max %d, want %d, %d",
				total.ValueAtQuantile(50), total.Max(), want.ValueAtQuantile(50), want.Max())
		}
	})
}

// TestCollectorLastInterval: a run ending 300 ms after a tick writes a
// last interval of 0.3 s; values recorded at the very end of a tick go in a
// 1 ms interval, never a zero-length one.
func TestCollectorLastInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &shared{cfg: Config{Pipeline: 1}, req: []byte("x"), hlog: true}
		conns := []*conn{newConn(s, 0)}
		var log bytes.Buffer
		col := startCollector(conns, &log, time.Now(), nil)
		record := func(v int64) {
			conns[0].hmu.Lock()
			defer conns[0].hmu.Unlock()
			conns[0].lat.RecordValue(v)
		}
		record(7)
		time.Sleep(1300 * time.Millisecond)
		record(9)
		col.finish(time.Now())
		_, ivs, _ := readHlog(t, log.Bytes())
		checkIntervals(t, ivs)
		if len(ivs) != 2 || ivs[1].length < 0.299 || ivs[1].length > 0.301 || ivs[1].count != 1 {
			t.Fatalf("intervals %+v, want the last of 0.3 s with 1 value", ivs)
		}
	})
}

// TestLiveLines: without an interval log, the collector still cuts 1 s
// intervals for the live line, in fake time: two full intervals of 3 and
// 2 responses, and no call for the last, partial one.
func TestLiveLines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		conns := []*conn{{lat: newPacked()}, {lat: newPacked()}}
		var lines []string
		start := time.Now()
		col := startCollector(conns, nil, start, func(elapsed, length time.Duration, iv *hdr.Histogram) {
			lines = append(lines, LiveLine(elapsed, iv.TotalCount(), length, iv.ValueAtQuantile(99), 7))
		})
		rec := func(c *conn, v int64) {
			c.hmu.Lock()
			c.lat.RecordValue(v)
			c.hmu.Unlock()
		}
		for range 3 {
			rec(conns[0], 1500)
		}
		time.Sleep(1500 * time.Millisecond)
		rec(conns[1], 100)
		rec(conns[1], 100)
		time.Sleep(500 * time.Millisecond)
		synctest.Wait()
		rec(conns[0], 100)
		time.Sleep(300 * time.Millisecond)
		total := col.finish(time.Now())
		if total.TotalCount() != 6 || col.err != nil {
			t.Fatalf("total %d err %v", total.TotalCount(), col.err)
		}
		want := []string{
			LiveLine(time.Second, 3, time.Second, 1500, 7),
			LiveLine(2*time.Second, 2, time.Second, 100, 7),
		}
		if !slices.Equal(lines, want) {
			t.Fatalf("lines %q, want %q", lines, want)
		}
	})
}

func TestLiveLine(t *testing.T) {
	for _, tc := range []struct {
		elapsed, length time.Duration
		count, p99      int64
		errors          uint64
		want            string
	}{
		{3 * time.Second, time.Second, 45123, 1230, 0, "      3s       45123 req/s  p99    1.23ms  errors 0"},
		{61*time.Second + 400*time.Millisecond, 500 * time.Millisecond, 100, 950, 12, "    1m1s         200 req/s  p99  950.00us  errors 12"},
		{time.Second, time.Second, 0, 0, 3, "      1s           0 req/s  p99         -  errors 3"},
	} {
		got := LiveLine(tc.elapsed, tc.count, tc.length, tc.p99, tc.errors)
		if !strings.HasPrefix(got, "\r") || len(got) != 61 || strings.TrimRight(got[1:], " ") != tc.want {
			t.Errorf("LiveLine = %q, want \\r%q padded to 60", got, tc.want)
		}
	}
}
