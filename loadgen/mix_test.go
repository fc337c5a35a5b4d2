package loadgen

import (
	"bytes"
	"math"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asyncbench/asyncbench/loadgen/summary"
)

func TestParseMix(t *testing.T) {
	good := map[string][]MixEntry{
		"/plaintext:99,/cpu?us=1000:1": {{Path: "/plaintext", Weight: 99}, {Path: "/cpu?us=1000", Weight: 1}},
		"/a:b:3":                       {{Path: "/a:b", Weight: 3}},
		"/:1":                          {{Path: "/", Weight: 1}},
	}
	for in, want := range good {
		got, err := ParseMix(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseMix(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "/a", "/a:0", "/a:-1", "/a:x", "a:1", ":1", "/a:1,", "/a b:1", "/a\r\n:1", "/a:1.5", "/a:1,,/b:2", "/a:2147483648"} {
		if _, err := ParseMix(in); err == nil {
			t.Errorf("ParseMix(%q): no error", in)
		}
	}
}

// TestPickerFollowsWeights draws 100 000 entries: each count lies within
// 6 standard deviations of its binomial mean, and the same seed and
// connection give the same sequence.
func TestPickerFollowsWeights(t *testing.T) {
	for _, weights := range [][]int{{99, 1}, {3, 2, 5}, {1}} {
		var es []MixEntry
		total := 0
		for _, w := range weights {
			es = append(es, MixEntry{Path: "/", Weight: w})
			total += w
		}
		cum := cumulative(es)
		const n = 100_000
		counts := make([]int, len(es))
		p := newPicker(cum, 1, 0)
		for range n {
			counts[p.next()]++
		}
		for i, w := range weights {
			q := float64(w) / float64(total)
			mean, sd := n*q, math.Sqrt(n*q*(1-q))
			if d := math.Abs(float64(counts[i]) - mean); d > 6*sd+1 {
				t.Errorf("weights %v: entry %d drawn %d times, want %.0f ± %.0f", weights, i, counts[i], mean, 6*sd)
			}
		}
	}
	seq := func(seed uint64, id int) []int {
		p := newPicker(cumulative([]MixEntry{{Path: "/a", Weight: 1}, {Path: "/b", Weight: 1}, {Path: "/c", Weight: 2}}), seed, id)
		s := make([]int, 200)
		for i := range s {
			s[i] = p.next()
		}
		return s
	}
	if !slices.Equal(seq(7, 3), seq(7, 3)) {
		t.Error("same seed and connection: different sequences")
	}
	if slices.Equal(seq(7, 3), seq(8, 3)) || slices.Equal(seq(7, 3), seq(7, 4)) {
		t.Error("another seed or connection: the same sequence")
	}
}

// pathServer answers each GET with the response handle gives for its
// request target, after the delay it gives, one request at a time per
// connection (pipelined requests are answered in order). It records every
// request target it saw.
func pathServer(t testing.TB, handle func(path string) (time.Duration, string)) (addr string, seen func() []string) {
	var mu sync.Mutex
	var paths []string
	addr = serve(t, func(c net.Conn) {
		buf := make([]byte, 64<<10)
		have := 0
		for {
			n, err := c.Read(buf[have:])
			if err != nil {
				return
			}
			have += n
			off := 0
			for {
				end := bytes.Index(buf[off:have], []byte("\r\n\r\n"))
				if end < 0 {
					break
				}
				line, _, _ := bytes.Cut(buf[off:off+end], []byte("\r\n"))
				f := strings.Fields(string(line))
				path := ""
				if len(f) == 3 {
					path = f[1]
				}
				mu.Lock()
				if len(paths) < 100_000 {
					paths = append(paths, path)
				}
				mu.Unlock()
				d, resp := handle(path)
				if d > 0 {
					time.Sleep(d)
				}
				if resp != "" {
					if _, err := c.Write([]byte(resp)); err != nil {
						return
					}
				}
				off += end + 4
			}
			have = copy(buf, buf[off:have])
		}
	})
	return addr, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(paths)
	}
}

// TestTargetPathAsGiven: the target's path and query go out as written.
func TestTargetPathAsGiven(t *testing.T) {
	addr, seen := pathServer(t, func(string) (time.Duration, string) { return 0, okResp })
	res := runOK(t, Config{Target: "http://" + addr + "/delay?us=1000", Conns: 1, Requests: 5})
	if res.Summary.Requests != 5 {
		t.Fatalf("requests %d", res.Summary.Requests)
	}
	for _, p := range seen() {
		if p != "/delay?us=1000" {
			t.Fatalf("server saw %q, want /delay?us=1000", p)
		}
	}
}

// checkEndpointTotals: the entries add up to the top-level totals.
func checkEndpointTotals(t *testing.T, s summary.Summary) {
	t.Helper()
	var req, errs uint64
	for _, e := range s.Endpoints {
		req += e.Requests
		errs += e.Errors
	}
	if req != s.Requests || errs != s.Errors {
		t.Fatalf("endpoints add up to %d requests, %d errors; totals %d, %d (%+v)", req, errs, s.Requests, s.Errors, s.Endpoints)
	}
}

// TestMixLatencyPerEndpoint: a server that answers /slow 20 ms late and
// /fast at once shows it in the per-entry p50s, in closed and open loop
// (there, when the generator kept the schedule).
func TestMixLatencyPerEndpoint(t *testing.T) { forEngines(t, testMixLatencyPerEndpoint) }

func testMixLatencyPerEndpoint(t *testing.T, engine summary.Engine) {
	const slow = 20 * time.Millisecond
	addr, seen := pathServer(t, func(p string) (time.Duration, string) {
		if p == "/slow?x=1" {
			return slow, okResp
		}
		return 0, okResp
	})
	for _, rate := range []float64{0, 100} {
		cfg := Config{Engine: engine, Target: "http://" + addr + "/ignored", Conns: 16, Rate: rate,
			Duration: time.Second, Warmup: 100 * time.Millisecond, Mix: "/fast:1,/slow?x=1:1", Seed: 3}
		s := runOK(t, cfg).Summary
		checkEndpointTotals(t, s)
		if s.Mix != cfg.Mix || s.Seed != 3 || len(s.Endpoints) != 2 || s.Endpoints[0].Path != "/fast" || s.Endpoints[1].Path != "/slow?x=1" || s.Endpoints[1].Weight != 1 {
			t.Fatalf("rate %v: summary mix %q seed %d endpoints %+v", rate, s.Mix, s.Seed, s.Endpoints)
		}
		fast, slw := s.Endpoints[0], s.Endpoints[1]
		if fast.Requests < 10 || slw.Requests < 10 || s.Errors != 0 {
			t.Fatalf("rate %v: fast %+v slow %+v errors %v", rate, fast, slw, s.ErrorKinds)
		}
		if p := time.Duration(slw.Latency.P50) * time.Microsecond; p < slow {
			t.Errorf("rate %v: slow p50 %v < %v", rate, p, slow)
		}
		// Both entries see the same round trips, /slow 20 ms more. In open
		// loop, a run whose generator fell behind (marked saturated, as a
		// loaded machine can make it) adds the same backlog of up to
		// seconds to both, which buries the 20 ms: only the bound above
		// holds then.
		if rate > 0 && s.Saturated {
			t.Logf("rate %v: %s; p50 fast %dus, slow %dus not compared", rate, s.SaturatedReason, fast.Latency.P50, slw.Latency.P50)
			continue
		}
		if d := time.Duration(slw.Latency.P50-fast.Latency.P50) * time.Microsecond; d < slow/2 {
			t.Errorf("rate %v: fast p50 %dus not well below slow p50 %dus", rate, fast.Latency.P50, slw.Latency.P50)
		}
	}
	for _, p := range seen() {
		if p != "/fast" && p != "/slow?x=1" {
			t.Fatalf("server saw %q", p)
		}
	}
}

// TestMixErrorsPerEndpoint: 404s of one entry, pipelined, and timeouts of
// another are counted against them and no other.
func TestMixErrorsPerEndpoint(t *testing.T) { forEngines(t, testMixErrorsPerEndpoint) }

func testMixErrorsPerEndpoint(t *testing.T, engine summary.Engine) {
	const notFound = "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nNot Found"
	addr, _ := pathServer(t, func(p string) (time.Duration, string) {
		switch p {
		case "/missing":
			return 0, notFound
		case "/hang":
			return 0, "" // never answered
		}
		return 0, okResp
	})
	for _, pipeline := range []int{1, 8} {
		s := runOK(t, Config{Engine: engine, Target: "http://" + addr + "/", Conns: 3, Pipeline: pipeline,
			Duration: 500 * time.Millisecond, Warmup: 50 * time.Millisecond, Mix: "/ok:3,/missing:1", Seed: 1}).Summary
		checkEndpointTotals(t, s)
		ok, missing := s.Endpoints[0], s.Endpoints[1]
		if ok.Errors != 0 || ok.Requests == 0 || missing.Requests != 0 || missing.Errors == 0 || missing.Errors != s.ErrorKinds["status"] {
			t.Fatalf("pipeline %d: ok %+v missing %+v kinds %v", pipeline, ok, missing, s.ErrorKinds)
		}
	}
	s := runOK(t, Config{Engine: engine, Target: "http://" + addr + "/", Conns: 2, Timeout: 100 * time.Millisecond,
		Duration: 700 * time.Millisecond, Warmup: 0, Mix: "/ok:1,/hang:1", Seed: 9}).Summary
	checkEndpointTotals(t, s)
	ok, hang := s.Endpoints[0], s.Endpoints[1]
	if ok.Errors != 0 || hang.Requests != 0 || hang.Errors == 0 || s.ErrorKinds["timeout"] == 0 {
		t.Fatalf("timeouts: ok %+v hang %+v kinds %v", ok, hang, s.ErrorKinds)
	}
	// Timed-out requests are in the entry's histogram at the time they waited.
	if hang.Latency.Max < 100_000 {
		t.Fatalf("hang max %dus, want ≥ the 100ms timeout", hang.Latency.Max)
	}
}

func TestMixValidate(t *testing.T) {
	for _, cfg := range []Config{
		{Target: "tcp://127.0.0.1:1", Mix: "/a:1"},
		{Target: "http://127.0.0.1:1/", Mix: "/a:1", Body: 10},
		{Target: "http://127.0.0.1:1/", Mix: "a:1"},
	} {
		cfg.Conns, cfg.Duration = 1, time.Second
		if err := cfg.Validate(); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
}

func TestWriteTextMix(t *testing.T) {
	h := newHist()
	_ = h.RecordValue(100)
	r := &Result{Latency: h, Summary: summary.Summary{
		Requests: 10, Mix: "/plaintext:99,/cpu?us=1000:1", Seed: 1, StopReason: summary.StopDuration,
		Endpoints: []summary.EndpointStats{
			{Path: "/plaintext", Weight: 99, Requests: 9, Latency: summary.Percentiles{P50: 100, P99: 200, Max: 300, Mean: 110}},
			{Path: "/cpu?us=1000", Weight: 1, Requests: 1, Errors: 2, Latency: summary.Percentiles{P50: 1500, P99: 1500, Max: 1500, Mean: 1500}},
			{Path: "/none", Weight: 1, Errors: 4},
		},
	}}
	for _, spectrum := range []bool{false, true} {
		var b bytes.Buffer
		if err := WriteText(&b, r, spectrum); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			"Mix (seed 1):",
			"    Endpoint      Weight   Requests   Errors        p50        p99        Max       Mean\n",
			"    /plaintext        99          9        0   100.00us   200.00us   300.00us   110.00us\n",
			"    /cpu?us=1000       1          1        2     1.50ms     1.50ms     1.50ms     1.50ms\n",
			"    /none              1          0        4          -          -          -          -\n",
		} {
			if !strings.Contains(b.String(), want) {
				t.Errorf("output lacks %q:\n%s", want, b.String())
			}
		}
	}
}

// TestMixHotPathAllocs drives one connection's request state through a
// mix without sockets: draw, build the requests, parse the responses and
// record them per entry. It must not allocate.
func TestMixHotPathAllocs(t *testing.T) {
	for _, pipeline := range []int{1, 16} {
		for _, rate := range []float64{0, 1e6} {
			s, err := newShared(Config{Target: "http://127.0.0.1:1/", Conns: 1, Pipeline: pipeline, Rate: rate,
				Duration: time.Second, Mix: "/plaintext:99,/cpu?us=1000:1,/delay?us=5:3", Seed: 1}, false)
			if err != nil {
				t.Fatal(err)
			}
			s.phase.Store(phaseMeasure)
			c := newConn(s, 0)
			resps := bytes.Repeat([]byte(okResp), pipeline)
			now := int64(0)
			step := func() {
				now += 1000
				k := c.take(now, phaseMeasure)
				if len(c.out(k)) == 0 {
					t.Fatal("nothing to send")
				}
				now += 5000
				c.rlen = copy(c.rbuf, resps[:k*len(okResp)])
				if _, err := c.consumeHTTP(now, phaseMeasure); err != nil {
					t.Fatal(err)
				}
			}
			for range 1000 { // populate the histograms' buckets
				step()
			}
			allocs := testing.AllocsPerRun(10_000, step)
			t.Logf("pipeline %d rate %v: %v allocations per step", pipeline, rate, allocs)
			if allocs != 0 {
				t.Errorf("pipeline %d rate %v: %v allocations per step, want 0", pipeline, rate, allocs)
			}
			var n uint64
			for _, e := range c.epSt {
				n += e.requests
			}
			if n != c.st.requests || n == 0 {
				t.Fatalf("entries hold %d requests, connection %d", n, c.st.requests)
			}
		}
	}
}
