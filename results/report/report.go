// Package report presents results: report.md with tables and verdicts,
// plots (gonum/plot), the comparison of two runs and the Go benchmark
// format for benchstat.
package report

import (
	"bytes"
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

	var b bytes.Buffer
	writeReportHeader(&b, rows, opts)

	b.WriteString("## At a glance\n\n")
	writeGlance(&b, verdicts, opts.Reference)
	writeLittleNote(&b, rows)
	writeCalibration(&b, rows, verdicts, opts.Reference)
	writeBottlenecks(&b, rows)
	writeTails(&b, dir, rows, opts.Reference)
	writeFlagged(&b, rows)
	if err := writeScheduling(&b, dir, rows, styles); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := writeIdle(&b, dir, rows, styles); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := writeCurves(&b, dir, rows, styles); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := writeServerCPUs(&b, dir, rows, styles); err != nil {
		return fmt.Errorf("report: %w", err)
	}

	for _, g := range groups {
		fmt.Fprintf(&b, "## %s\n\n", g.key.Title())
		if g.key.Rate == 0 && g.key.Fraction == 0 {
			fmt.Fprintf(&b, "%s\n\n", LittleNote)
		}
		b.WriteString("Spread over rounds (min–max, unpaired):\n\n")
		for _, v := range g.verdicts() {
			fmt.Fprintf(&b, "- %s\n", v)
		}
		b.WriteString("\n")
		writeTables(&b, dir, g)
		plots, notes, err := writeGroupPlots(dir, g, styles)
		if err != nil {
			return fmt.Errorf("report: %s: %w", g.key.Title(), err)
		}
		for _, n := range notes {
			fmt.Fprintf(&b, "> %s\n\n", n)
		}
		for _, p := range plots {
			fmt.Fprintf(&b, "![%s](plots/%s.png)  \n[SVG](plots/%s.svg)\n\n", p.title, p.base, p.base)
		}
	}
	return writeDocs(dir, b.Bytes())
}

