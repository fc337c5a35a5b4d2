package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/asyncbench/asyncbench/internal/cli"
	"github.com/asyncbench/asyncbench/results"
	"github.com/asyncbench/asyncbench/runner/fakechild"
)

// fakeRun makes a run directory the way bench run does, with the fake
// children, under a tree that looks like the repository's
// (ROOT/results/runs/ID), and gives each .json the absolute hlog path the
// real generator writes.
func fakeRun(t *testing.T) (root, dir string) {
	t.Helper()
	root = t.TempDir()
	planFile := filepath.Join(t.TempDir(), "p.yaml")
	plan := "name: pub\ndescription: two backends, one cell each\nbackends: [stdlib, gnet]\nworkloads: [plaintext]\nconnections: [2]\npipeline: [1]\nrates: [0]\nrepetitions: 1\nduration: 1s\nwarmup: 0s\n"
	if err := os.WriteFile(planFile, []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(fakechild.EnvFake, "1")
	t.Setenv(fakechild.EnvDir, t.TempDir())
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	out := filepath.Join(root, "results", "runs")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"run", "-plan", planFile, "-out", out, "-run-id", "r1",
		"-server", os.Args[0], "-loadgen", os.Args[0]}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	dir = filepath.Join(out, "r1")
	jsons, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(jsons) != 2 {
		t.Fatalf("%d json files", len(jsons))
	}
	for _, j := range jsons {
		var m map[string]any
		data, _ := os.ReadFile(j)
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		m["hlog"] = strings.TrimSuffix(j, ".json") + ".hlog"
		data, _ = json.Marshal(m)
		if err := os.WriteFile(j, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root, dir
}

// markRow sets the status of the first row of dir/summary.csv.
func markRow(t *testing.T, dir string, s results.Status) {
	t.Helper()
	path := filepath.Join(dir, "summary.csv")
	rows := csvRows(t, path)
	rows[0].Status, rows[0].Reason = s, "other processes used 9.0% of the pinned CPUs (limit 5%)"
	if err := writeRows(path, rows); err != nil {
		t.Fatal(err)
	}
}

func TestPublish(t *testing.T) {
	root, dir := fakeRun(t)
	dest := filepath.Join(root, "results", "published")
	var stdout, stderr bytes.Buffer
	latest := filepath.Join(root, "results", "runs", "latest") // a link to r1, as bench run leaves it
	if err := run(context.Background(), []string{"publish", "-dest", dest, latest, "set1"}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	set := filepath.Join(dest, "set1")
	if strings.TrimSpace(stdout.String()) != set {
		t.Fatalf("stdout %q", stdout.String())
	}
	for _, f := range []string{"summary.csv", "plan.yaml", "report.md", "verdicts.csv",
		"stdlib_http_plaintext_c2_p1_r0_b0_rep1.json", "stdlib_http_plaintext_c2_p1_r0_b0_rep1.hlog",
		"gnet_http_plaintext_c2_p1_r0_b0_rep1.hlog"} {
		if _, err := os.Stat(filepath.Join(set, f)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(set, ".lock")); err == nil {
		t.Error("the run's lock file was published")
	}
	data, err := os.ReadFile(filepath.Join(set, "stdlib_http_plaintext_c2_p1_r0_b0_rep1.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if m["hlog"] != "stdlib_http_plaintext_c2_p1_r0_b0_rep1.hlog" || m["requests"] == nil {
		t.Fatalf("json not made relative or fields lost: %v", m)
	}
	for _, r := range csvRows(t, filepath.Join(set, "summary.csv")) {
		if r.Hlog == "" || strings.Contains(r.Hlog, "/") {
			t.Fatalf("csv hlog %q", r.Hlog)
		}
	}
	index, err := os.ReadFile(filepath.Join(dest, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"A figure measured while anything else ran on the machine is not published",
		"| [set1](set1/report.md) | ",
		"| pub | two backends, one cell each | 2: 2 ok |",
		" cores | ",
	} {
		if !strings.Contains(string(index), want) {
			t.Errorf("index lacks %q:\n%s", want, index)
		}
	}

	// The same name again: refused, the set is left alone.
	err = run(context.Background(), []string{"publish", "-dest", dest, dir, "set1"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("republish under the same name: %v", err)
	}

	// A noisy row: refused with exit 3 naming it, unless -force.
	markRow(t, dir, results.StatusNoisy)
	err = run(context.Background(), []string{"publish", "-dest", dest, dir, "set2"}, &stdout, &stderr)
	if cli.Code(err) != cli.ExitFailed || !strings.Contains(err.Error(), "#1 (noisy)") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("noisy run: %v (exit %d)", err, cli.Code(err))
	}
	if _, err := os.Stat(filepath.Join(dest, "set2")); err == nil {
		t.Fatal("a refused set was written")
	}
	markRow(t, dir, results.StatusFailed)
	if err := run(context.Background(), []string{"publish", "-dest", dest, dir, "set2"}, &stdout, &stderr); cli.Code(err) != cli.ExitFailed {
		t.Fatalf("failed run: %v", err)
	}
	if err := run(context.Background(), []string{"publish", "-force", "-dest", dest, dir, "set2"}, &stdout, &stderr); err != nil {
		t.Fatalf("-force: %v", err)
	}
	index, _ = os.ReadFile(filepath.Join(dest, "README.md"))
	if !strings.Contains(string(index), "[set1]") || !strings.Contains(string(index), "2: 1 ok, 1 failed |") {
		t.Fatalf("index after -force:\n%s", index)
	}
	entries, _ := os.ReadDir(dest)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary %s left behind", e.Name())
		}
	}
}

func TestPublishUsage(t *testing.T) {
	var out bytes.Buffer
	for _, args := range [][]string{{"publish"}, {"publish", "dir"}, {"publish", "dir", "a/b"}, {"publish", "dir", ".x"}} {
		if err := run(context.Background(), args, &out, &out); cli.Code(err) != cli.ExitUsage {
			t.Errorf("%q: %v (exit %d)", args, err, cli.Code(err))
		}
	}
}

func TestRelativeHlog(t *testing.T) {
	got, err := relativeHlog([]byte(`{"b":1,"hlog":"results/runs/x/a.hlog","a":{"z":2}}`))
	if err != nil || string(got) != `{"a":{"z":2},"b":1,"hlog":"a.hlog"}`+"\n" {
		t.Fatalf("%s %v", got, err)
	}
	in := []byte(`{"b":1}`)
	if got, err := relativeHlog(in); err != nil || !bytes.Equal(got, in) {
		t.Fatalf("no hlog: %s %v", got, err)
	}
	if _, err := relativeHlog([]byte(`{"hlog":3}`)); err == nil {
		t.Fatal("bad hlog accepted")
	}
}
