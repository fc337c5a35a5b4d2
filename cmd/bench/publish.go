package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/asyncbench/asyncbench/internal/cli"
	"github.com/asyncbench/asyncbench/results"
	"github.com/asyncbench/asyncbench/results/report"
	"github.com/asyncbench/asyncbench/runner"
)

const publishDoc = `Publish copies the run in RUN_DIR into DEST/NAME (default
results/published/NAME) as a self-contained result set: summary.csv (one
row per cell and round), the cells' .json and .hlog, plan.yaml, and
report.md, plots and verdicts.csv rendered afresh. Every path inside the set
is relative to it. Then it regenerates DEST/README.md, the index of all
sets, from their summary.csv and plan.yaml.

It refuses, naming the rows, when any row is noisy (something else ran on
the pinned CPUs) or failed, unless -force: a figure measured while
anything else ran on the machine is not published. It never overwrites an
existing set.
`

// publishedRoot is where result sets go by default.
var publishedRoot = filepath.Join("results", "published")

// regenerated are the files of a run that publish writes afresh instead of
// copying.
var regenerated = []string{"summary.csv", "report.md", "verdicts.csv", "plots", runner.LockFile}

func cmdPublish(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("publish", "[-force] [-dest DIR] RUN_DIR NAME", publishDoc)
	force := fs.Bool("force", false, "publish even if rows are noisy or failed")
	dest := fs.String("dest", publishedRoot, "directory of the published sets")
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usagef("publish", "want RUN_DIR and NAME")
	}
	runDir, name := fs.Arg(0), fs.Arg(1)
	if real, err := filepath.EvalSymlinks(runDir); err == nil {
		runDir = real // results/runs/latest is a link; walk what it points at
	}
	if name == "" || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") || name == "README.md" {
		return usagef("publish", "NAME %q: want a plain directory name", name)
	}
	all, err := readAllRows(runDir, stderr)
	if err != nil {
		return err
	}
	rows := runner.Latest(all)
	if len(rows) == 0 {
		return fmt.Errorf("publish: %s has no rows", runDir)
	}
	if bad := unpublishable(rows); len(bad) > 0 && !*force {
		return &cli.ExitError{Code: cli.ExitFailed, Err: fmt.Errorf(
			"publish: %d rows are noisy or failed, not publishing (use -force to override): %s", len(bad), strings.Join(bad, ", "))}
	}
	target := filepath.Join(*dest, name)
	if err := publish(runDir, target, all, stderr); err != nil {
		return err
	}
	if err := writeIndex(*dest); err != nil {
		return err
	}
	fmt.Fprintln(stdout, target)
	return nil
}

// unpublishable names the rows that keep a run from being published:
// "cell#round (status)".
func unpublishable(rows []results.Row) []string {
	var bad []string
	for _, r := range rows {
		if r.Status == results.StatusNoisy || r.Status == results.StatusFailed {
			bad = append(bad, fmt.Sprintf("%s#%d (%s)", r.Cell, r.Rep, r.Status))
		}
	}
	return bad
}

// publish builds the set in a temporary directory next to target and
// renames it into place, so a failure leaves no half set. all is every
// row of the run's summary.csv (each attempt of a re-run cell included),
// kept as it is so that the set's report counts the re-runs too.
func publish(runDir, target string, all []results.Row, stderr io.Writer) error {
	if _, err := os.Stat(target); err == nil {
		return fmt.Errorf("publish: %s exists; remove it first to publish again under that name", target)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(target), "."+filepath.Base(target)+"-")
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	defer os.RemoveAll(tmp) // after a successful rename there is nothing left
	if err := copyRun(runDir, tmp); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	all = slices.Clone(all)
	for i := range all {
		if all[i].Hlog != "" {
			all[i].Hlog = filepath.Base(all[i].Hlog)
		}
	}
	if err := writeRows(filepath.Join(tmp, "summary.csv"), all); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	rows, opts := reportInput(runDir, all)
	opts.Warn = stderr
	if err := report.WriteWith(tmp, rows, opts); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	if err := checkRelative(tmp, runDir); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	if err := os.Rename(tmp, target); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	return nil
}

// copyRun copies the files of runDir into dir, except those publish
// regenerates; each generator .json gets its hlog path made relative to
// the set.
func copyRun(runDir, dir string) error {
	return filepath.WalkDir(runDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(runDir, path)
		if err != nil || rel == "." {
			return err
		}
		if slices.Contains(regenerated, rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		out := filepath.Join(dir, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(out, 0o755)
		case !d.Type().IsRegular():
			return nil // links and the like are not part of a result
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if filepath.Ext(path) == ".json" {
			if data, err = relativeHlog(data); err != nil {
				return fmt.Errorf("%s: %w", rel, err)
			}
		}
		return os.WriteFile(out, data, 0o644)
	})
}

// relativeHlog rewrites the "hlog" field of a generator summary to the
// file's base name (the .hlog lies beside it in the set). Other fields
// are kept as they are; keys come out sorted.
func relativeHlog(data []byte) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	raw, ok := m["hlog"]
	if !ok {
		return data, nil
	}
	var p string
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("hlog: %w", err)
	}
	if p != "" {
		b, _ := json.Marshal(filepath.Base(p))
		m["hlog"] = b
	}
	out, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// writeRows writes rows as a fresh summary.csv.