// writeSLOReport is WriteWith for a bench slo run.
func writeSLOReport(dir string, rows []results.Row, opts Options) error {
	if err := os.MkdirAll(filepath.Join(dir, "plots"), 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	var b bytes.Buffer
	writeReportHeader(&b, rows, opts)
	if err := writeSLO(&b, dir, rows, opts.Warn); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	writeFlagged(&b, rows)
	return writeDocs(dir, b.Bytes())
}

// writeDocs writes report.md and report.html.
func writeDocs(dir string, md []byte) error {
	if err := os.WriteFile(filepath.Join(dir, "report.md"), md, 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := writeHTML(dir, md); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

func writeReportHeader(b *bytes.Buffer, rows []results.Row, opts Options) {
	b.WriteString("# asyncbench report\n\n")
	starts := distinct(rows, func(r results.Row) string { return r.StartTime })
	slices.Sort(starts)
	date := "unknown"
	if len(starts) > 0 {
		date = starts[0]
		if last := starts[len(starts)-1]; last != date {
			date += " – " + last
		}
	}
	var ok, backlog, sat, noisy, failed int
	for _, r := range rows {
		switch r.Status {
		case results.StatusOK:
			ok++
		case results.StatusBacklog:
			backlog++
		case results.StatusSaturated:
			sat++
		case results.StatusNoisy:
			noisy++
		default:
			failed++
		}
	}
	procs := distinct(rows, func(r results.Row) string {
		if r.GOMAXPROCS == 0 {
			return ""
		}
		return strconv.Itoa(r.GOMAXPROCS)
	})
	fmt.Fprintf(b, "| | |\n|---|---|\n")
	fmt.Fprintf(b, "| run | %s |\n", joinOr(distinct(rows, func(r results.Row) string { return r.RunID }), "unknown"))
	fmt.Fprintf(b, "| plan | %s |\n", mdEscape(joinOr(distinct(rows, func(r results.Row) string { return r.Plan }), "unknown")))
	fmt.Fprintf(b, "| date (UTC) | %s |\n", date)
	fmt.Fprintf(b, "| commit | %s |\n", joinOr(distinct(rows, func(r results.Row) string { return r.Commit }), "unknown"))
	fmt.Fprintf(b, "| Go | %s |\n", joinOr(distinct(rows, func(r results.Row) string { return r.GoVersion }), "unknown"))
	fmt.Fprintf(b, "| kernel | %s |\n", joinOr(distinct(rows, func(r results.Row) string { return r.Kernel }), "unknown"))
	fmt.Fprintf(b, "| CPU | %s |\n", mdEscape(joinOr(distinct(rows, func(r results.Row) string { return r.CPUModel }), "unknown")))
	fmt.Fprintf(b, "| server CPUs | %s (GOMAXPROCS %s) |\n",
		joinOr(distinct(rows, func(r results.Row) string { return r.ServerCPUSet }), "unpinned"), joinOr(procs, "unknown"))
	fmt.Fprintf(b, "| generator CPUs | %s |\n", joinOr(distinct(rows, func(r results.Row) string { return r.GeneratorCPUSet }), "unpinned"))
	fmt.Fprintf(b, "| rows | %d: %d ok, %d saturated, %d failed |\n", len(rows), ok, sat, failed)
	if backlog > 0 {
		fmt.Fprintf(b, "| server backlog | %d rows: sends waited for the server's answers; counted, the wait is in the corrected latency |\n", backlog)
	}
	if noisy > 0 {
		fmt.Fprintf(b, "| noisy rows | %d (another process or steal used the pinned CPUs; not a result) |\n", noisy)
	}
	if opts.Reruns > 0 {
		fmt.Fprintf(b, "| re-runs | %d of noisy or generator-bound cells, at the end of their round; %d came out ok and replaced the row they re-measured |\n",
			opts.Reruns, opts.RerunsOK)
	}
	b.WriteString("\n")
	writeServers(b, rows)
	b.WriteString("Numbers are medians over the ok repetitions of a cell; `±x%` is the largest distance from the median " +
		"to the minimum or maximum. Latency is in microseconds, measured from the intended send time in open-loop runs. " +
		"A verdict names a backend only when its min–max range does not overlap the runner-up's. " +
		"Saturated, noisy and failed rows are listed below and left out of every number, plot and verdict, " +
		"except that a generator-bound row's throughput, a lower bound on the server's, reads `≥ N` where no ok row says more.\n\n")
}

// writeServers lists what ran as each label's server: the command line of
// its first row (a command's address differs per cell), the environment
// bench added and the executable's hash. Rows from before these columns
// have none and list nothing.
func writeServers(b *bytes.Buffer, rows []results.Row) {
	seen := map[string]bool{}
	var lines []string
	for _, r := range rows {
		if r.ServerCommand == "" || seen[r.LabelOf()] {
			continue
		}
		seen[r.LabelOf()] = true
		lines = append(lines, fmt.Sprintf("| %s | %s | `%s` | %s | %s |", mdEscape(r.LabelOf()), mdEscape(r.Backend),
			strings.ReplaceAll(r.ServerCommand, "|", "\\|"), mdEscape(r.ServerEnv), r.ServerSHA256))
	}
	if len(lines) == 0 {
		return
	}
	b.WriteString("| label | backend | server command (first cell) | environment | sha256 |\n|---|---|---|---|---|\n")
	b.WriteString(strings.Join(lines, "\n"))
	b.WriteString("\n\n")
}

func writeFlagged(b *bytes.Buffer, rows []results.Row) {
	var flagged []results.Row
	for _, r := range rows {
		if !r.Status.Counts() {
			flagged = append(flagged, r)
		}
	}
	if len(flagged) == 0 {
		return
	}
	b.WriteString("## Saturated, noisy and failed rows\n\n")
	b.WriteString("| status | cell | backend | conns | rep | reason |\n|---|---|---|---:|---:|---|\n")
	for _, r := range flagged {
		status := r.Status
		if status == "" {
			status = "(none)"
		}
		fmt.Fprintf(b, "| **%s** | %s | %s | %d | %d | %s |\n",
			mdEscape(string(status)), mdEscape(r.Cell), mdEscape(r.Backend), r.Conns, r.Rep, mdEscape(r.Reason))
	}
	b.WriteString("\n")
}
