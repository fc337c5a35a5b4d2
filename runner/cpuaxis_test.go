package runner

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/asyncbench/asyncbench/runner/cpuset"
)

func cpus(n int) cpuset.Set {
	s := make(cpuset.Set, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func TestSplitCPUs(t *testing.T) {
	tests := []struct {
		name   string
		avail  cpuset.Set
		counts []int
		want   string // FormatSplits output
	}{
		{"2 CPUs", cpus(2), []int{1},
			"server_cpus 1: server CPUs 0, generator CPUs 1\n"},
		{"8 CPUs", cpus(8), []int{1, 2, 4},
			"server_cpus 1: server CPUs 0, generator CPUs 4-7\n" +
				"server_cpus 2: server CPUs 0-1, generator CPUs 4-7\n" +
				"server_cpus 4: server CPUs 0-3, generator CPUs 4-7\n"},
		{"8 CPUs, all but one to the server", cpus(8), []int{7, 1},
			"server_cpus 7: server CPUs 0-6, generator CPUs 7\n" +
				"server_cpus 1: server CPUs 0, generator CPUs 7\n"},
		{"64 CPUs", cpus(64), []int{1, 2, 4, 8, 16, 32},
			"server_cpus 1: server CPUs 0, generator CPUs 32-63\n" +
				"server_cpus 2: server CPUs 0-1, generator CPUs 32-63\n" +
				"server_cpus 4: server CPUs 0-3, generator CPUs 32-63\n" +
				"server_cpus 8: server CPUs 0-7, generator CPUs 32-63\n" +
				"server_cpus 16: server CPUs 0-15, generator CPUs 32-63\n" +
				"server_cpus 32: server CPUs 0-31, generator CPUs 32-63\n"},
		{"allowed CPUs with gaps", cpuset.Set{2, 3, 5, 8, 9}, []int{1, 3},
			"server_cpus 1: server CPUs 2, generator CPUs 8-9\n" +
				"server_cpus 3: server CPUs 2-3,5, generator CPUs 8-9\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			splits, err := SplitCPUs(tt.avail, tt.counts)
			if err != nil {
				t.Fatal(err)
			}
			got := FormatSplits(splits)
			t.Logf("%d CPUs available (%s):\n%s", len(tt.avail), tt.avail, got)
			if got != tt.want {
				t.Errorf("splits:\n%s\nwant:\n%s", got, tt.want)
			}
			for _, s := range splits {
				if len(s.Server) != s.ServerCPUs || len(s.Generator) == 0 || s.Server.Overlaps(s.Generator) {
					t.Errorf("server_cpus %d: server %s, generator %s: want %d server CPUs, disjoint from at least one generator CPU", s.ServerCPUs, s.Server, s.Generator, s.ServerCPUs)
				}
				if miss := slices.Concat(s.Server, s.Generator); len(cpuset.Set(miss).Missing(tt.avail)) > 0 {
					t.Errorf("server_cpus %d uses CPUs outside %s", s.ServerCPUs, tt.avail)
				}
			}
		})
	}
}

func TestSplitCPUsRefuses(t *testing.T) {
	tests := []struct {
		name   string
		avail  cpuset.Set
		counts []int
		want   string
	}{
		{"2 CPUs, 4 asked", cpus(2), []int{1, 2, 4}, "server_cpus 4 needs 5 CPUs (4 server + 1 generator); this machine has 2 (0-1) available"},
		{"2 CPUs, 2 asked", cpus(2), []int{2}, "server_cpus 2 needs 3 CPUs (2 server + 1 generator); this machine has 2"},
		{"1 CPU", cpus(1), []int{1}, "server_cpus 1 needs 2 CPUs (1 server + 1 generator); this machine has 1 (0)"},
		{"8 CPUs, 8 asked", cpus(8), []int{8}, "server_cpus 8 needs 9 CPUs (8 server + 1 generator); this machine has 8 (0-7)"},
		{"64 CPUs, 64 asked", cpus(64), []int{1, 64}, "server_cpus 64 needs 65 CPUs (64 server + 1 generator); this machine has 64 (0-63)"},
		{"zero", cpus(8), []int{0, 2}, "server_cpus 0: must be at least 1"},
		{"none", cpus(8), nil, "server_cpus: no counts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := SplitCPUs(tt.avail, tt.counts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			t.Log(err)
		})
	}
}

