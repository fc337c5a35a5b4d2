package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/asyncbench/asyncbench/backends"
	"github.com/asyncbench/asyncbench/plans"
	"github.com/asyncbench/asyncbench/results"
	"github.com/asyncbench/asyncbench/results/report"
	"github.com/asyncbench/asyncbench/runner"
)

const reportDoc = `Report re-renders DIR/report.md, DIR/report.html, DIR/plots and
DIR/verdicts.csv from DIR/summary.csv, DIR/endpoints.csv and the cells' .hlog
files (the reference of the verdicts from DIR/plan.yaml), and prints the
report's path; on stderr, one line counting the verdicts by kind and the
throughput intervals narrower than 20% of their ratio.
`

func cmdReport(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report", "DIR", reportDoc)
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("report", "want one run directory")
	}
	dir := fs.Arg(0)
	all, err := readAllRows(dir, stderr)
	if err != nil {
		return err
	}
	rows, opts := reportInput(dir, all)
	opts.Warn = stderr
	if err := report.WriteWith(dir, rows, opts); err != nil {
		return err
	}
	printTally(stderr, dir, rows, opts.Reference)
	fmt.Fprintln(stdout, filepath.Join(dir, "report.md"))
	return nil
}

// reportInput is what the report of run directory dir is made from: one
// row per cell repetition of all (every attempt, as in summary.csv; see
// runner.Latest), and options naming the plan's reference and counting
// the re-runs.
func reportInput(dir string, all []results.Row) ([]results.Row, report.Options) {
	opts := report.Options{Reference: planReference(dir)}
	opts.Reruns, opts.RerunsOK = report.Reruns(all)
	return runner.Latest(all), opts
}

// printTally writes the one-line count of the run's verdicts (see
// report.Tally), unless the run has none or is a bench slo run.
func printTally(w io.Writer, dir string, rows []results.Row, reference string) {
	if _, err := os.Stat(filepath.Join(dir, results.SLOFile)); err == nil {
		return
	}
	if t := report.RunTally(rows, reference); t.Total() > 0 {
		fmt.Fprintln(w, t)
	}
}

// planReference is the reference label of the plan in dir/plan.yaml; ""
// (the report's default) when it cannot be read.
func planReference(dir string) string {
	p, err := runner.LoadPlan(filepath.Join(dir, "plan.yaml"))
	if err != nil {
		return ""
	}
	return p.ReferenceLabel()
}

// readRows reads DIR/summary.csv, one row per cell repetition (see
// runner.Latest). Torn or non-finite rows are dropped with a warning.
func readRows(dir string, stderr io.Writer) ([]results.Row, error) {
	rows, err := readAllRows(dir, stderr)
	return runner.Latest(rows), err
}

// readAllRows reads every row of DIR/summary.csv, each attempt of a cell
// repetition included. Torn or non-finite rows are dropped with a warning.
func readAllRows(dir string, stderr io.Writer) ([]results.Row, error) {
	f, err := os.Open(filepath.Join(dir, "summary.csv"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := results.ReadCSV(f, prefixWriter{f.Name() + ": ", stderr})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	return rows, nil
}

// prefixWriter writes each Write (one warning line) with a prefix.
type prefixWriter struct {
	prefix string
	w      io.Writer
}

func (p prefixWriter) Write(b []byte) (int, error) {
	if _, err := io.WriteString(p.w, p.prefix); err != nil {
		return 0, err
	}
	return p.w.Write(b)
}

const plansDoc = `Plans lists the built-in plans with their cell count and planned time.
`

func cmdPlans(_ context.Context, args []string, stdout, _ io.Writer) error {
	fs := newFlagSet("plans", "", plansDoc)
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("plans", "takes no arguments")
	}
	width := 0
	for _, name := range plans.Names() {
		width = max(width, len(name))
	}
	serverPath, _ := findBinary("", "server") // "" when not built: no program is either
	for _, name := range plans.Names() {
		p, err := runner.LoadPlan(name)
		if err != nil {
			return err
		}
		cells, _ := p.Expand()
		total := p.PlannedTime()
		fmt.Fprintf(stdout, "%-10s %4d cells, about %-9v %s%s\n", name, len(cells), total.Round(time.Minute), p.Description, notBuilt(&p, serverPath))
	}
	return nil
}

// notBuilt says which of the plan's backends are programs not built next
// to the server binary at serverPath: " (needs cthreads, cepoll: make
// build)", or "" when every one is.
func notBuilt(p *runner.Plan, serverPath string) string {
	var missing []string
	for _, v := range p.AllVariants() {
		info, err := backends.Lookup(v.Backend)
		if err == nil && !slices.Contains(missing, v.Backend) && runner.CheckProgram(serverPath, info) != nil {
			missing = append(missing, v.Backend)
		}
	}
	if len(missing) == 0 {
		return ""
	}
	return " (needs " + strings.Join(missing, ", ") + ": make build)"
}
