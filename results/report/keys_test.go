package report

import (
	"testing"

	"github.com/asyncbench/asyncbench/results"
)

func TestConfigOf(t *testing.T) {
	base := results.Row{Proto: "http", Workload: "delay", HandlerUs: new(int64(1000)), Pipeline: 1, Conns: 64, Rate: 5000}
	same := map[string]func(*results.Row){
		"backend":         func(r *results.Row) { r.Backend = "gnet" },
		"label":           func(r *results.Row) { r.Label = "gnet-b" },
		"round":           func(r *results.Row) { r.Rep = 7 },
		"attempt":         func(r *results.Row) { r.Attempt = 2 },
		"status":          func(r *results.Row) { r.Status = results.StatusSaturated },
		"measured values": func(r *results.Row) { r.RPS, r.P99Us = 123, 456 },
	}
	for name, f := range same {
		r := base
		f(&r)
		if configOf(r) != configOf(base) {
			t.Errorf("%s: configOf separates %+v from %+v", name, configOf(r), configOf(base))
		}
	}
	apart := map[string]func(*results.Row){
		"proto":       func(r *results.Row) { r.Proto = "echo" },
		"workload":    func(r *results.Row) { r.Workload = "cpu" },
		"handler":     func(r *results.Row) { r.HandlerUs = new(int64(2000)) },
		"no handler":  func(r *results.Row) { r.HandlerUs = nil },
		"mix":         func(r *results.Row) { r.Mix = "a:1,b:2" },
		"pipeline":    func(r *results.Row) { r.Pipeline = 16 },
		"payload":     func(r *results.Row) { r.Payload = 1024 },
		"conns":       func(r *results.Row) { r.Conns = 128 },
		"rate":        func(r *results.Row) { r.Rate = 10000 },
		"closed loop": func(r *results.Row) { r.Rate = 0 },
		"fraction":    func(r *results.Row) { r.RateFraction = new(0.5) },
		"server cpus": func(r *results.Row) { r.ServerCPUCount = new(2) },
	}
	for name, f := range apart {
		r := base
		f(&r)
		if configOf(r) == configOf(base) {
			t.Errorf("%s: configOf does not separate the rows: %+v", name, configOf(r))
		}
	}
}

// A rate given as a share of capacity resolves to a different rate per
// backend and round; the configuration holds the share.
func TestConfigOfFraction(t *testing.T) {
	a := results.Row{Proto: "http", Workload: "plaintext", Pipeline: 1, Conns: 64, Rate: 41000, RateFraction: new(0.25)}
	b := a
	b.Rate = 52000
	if configOf(a) != configOf(b) {
		t.Errorf("same share, different resolved rates: %+v and %+v", configOf(a), configOf(b))
	}
	if c := configOf(a); c.rate != 0 || c.fraction != 0.25 {
		t.Errorf("configOf = %+v, want rate 0, fraction 0.25", c)
	}
}

func TestConfigProjections(t *testing.T) {
	r := results.Row{Proto: "http", Workload: "delay", HandlerUs: new(int64(1000)), Pipeline: 1, Conns: 64, Rate: 5000, ServerCPUCount: new(2)}
	c := configOf(r)
	g := c.group()
	if g.handler != "1000" || g.rate != 5000 || g.serverCPUs != 2 || g.conns != 0 {
		t.Errorf("group() = %+v", g)
	}
	if k := c.curve(); k.rate != 0 || k.fraction != 0 || k.conns != 64 || k.serverCPUs != 2 {
		t.Errorf("curve() = %+v", k)
	}
	if k := c.cpus(); k.serverCPUs != 0 || k.conns != 64 || k.handler != "1000" {
		t.Errorf("cpus() = %+v", k)
	}
	if id := c.workloadID(); id != "delay-1000us-s2" {
		t.Errorf("workloadID() = %q, want delay-1000us-s2", id)
	}
}
