package runner

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/asyncbench/asyncbench/runner/cpuset"
)

// A plan's server_cpus axis measures every cell once per server CPU
// count. The server of a count-n cell runs on the first n available CPUs
// with GOMAXPROCS = n (so gnet runs n event loops); the generator runs on
// every CPU after the largest count, the same set in every cell, so only
// the server side changes along the axis. The sets never overlap.

// MaxServerCPUs bounds a server_cpus value; it matches cpuset's limit.
const MaxServerCPUs = 1024

// CPUSplit is the server's and the generator's CPU sets for one server
// CPU count.
type CPUSplit struct {
	ServerCPUs int
	Server     cpuset.Set
	Generator  cpuset.Set
}

// SplitCPUs chooses the CPU sets for each server CPU count from avail
// (the CPUs bench may use, in order): the server gets the first n, the
// generator every CPU after the largest count. A count that leaves no CPU
// for the generator refuses the plan, saying how many CPUs it needs.
func SplitCPUs(avail cpuset.Set, counts []int) ([]CPUSplit, error) {
	if len(counts) == 0 {
		return nil, errors.New("server_cpus: no counts")
	}
	most := slices.Max(counts)
	if most < 1 {
		return nil, fmt.Errorf("server_cpus %d: must be at least 1", most)
	}
	if most+1 > len(avail) {
		return nil, fmt.Errorf("server_cpus %d needs %d CPUs (%d server + 1 generator); this machine has %d (%s) available: remove the larger counts or run on a bigger machine",
			most, most+1, most, len(avail), avail)
	}
	gen := slices.Clone(avail[most:])
	out := make([]CPUSplit, 0, len(counts))
	for _, n := range counts {
		if n < 1 {
			return nil, fmt.Errorf("server_cpus %d: must be at least 1", n)
		}
		out = append(out, CPUSplit{ServerCPUs: n, Server: slices.Clone(avail[:n]), Generator: gen})
	}
	return out, nil
}

// FormatSplits renders the splits one per line: "server_cpus 2: server CPUs
// 0-1, generator CPUs 4-7".
func FormatSplits(splits []CPUSplit) string {
	var b strings.Builder
	for _, s := range splits {
		fmt.Fprintf(&b, "server_cpus %d: server CPUs %s, generator CPUs %s\n", s.ServerCPUs, s.Server, s.Generator)
	}
	return b.String()
}

// checkServerCPUs checks the server_cpus values, without the machine.
func (p *Plan) checkServerCPUs() []error {
	var errs []error
	seen := map[int]bool{}
	for _, n := range p.ServerCPUs {
		switch {
		case n < 1 || n >= MaxServerCPUs:
			errs = append(errs, fmt.Errorf("server_cpus %d: must be 1 to %d", n, MaxServerCPUs-1))
		case seen[n]:
			errs = append(errs, fmt.Errorf("server_cpus %d listed twice", n))
		}
		seen[n] = true
	}
	return errs
}

// serverCPUCounts is the axis Expand walks: the plan's counts, or one 0
// (no axis).
func (p *Plan) serverCPUCounts() []int {
	if len(p.ServerCPUs) == 0 {
		return []int{0}
	}
	return p.ServerCPUs
}

// checkSplits reports a server_cpus count without CPU sets in the config.
func (c *Config) checkSplits() error {
	for _, n := range c.Plan.ServerCPUs {
		if c.split(n) == nil {
			return fmt.Errorf("server_cpus %d: no CPU sets chosen (see SplitCPUs)", n)
		}
	}
	return nil
}

func (c *Config) split(n int) *CPUSplit {
	for i := range c.CPUSplits {
		if c.CPUSplits[i].ServerCPUs == n {
			return &c.CPUSplits[i]
		}
	}
	return nil
}

// forCell is the config cell c runs with: for a cell of a server_cpus
// axis a copy pinned to its count's CPU sets, else c itself.
func (c *Config) forCell(cell Cell) *Config {
	if cell.ServerCPUs == 0 {
		return c
	}
	s := c.split(cell.ServerCPUs)
	if s == nil {
		return c // checkSplits refused such a run before it started
	}
	cc := *c
	cc.ServerCPUSet, cc.GeneratorCPUSet = s.Server, s.Generator
	return &cc
}
