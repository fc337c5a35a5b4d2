package main

import (
	"strings"
	"testing"

	"github.com/asyncbench/asyncbench/runner"
	"github.com/asyncbench/asyncbench/runner/cpuset"
)

func TestAxisSplits(t *testing.T) {
	plan := runner.Plan{Name: "cpus", ServerCPUs: []int{1, 2, 4}}
	two, eight := cpuset.Set{0, 1}, cpuset.Set{0, 1, 2, 3, 4, 5, 6, 7}
	tests := []struct {
		name        string
		server, gen string
		avail       cpuset.Set
		want        string // runner.FormatSplits, or a substring of the error
	}{
		{"fits", "", "", eight, "server_cpus 1: server CPUs 0, generator CPUs 4-7\n" +
			"server_cpus 2: server CPUs 0-1, generator CPUs 4-7\n" +
			"server_cpus 4: server CPUs 0-3, generator CPUs 4-7\n"},
		{"too few CPUs", "", "", two, "run: plan cpus: server_cpus 4 needs 5 CPUs (4 server + 1 generator); this machine has 2 (0-1) available"},
		{"with -server-cpus", "0", "", eight, "plan cpus has server_cpus, which chooses the CPU sets of every cell; drop -server-cpus and -gen-cpus"},
		{"with -gen-cpus", "", "7", eight, "drop -server-cpus and -gen-cpus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			splits, err := axisSplits(plan, tt.server, tt.gen, tt.avail)
			got := runner.FormatSplits(splits)
			if err != nil {
				got = err.Error()
			}
			if !strings.Contains(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestChooseRunCPUsWithoutAxis(t *testing.T) {
	// No axis: exactly chooseCPUs.
	s1, g1, w1, err1 := chooseCPUs("", "")
	s2, g2, splits, w2, err2 := chooseRunCPUs(runner.Plan{}, "", "")
	if s1.String() != s2.String() || g1.String() != g2.String() || w1 != w2 || (err1 == nil) != (err2 == nil) || splits != nil {
		t.Errorf("chooseRunCPUs without an axis: %s %s %q %v %v, chooseCPUs: %s %s %q %v", s2, g2, w2, err2, splits, s1, g1, w1, err1)
	}
}
