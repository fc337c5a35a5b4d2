package main

import (
	"slices"

	"github.com/asyncbench/asyncbench/runner"
	"github.com/asyncbench/asyncbench/runner/cpuset"
)

// chooseRunCPUs resolves the CPU sets of a run. Without a server_cpus
// axis in the plan it is chooseCPUs. With one, bench chooses the sets of
// every count from the CPUs it may use (runner.SplitCPUs), refuses a plan
// that does not fit before anything runs, and refuses -server-cpus and
// -gen-cpus beside it; server and gen are then the largest count's sets.
func chooseRunCPUs(plan runner.Plan, serverList, genList string) (server, gen cpuset.Set, splits []runner.CPUSplit, warn string, err error) {
	if len(plan.ServerCPUs) == 0 {
		server, gen, warn, err = chooseCPUs(serverList, genList)
		return server, gen, nil, warn, err
	}
	avail, err := cpuset.Available()
	if err != nil {
		return nil, nil, nil, "", err
	}
	if splits, err = axisSplits(plan, serverList, genList, avail); err != nil {
		return nil, nil, nil, "", err
	}
	i := slices.IndexFunc(splits, func(s runner.CPUSplit) bool { return s.ServerCPUs == slices.Max(plan.ServerCPUs) })
	return splits[i].Server, splits[i].Generator, splits, "", nil
}

// axisSplits is chooseRunCPUs' choice for a plan with a server_cpus axis,
// from the CPUs in avail.
func axisSplits(plan runner.Plan, serverList, genList string, avail cpuset.Set) ([]runner.CPUSplit, error) {
	if serverList != "" || genList != "" {
		return nil, usagef("run", "plan %s has server_cpus, which chooses the CPU sets of every cell; drop -server-cpus and -gen-cpus", plan.Name)
	}
	splits, err := runner.SplitCPUs(avail, plan.ServerCPUs)
	if err != nil {
		return nil, usagef("run", "plan %s: %v", plan.Name, err)
	}
	return splits, nil
}
