package report

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"strconv"

	"github.com/asyncbench/asyncbench/results"
)

// config is the configuration of a row: every field that makes two rows
// measurements of the same thing, save the label and the round.
type config struct {
	proto, workload string
	handler         string // µs per request of delay and cpu workloads; empty for others
	mix             string // spec of a mix workload
	pipeline        int
	payload         int
	conns           int
	rate            float64 // open-loop req/s; 0 when closed loop or a fraction
	fraction        float64 // open-loop rate as a share of capacity; 0 when none
	serverCPUs      int     // count on a server_cpus axis; 0 = none
}

// configOf is the configuration of r. A rate given as a share of capacity
// is held as that share, not as the rate it resolved to (which differs by
// backend and round).
func configOf(r results.Row) config {
	c := config{
		proto: r.Proto, workload: r.Workload, handler: handlerKey(r), mix: r.Mix,
		pipeline: r.Pipeline, payload: r.Payload, conns: r.Conns, rate: r.Rate,
		serverCPUs: serverCPUsOf(r),
	}
	if r.RateFraction != nil {
		c.rate, c.fraction = 0, *r.RateFraction
	}
	return c
}

// group is c without its connection count: the rows of one table.
func (c config) group() groupKey {
	c.conns = 0
	return groupKey(c)
}

// curve is c without its open-loop rate: the points of one curve.
func (c config) curve() curveKey {
	c.rate, c.fraction = 0, 0
	return curveKey(c)
}

// cpus is c off its server_cpus axis: the points of one cpusSeries.
func (c config) cpus() cpusKey {
	return cpusKey(c.withoutCPUs())
}

// withoutCPUs is c off any server_cpus axis.
func (c config) withoutCPUs() config {
	c.serverCPUs = 0
	return c
}

// idle is the part of c that splits idle rows: the connection count is
// the axis their cost per connection is fitted over.
func (c config) idle() idleGroupKey {
	return idleGroupKey{proto: c.proto, workload: c.workload, payload: c.payload, serverCPUs: c.serverCPUs}
}

// workloadID names c's workload with its parameter, so that cells with
// different handler times, mixes or server CPU counts are never compared
// as one: "plaintext", "delay-1000us", "mix-mix10ac89ac", "plaintext-s2".
func (c config) workloadID() string {
	id := c.workload
	if c.handler != "" {
		id += "-" + c.handler + "us"
	}
	if c.mix != "" {
		id += "-" + mixSlug(c.mix)
	}
	if c.serverCPUs > 0 {
		id += "-s" + strconv.Itoa(c.serverCPUs)
	}
	return id
}

// compareConfigs orders configurations by protocol, workload, connections,
// pipeline, payload, share of capacity and rate, then by handler time, mix
// and server CPU count.
func compareConfigs(a, b config) int {
	return cmp.Or(cmp.Compare(a.proto, b.proto), cmp.Compare(a.workload, b.workload), cmp.Compare(a.conns, b.conns),
		cmp.Compare(a.pipeline, b.pipeline), cmp.Compare(a.payload, b.payload), cmp.Compare(a.fraction, b.fraction),
		cmp.Compare(a.rate, b.rate), cmp.Compare(a.handler, b.handler), cmp.Compare(a.mix, b.mix),
		cmp.Compare(a.serverCPUs, b.serverCPUs))
}

// handlerOf returns a row's handler time in µs, -1 when its workload has
// none.
func handlerOf(r results.Row) int64 {
	if r.HandlerUs == nil {
		return -1
	}
	return *r.HandlerUs
}

// handlerKey is a row's handler time as config holds it: empty when its
// workload has none.
func handlerKey(r results.Row) string {
	if r.HandlerUs == nil {
		return ""
	}
	return strconv.FormatInt(*r.HandlerUs, 10)
}

// workloadID is configOf(r).workloadID().
func workloadID(r results.Row) string {
	return configOf(r).workloadID()
}

// mixSlug is a short file-name-safe stand-in for a mix spec.
func mixSlug(spec string) string {
	h := fnv.New32a()
	h.Write([]byte(spec))
	return fmt.Sprintf("mix%08x", h.Sum32())
}
