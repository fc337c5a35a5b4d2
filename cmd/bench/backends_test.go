package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/asyncbench/asyncbench/runner"
	"github.com/asyncbench/asyncbench/runner/fakechild"
)

// TestRunSchedulingPrograms: bench run -plan scheduling is refused before
// anything is written when bin/cthreads or bin/cepoll is missing, with one
// error per program saying how to build it, and passes validation when
// both are there.
func TestRunSchedulingPrograms(t *testing.T) {
	if n := maxConns(); n > 0 && n < 10000 {
		t.Skipf("the open-file limit allows %d connections; the plan needs 10,000", n)
	}
	out := t.TempDir()
	without := fakechild.BinDir(t, "server", "loadgen", "cepoll")
	f := runFlags{plan: "scheduling", cellFlags: cellFlags{out: out, server: filepath.Join(without, "server"), loadgen: filepath.Join(without, "loadgen"), startTimeout: runner.DefaultStartTimeout}}
	var stderr bytes.Buffer
	_, err := newConfig(context.Background(), &f, &stderr)
	want := "backend cthreads: " + filepath.Join(without, "cthreads") + " not found: run make build (it needs a C compiler: apt-get install gcc)"
	if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "cepoll") {
		t.Fatalf("without cthreads: %v", err)
	}
	err = run(context.Background(), []string{"run", "-plan", "scheduling", "-out", out, "-server", f.server, "-loadgen", f.loadgen}, &bytes.Buffer{}, &stderr)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("bench run without cthreads: %v", err)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Fatalf("a refused run wrote %d entries in %s", len(entries), out)
	}

	with := fakechild.BinDir(t, "server", "loadgen", "cthreads", "cepoll")
	f.server, f.loadgen = filepath.Join(with, "server"), filepath.Join(with, "loadgen")
	cfg, err := newConfig(context.Background(), &f, &stderr)
	if err != nil {
		t.Fatalf("with every program: %v", err)
	}
	if cells, _ := cfg.Plan.Expand(); len(cells) != 330 {
		t.Fatalf("%d cells", len(cells))
	}
}

func TestBackendsCommand(t *testing.T) {
	dir := fakechild.BinDir(t, "server", "cepoll")
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"backends", "-server", filepath.Join(dir, "server")}, &stdout, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	lines := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n")[1:] {
		lines[strings.Fields(l)[0]] = l
	}
	for name, want := range map[string]string{
		"cepoll":   "echo,http   available  C, no runtime: one thread",
		"cthreads": "echo,http   not built (cthreads)  C, no runtime: one pthread",
		"fasthttp": "http        available  fasthttp",
		"threads":  "echo,http   available  one locked OS thread",
	} {
		if !strings.Contains(strings.Join(strings.Fields(lines[name]), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("%s: %q, want %q", name, lines[name], want)
		}
	}
}

// TestSLODefaultBackends: without -backends the search covers the
// backends that are built; naming one that is not refuses it.
func TestSLODefaultBackends(t *testing.T) {
	server := filepath.Join(fakechild.BinDir(t, "server"), "server")
	f, err := parseSLOFlags([]string{"-p99", "1ms"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.plan(server)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(p.Backends, ",") != "fasthttp,gnet,gnet-pool,nbio,netpoll,stdlib,threads" {
		t.Errorf("default backends %v", p.Backends)
	}
	f.backends = "stdlib,cthreads"
	if _, err := f.plan(server); err == nil || !strings.Contains(err.Error(), "backend cthreads: ") || !strings.Contains(err.Error(), "not found: run make build") {
		t.Errorf("named cthreads: %v", err)
	}
}