func TestServerCPUsValidate(t *testing.T) {
	for _, tt := range []struct {
		counts []int
		want   string
	}{
		{[]int{1, 2, 4}, ""},
		{[]int{0}, "server_cpus 0: must be 1 to 1023"},
		{[]int{1024}, "server_cpus 1024: must be 1 to 1023"},
		{[]int{2, 2}, "server_cpus 2 listed twice"},
	} {
		p := validPlan()
		p.ServerCPUs = tt.counts
		err := p.Validate(0)
		if (err == nil) != (tt.want == "") || err != nil && !strings.Contains(err.Error(), tt.want) {
			t.Errorf("server_cpus %v: error %v, want %q", tt.counts, err, tt.want)
		}
	}
}

func TestExpandServerCPUs(t *testing.T) {
	p := validPlan()
	base, _ := p.Expand()
	for _, c := range base {
		if strings.Contains(c.Key(), "/s") || c.ServerCPUs != 0 {
			t.Fatalf("no axis: cell %s has server_cpus %d", c.Key(), c.ServerCPUs)
		}
	}
	p.ServerCPUs = []int{1, 2, 4}
	cells, _ := p.Expand()
	if len(cells) != 3*len(base) {
		t.Fatalf("%d cells, want 3 × %d", len(cells), len(base))
	}
	counts := map[string][]int{}
	for _, c := range cells {
		k := strings.TrimSuffix(c.Key(), fmt.Sprintf("/s%d", c.ServerCPUs))
		if k == c.Key() {
			t.Fatalf("key %s does not end in /s%d", c.Key(), c.ServerCPUs)
		}
		counts[fmt.Sprintf("%s rep%d", k, c.Rep)] = append(counts[fmt.Sprintf("%s rep%d", k, c.Rep)], c.ServerCPUs)
	}
	for k, got := range counts {
		slices.Sort(got)
		if !slices.Equal(got, []int{1, 2, 4}) {
			t.Errorf("%s measured at server_cpus %v, want [1 2 4]", k, got)
		}
	}
	if data, err := p.Marshal(); err != nil || !strings.Contains(string(data), "server_cpus:\n    - 1\n    - 2\n    - 4\n") {
		t.Errorf("plan.yaml does not keep the axis (%v):\n%s", err, data)
	}
}

// TestRunServerCPUs runs two counts with fake splits (this machine may
// have two CPUs): each row records its count's sets and GOMAXPROCS.
func TestRunServerCPUs(t *testing.T) {
	p := threeCells()
	p.Backends = []string{"stdlib"}
	p.ServerCPUs = []int{1, 2}
	cfg, pids := fakeConfig(t, p)
	avail, _ := cpuset.Available()
	if len(avail) < 2 {
		t.Skip("needs 2 CPUs")
	}
	var w memRows
	if _, err := Run(context.Background(), cfg, &w); err == nil || !strings.Contains(err.Error(), "server_cpus 1: no CPU sets chosen") {
		t.Fatalf("run without splits: %v", err)
	}
	cfg.CPUSplits = []CPUSplit{
		{ServerCPUs: 1, Server: avail[:1], Generator: avail[1:2]},
		{ServerCPUs: 2, Server: avail[:2], Generator: avail[1:2]}, // overlaps: only a fake
	}
	if _, err := Run(context.Background(), cfg, &w); err != nil {
		t.Fatal(err)
	}
	if len(w.rows) != 2 {
		t.Fatalf("%d rows, want 2", len(w.rows))
	}
	for _, r := range w.rows {
		n := *r.ServerCPUCount
		want := cfg.CPUSplits[n-1]
		if r.Cell != fmt.Sprintf("stdlib/http/plaintext/c4/p1/r0/b0/s%d", n) || r.GOMAXPROCS != n ||
			r.ServerCPUSet != want.Server.String() || r.GeneratorCPUSet != want.Generator.String() ||
			r.ServerEnv != fmt.Sprintf("GOMAXPROCS=%d", n) {
			t.Errorf("row %s: gomaxprocs %d, server %s, generator %s, env %q", r.Cell, r.GOMAXPROCS, r.ServerCPUSet, r.GeneratorCPUSet, r.ServerEnv)
		}
	}
	assertGone(t, pids)
}
