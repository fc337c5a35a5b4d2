// Package report presents results: report.md with tables and verdicts,
// plots (gonum/plot), the comparison of two runs and the Go benchmark
// format for benchstat.
package report

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/asyncbench/asyncbench/results"
)

// Write writes dir/report.md, the same as one self-contained page in
// dir/report.html (plots inlined as SVG), and, under dir/plots, a PNG and
// an SVG of every plot, from rows. The .hlog of each ok row (Row.Hlog, relative to
// dir) feeds the latency spectra. Failed and saturated rows are listed but
// neither summarised nor plotted.
func Write(dir string, rows []results.Row) error {
	return WriteWith(dir, rows, Options{})
}

// WriteWith is Write with options; it also writes dir/verdicts.csv. The
// report of a bench slo run (dir holds slo.csv) is its answers, the plot of
// p99 against offered rate and the flagged steps: every step is a rate of
// its own, so per-rate sections and verdicts would say nothing.
func WriteWith(dir string, rows []results.Row, opts Options) error {
	if len(rows) == 0 {
		return errors.New("report: no rows")
	}
	rows = byLabel(rows)
	if _, err := os.Stat(filepath.Join(dir, results.SLOFile)); err == nil {
		return writeSLOReport(dir, rows, opts)
	}
	if opts.Reference == "" {
		opts.Reference = DefaultReference(rows)
	}
	verdicts := Verdicts(withoutIdle(rows), opts.Reference)
	if err := writeVerdictsFile(dir, verdicts); err != nil {
		return err
	}
	plotDir := filepath.Join(dir, "plots")
	if err := os.MkdirAll(plotDir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	groups := groupRows(withoutIdle(rows))
	styles := newStyles(rows)
	l := newLead(rows, groups, verdicts, opts.Reference)

	var tails []block
	tails, l.tailChecks = tailBlocks(dir, rows, opts.Reference)
	whole, err := wholeRunSections(dir, rows, styles)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	var sections []block
	for _, g := range groups {
		bs, plots, err := groupSection(dir, g, styles)
		if err != nil {
			return fmt.Errorf("report: %s: %w", g.key.Title(), err)
		}
		sections = append(sections, bs...)
		if l.head != nil && l.head.g == g && len(plots) > 0 {
			l.head.plot = &plots[0]
		}
	}

	var d doc
	d.add(l.blocks()...)
	d.add(runInfo(rows, opts)...)
	d.add(glanceSection(rows, verdicts, opts.Reference)...)
	d.add(tails...)
	d.add(whole...)
	d.add(sections...)
	d.add(flagged(rows)...)
	return writeDocs(dir, &d)
}

// glanceSection is the section "At a glance": the verdicts, the note on
// closed-loop p99, the calibration checks and the bottlenecks.
func glanceSection(rows []results.Row, vs []Verdict, reference string) []block {
	out := []block{heading{2, "At a glance"}}
	out = append(out, glanceBlocks(vs, reference)...)
	out = append(out, littleNoteBlocks(rows)...)
	out = append(out, calibrationBlocks(rows, vs, reference)...)
	return append(out, bottleneckBlocks(rows)...)
}

// wholeRunSections is the sections that each look at the whole run:
// scheduling, idle connections, latency curves and server CPUs.
func wholeRunSections(dir string, rows []results.Row, styles map[string]style) ([]block, error) {
	var out []block
	for _, section := range []func(string, []results.Row, map[string]style) ([]block, error){
		schedulingBlocks, idleBlocks, curveBlocks, serverCPUBlocks,
	} {
		bs, err := section(dir, rows, styles)
		if err != nil {
			return nil, err
		}
		out = append(out, bs...)
	}
	return out, nil
}

// groupSection is the section of one group: verdict lines, tables and
// plots. It returns the plots drawn.
func groupSection(dir string, g *group, styles map[string]style) ([]block, []plotRef, error) {
	out := []block{heading{2, g.key.Title()}}
	if g.key.rate == 0 && g.key.fraction == 0 {
		out = append(out, para(LittleNote))
	}
	out = append(out, para("Spread over rounds (min–max, unpaired):"), list(g.verdicts()))
	out = append(out, groupTables(dir, g)...)
	plots, notes, err := writeGroupPlots(dir, g, styles)
	if err != nil {
		return nil, nil, err
	}
	for _, n := range notes {
		out = append(out, quote(n))
	}
	for _, p := range plots {
		out = append(out, figure(p))
	}
	return out, plots, nil
}

// writeSLOReport is WriteWith for a bench slo run.
func writeSLOReport(dir string, rows []results.Row, opts Options) error {
	if err := os.MkdirAll(filepath.Join(dir, "plots"), 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	slo, err := sloBlocks(dir, rows, opts.Warn)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	var d doc
	d.add(titleHeading(runName(rows)))
	d.add(slo...)
	d.add(runInfo(rows, opts)...)
	d.add(flagged(rows)...)
	return writeDocs(dir, &d)
}

// writeDocs writes report.md and report.html.
func writeDocs(dir string, d *doc) error {
	if err := os.WriteFile(filepath.Join(dir, "report.md"), d.markdown(), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := writeHTML(dir, d); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// runName is the plans and run ids of rows, "unknown" when none is
// recorded.
func runName(rows []results.Row) (plan, run string) {
	return joinOr(distinct(rows, func(r results.Row) string { return r.Plan }), "unknown"),
		joinOr(distinct(rows, func(r results.Row) string { return r.RunID }), "unknown")
}

// titleHeading is the report's title: its plan and run.
func titleHeading(plan, run string) heading {
	return heading{1, fmt.Sprintf("asyncbench report: %s, run %s", mdEscape(plan), mdEscape(run))}
}

// runDates is the first and last start time of rows, "unknown" without.
func runDates(rows []results.Row) string {
	starts := distinct(rows, func(r results.Row) string { return r.StartTime })
	slices.Sort(starts)
	if len(starts) == 0 {
		return "unknown"
	}
	date := starts[0]
	if last := starts[len(starts)-1]; last != date {
		date += " – " + last
	}
	return date
}

// runNotes says how to read the report's numbers.
const runNotes = "Numbers are medians over the ok repetitions of a cell; `±x%` is the largest distance from the median " +
	"to the minimum or maximum. Latency is in microseconds, measured from the intended send time in open-loop runs. " +
	"A verdict names a backend only when its min–max range does not overlap the runner-up's. " +
	"Saturated, noisy and failed rows are listed at the end and left out of every number, plot and verdict, " +
	"except that a generator-bound row's throughput, a lower bound on the server's, reads `≥ N` where no ok row says more."

// runInfo is the section "Run": where, when and what ran, the servers,
// and how to read the numbers.
func runInfo(rows []results.Row, opts Options) []block {
	col := func(f func(results.Row) string, none string) string { return joinOr(distinct(rows, f), none) }
	procs := col(func(r results.Row) string {
		if r.GOMAXPROCS == 0 {
			return ""
		}
		return strconv.Itoa(r.GOMAXPROCS)
	}, "unknown")
	n := countStatuses(rows)
	t := table{head: []string{"", ""}, rows: [][]string{
		{"run", col(func(r results.Row) string { return r.RunID }, "unknown")},
		{"plan", mdEscape(col(func(r results.Row) string { return r.Plan }, "unknown"))},
		{"date (UTC)", runDates(rows)},
		{"commit", col(func(r results.Row) string { return r.Commit }, "unknown")},
		{"Go", col(func(r results.Row) string { return r.GoVersion }, "unknown")},
		{"kernel", col(func(r results.Row) string { return r.Kernel }, "unknown")},
		{"CPU", mdEscape(col(func(r results.Row) string { return r.CPUModel }, "unknown"))},
		{"server CPUs", fmt.Sprintf("%s (GOMAXPROCS %s)", col(func(r results.Row) string { return r.ServerCPUSet }, "unpinned"), procs)},
		{"generator CPUs", col(func(r results.Row) string { return r.GeneratorCPUSet }, "unpinned")},
		{"rows", fmt.Sprintf("%d: %d ok, %d saturated, %d failed", len(rows), n.ok, n.saturated, n.failed)},
	}}
	if n.backlog > 0 {
		t.rows = append(t.rows, []string{"server backlog", fmt.Sprintf("%d rows: sends waited for the server's answers; counted, the wait is in the corrected latency", n.backlog)})
	}
	if n.noisy > 0 {
		t.rows = append(t.rows, []string{"noisy rows", fmt.Sprintf("%d (another process or steal used the pinned CPUs; not a result)", n.noisy)})
	}
	if opts.Reruns > 0 {
		t.rows = append(t.rows, []string{"re-runs", fmt.Sprintf("%d of noisy or generator-bound cells, at the end of their round; %d came out ok and replaced the row they re-measured",
			opts.Reruns, opts.RerunsOK)})
	}
	out := []block{heading{2, "Run"}, t}
	if s, ok := serversTable(rows); ok {
		out = append(out, s)
	}
	return append(out, para(runNotes))
}

// serversTable lists what ran as each label's server: the command line of
// its first row (a command's address differs per cell), the environment
// bench added and the executable's hash. Rows from before these columns
// have none: ok is false.
func serversTable(rows []results.Row) (t table, ok bool) {
	seen := map[string]bool{}
	t.head = []string{"label", "backend", "server command (first cell)", "environment", "sha256"}
	for _, r := range rows {
		if r.ServerCommand == "" || seen[r.LabelOf()] {
			continue
		}
		seen[r.LabelOf()] = true
		t.rows = append(t.rows, []string{mdEscape(r.LabelOf()), mdEscape(r.Backend),
			"`" + strings.ReplaceAll(r.ServerCommand, "|", "\\|") + "`", mdEscape(r.ServerEnv), r.ServerSHA256})
	}
	return t, len(t.rows) > 0
}

// flagged is the section listing every row left out, in the order run.
func flagged(rows []results.Row) []block {
	t := table{head: []string{"status", "cell", "backend", "conns", "rep", "reason"},
		right: []bool{false, false, false, true, true, false}}
	for _, r := range rows {
		if r.Status.Counts() {
			continue
		}
		status := r.Status
		if status == "" {
			status = "(none)"
		}
		t.rows = append(t.rows, []string{"**" + mdEscape(string(status)) + "**", mdEscape(r.Cell), mdEscape(r.Backend),
			strconv.Itoa(r.Conns), strconv.Itoa(r.Rep), mdEscape(r.Reason)})
	}
	if len(t.rows) == 0 {
		return nil
	}
	return []block{heading{2, "Saturated, noisy and failed rows"}, t}
}