func writeRows(path string, rows []results.Row) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := results.NewCSVWriter(f)
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// checkRelative refuses a set whose text files still name the run
// directory or results/runs: the set must stand on its own.
func checkRelative(dir, runDir string) error {
	abs, _ := filepath.Abs(runDir)
	needles := [][]byte{[]byte("results/runs/"), []byte(filepath.Clean(runDir) + "/")}
	if abs != "" {
		needles = append(needles, []byte(abs+"/"))
	}
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch filepath.Ext(path) {
		case ".json", ".csv", ".md", ".yaml":
		default:
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, n := range needles {
			if bytes.Contains(data, n) {
				rel, _ := filepath.Rel(dir, path)
				return fmt.Errorf("%s still refers to %s", rel, strings.TrimSuffix(string(n), "/"))
			}
		}
		return nil
	})
}

// indexHeader opens results/published/README.md.
const indexHeader = `# Published result sets

Each folder is one real run, published with ` + "`bench publish RUN_DIR NAME`" + ` and not edited
by hand: summary.csv, the cells' .hlog and .json, plan.yaml, report.md, plots and
verdicts.csv. ` + "`bench report DIR`" + ` re-renders the report from summary.csv and the .hlog files.
This index is regenerated from the sets' summary.csv and plan.yaml at every publish.

**A figure measured while anything else ran on the machine is not published**: a set
with noisy or failed rows is refused unless forced (see the status column).

| set | machine | date (UTC) | commit | plan | what it shows | rows |
|---|---|---|---|---|---|---|
`

// writeIndex regenerates root/README.md from every set under root.
func writeIndex(root string) error {
	entries, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("publish index: %w", err)
	}
	var b strings.Builder
	b.WriteString(indexHeader)
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		line, err := indexLine(filepath.Join(root, e.Name()), e.Name())
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // not a result set
			}
			return fmt.Errorf("publish index: %s: %w", e.Name(), err)
		}
		b.WriteString(line)
	}
	return os.WriteFile(filepath.Join(root, "README.md"), []byte(b.String()), 0o644)
}

// indexLine is one set's line of the index.
func indexLine(dir, name string) (string, error) {
	rows, err := readRows(dir, io.Discard)
	if err != nil {
		return "", err
	}
	plan, _ := runner.LoadPlan(filepath.Join(dir, "plan.yaml"))
	distinct := func(f func(results.Row) string) string {
		var vs []string
		for _, r := range rows {
			if v := f(r); v != "" && !slices.Contains(vs, v) {
				vs = append(vs, v)
			}
		}
		if len(vs) == 0 {
			return "unknown"
		}
		return strings.Join(vs, ", ")
	}
	cores := distinct(func(r results.Row) string {
		if r.HostCPUs != nil {
			return strconv.Itoa(*r.HostCPUs) + " cores"
		}
		return ""
	})
	if cores == "unknown" { // sets from before host_cpus: the CPUs used
		cores = distinct(func(r results.Row) string {
			return "CPUs " + r.ServerCPUSet + " (server) and " + r.GeneratorCPUSet + " (generator)"
		})
	}
	var starts []string
	counts := map[results.Status]int{}
	for _, r := range rows {
		if r.StartTime != "" {
			starts = append(starts, r.StartTime)
		}
		counts[r.Status]++
	}
	date := "unknown"
	if len(starts) > 0 {
		date = slices.Min(starts)[:min(10, len(slices.Min(starts)))]
	}
	planName := plan.Name
	if planName == "" {
		planName = distinct(func(r results.Row) string { return r.Plan })
	}
	status := fmt.Sprintf("%d: %d ok", len(rows), counts[results.StatusOK])
	for _, s := range []results.Status{results.StatusBacklog, results.StatusSaturated, results.StatusNoisy, results.StatusFailed} {
		if counts[s] > 0 {
			status += fmt.Sprintf(", %d %s", counts[s], s)
		}
	}
	cell := func(s string) string { return strings.Join(strings.Fields(strings.ReplaceAll(s, "|", `\|`)), " ") }
	return fmt.Sprintf("| [%s](%s/report.md) | %s, %s | %s | %s | %s | %s | %s |\n",
		name, name, cell(distinct(func(r results.Row) string { return r.CPUModel })), cores, date,
		cell(distinct(func(r results.Row) string { return r.Commit })), cell(planName), cell(plan.Description), status), nil
}
