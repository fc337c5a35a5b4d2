// Package report presents results: report.md with tables and verdicts,
// plots (gonum/plot), the comparison of two runs and the Go benchmark
// format for benchstat.
package report

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/asyncbench/asyncbench/results"
)

// groupKey identifies rows that belong in one table: everything but the
// backend, the connection count and the repetition.
type groupKey struct {
	Proto    string
	Workload string
	Pipeline int
	Rate     float64
	Payload  int
	Handler  string  // µs per request of delay and cpu workloads; empty for others
	Mix      string  // spec of a mix workload
	Fraction float64 // rate as a fraction of capacity (Rate is then 0); see fractionKey
	// ServerCPUs is the row's count on a server_cpus axis; 0 = none.
	ServerCPUs int
}

// Title is the heading of the group.
func (k groupKey) Title() string {
	parts := []string{k.Proto + " " + k.Workload}
	if us, err := strconv.ParseFloat(k.Handler, 64); err == nil {
		parts[0] += " " + fmtMicros(us)
	}
	if k.Mix != "" {
		parts[0] += " " + k.Mix
	}
	if k.Payload > 0 {
		parts = append(parts, fmt.Sprintf("%d B payload", k.Payload))
	}
	parts = append(parts, fmt.Sprintf("pipeline %d", k.Pipeline))
	if k.Rate > 0 {
		parts = append(parts, fmt.Sprintf("open loop at %s req/s", strconv.FormatFloat(k.Rate, 'f', -1, 64)))
	} else if k.Fraction > 0 {
		parts = append(parts, fmt.Sprintf("open loop at %s%% of closed-loop capacity", trimFloat(100*k.Fraction)))
	} else {
		parts = append(parts, "closed loop")
	}
	if k.ServerCPUs > 0 {
		parts = append(parts, cpusWords(k.ServerCPUs))
	}
	return strings.Join(parts, ", ")
}

// Slug is the group's file-name stem for its plots.
func (k groupKey) Slug() string {
	s := fmt.Sprintf("%s-%s-p%d", k.Proto, k.Workload, k.Pipeline)
	if k.Handler != "" {
		s += "-" + k.Handler + "us"
	}
	if k.Mix != "" {
		s += "-" + mixSlug(k.Mix)
	}
	if k.Payload > 0 {
		s += fmt.Sprintf("-b%d", k.Payload)
	}
	if k.Rate > 0 {
		s += "-r" + strconv.FormatFloat(k.Rate, 'f', -1, 64)
	} else if k.Fraction > 0 {
		s += "-f" + strconv.FormatFloat(100*k.Fraction, 'f', -1, 64) + "pct"
	} else {
		s += "-closed"
	}
	if k.ServerCPUs > 0 {
		s += "-s" + strconv.Itoa(k.ServerCPUs)
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
			return r
		}
		return '_'
	}, s)
}

func compareKeys(a, b groupKey) int {
	return cmp.Or(
		cmp.Compare(a.Proto, b.Proto),
		cmp.Compare(a.Workload, b.Workload),
		cmp.Compare(a.Pipeline, b.Pipeline),
		cmp.Compare(a.Rate, b.Rate),
		cmp.Compare(a.Payload, b.Payload),
		cmp.Compare(a.Handler, b.Handler),
		cmp.Compare(a.Mix, b.Mix),
		cmp.Compare(a.Fraction, b.Fraction),
		cmp.Compare(a.ServerCPUs, b.ServerCPUs),
	)
}

// cellKey is one point of a group: a backend at a connection count.
type cellKey struct {
	backend string
	conns   int
}

// cellRows holds the repetitions of one point, split by status.
type cellRows struct {
	ok, saturated, failed, noisy []results.Row
}

// group is the rows of one groupKey, indexed by backend and connections.
type group struct {
	key      groupKey
	backends []string // sorted
	conns    []int    // ascending
	cells    map[cellKey]*cellRows
}

// at returns the rows of one point; never nil.
func (g *group) at(backend string, conns int) *cellRows {
	if c, ok := g.cells[cellKey{backend, conns}]; ok {
		return c
	}
	return &cellRows{}
}

// okSample summarises metric f over the ok repetitions of one point.
func (g *group) okSample(backend string, conns int, f func(results.Row) float64) sample {
	return summarize(values(g.at(backend, conns).ok, f))
}

// groupRows splits rows into groups in a stable order.
func groupRows(rows []results.Row) []*group {
	byKey := map[groupKey]*group{}
	for _, r := range rows {
		k := groupKey{r.Proto, r.Workload, r.Pipeline, r.Rate, r.Payload, handlerKey(r), r.Mix, 0, serverCPUsOf(r)}
		fractionKey(&k, r)
		g, ok := byKey[k]
		if !ok {
			g = &group{key: k, cells: map[cellKey]*cellRows{}}
			byKey[k] = g
		}
		ck := cellKey{r.Backend, r.Conns}
		c, ok := g.cells[ck]
		if !ok {
			c = &cellRows{}
			g.cells[ck] = c
			if !slices.Contains(g.backends, r.Backend) {
				g.backends = append(g.backends, r.Backend)
			}
			if !slices.Contains(g.conns, r.Conns) {
				g.conns = append(g.conns, r.Conns)
			}
		}
		switch r.Status {
		case results.StatusOK, results.StatusBacklog:
			c.ok = append(c.ok, r)
		case results.StatusSaturated:
			c.saturated = append(c.saturated, r)
		case results.StatusNoisy:
			c.noisy = append(c.noisy, r)
		default:
			c.failed = append(c.failed, r)
		}
	}
	groups := make([]*group, 0, len(byKey))
	for _, g := range byKey {
		slices.Sort(g.backends)
		slices.Sort(g.conns)
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b *group) int { return compareKeys(a.key, b.key) })
	return groups
}

// Getters of the metrics shown in the report; NaN when not measured.
var (
	getRPS    = func(r results.Row) float64 { return r.RPS }
	getP99    = func(r results.Row) float64 { return float64(r.P99Us) }
	getRSSMiB = func(r results.Row) float64 { return optional(r.RSSPeakKiB) / 1024 }
	getReqCPU = func(r results.Row) float64 { return optional(r.ReqPerServerCPUSecond) }
)

// optional is *p as a float64, NaN when p is nil (not measured).
func optional[T int64 | uint64 | float64](p *T) float64 {
	if p == nil {
		return math.NaN()
	}
	return float64(*p)
}

// judgeConns is the connection count a group's verdict speaks about: the
// largest at which at least two backends have ok rows, else the largest
// with any ok row. It returns 0 when no point is ok.
func (g *group) judgeConns() (conns, backends int) {
	best, bestN := 0, 0
	for _, c := range g.conns {
		n := 0
		for _, b := range g.backends {
			if len(g.at(b, c).ok) > 0 {
				n++
			}
		}
		if n >= 2 || (n == 1 && bestN < 2) {
			best, bestN = c, n
		}
	}
	return best, bestN
}

// ranked is one backend's sample of a metric at the judged connections.
type ranked struct {
	backend string
	s       sample
}

// verdicts returns the group's one-line findings on throughput and p99.
func (g *group) verdicts() []string {
	conns, n := g.judgeConns()
	switch {
	case conns == 0:
		return []string{"No ok measurement in this group."}
	case n == 1:
		for _, b := range g.backends {
			if len(g.at(b, conns).ok) > 0 {
				return []string{fmt.Sprintf("Only %s has ok measurements at %d connections; nothing to compare.", b, conns)}
			}
		}
	}
	var rk []ranked
	single := false
	for _, b := range g.backends {
		if len(g.at(b, conns).ok) == 0 {
			continue
		}
		rk = append(rk, ranked{b, g.okSample(b, conns, getRPS)})
		if len(g.at(b, conns).ok) < 2 {
			single = true
		}
	}
	caveat := ""
	if single {
		caveat = "; a single repetition, so no spread to judge by"
	}
	out := []string{
		verdictLine(rk, conns, true, "throughput", "req/s", caveat),
	}
	for i := range rk {
		rk[i].s = g.okSample(rk[i].backend, conns, getP99)
	}
	out = append(out, verdictLine(rk, conns, false, "p99 latency", "µs", caveat))
	return out
}

// verdictLine names the best backend of rk when its min–max range does not
// overlap the runner-up's, else says there is no clear difference.
func verdictLine(rk []ranked, conns int, higherBetter bool, what, unit, caveat string) string {
	rk = slices.Clone(rk)
	slices.SortStableFunc(rk, func(a, b ranked) int {
		if higherBetter {
			return cmp.Compare(b.s.median, a.s.median)
		}
		return cmp.Compare(a.s.median, b.s.median)
	})
	best, next := rk[0], rk[1]
	if best.s.overlaps(next.s) {
		return fmt.Sprintf("At %d connections, %s: no clear difference between %s (%s %s) and %s (%s %s); their ranges overlap%s.",
			conns, what, best.backend, fmtCount(best.s.median), unit, next.backend, fmtCount(next.s.median), unit, caveat)
	}
	adj := "highest"
	if !higherBetter {
		adj = "lowest"
	}
	ratio := ""
	if next.s.median != 0 {
		ratio = fmt.Sprintf(" (%.2f×)", best.s.median/next.s.median)
	}
	return fmt.Sprintf("At %d connections, %s has the %s median %s: %s %s against %s %s for %s, the next best%s%s.",
		conns, best.backend, adj, what, fmtCount(best.s.median), unit, fmtCount(next.s.median), unit, next.backend, ratio, caveat)
}

// fmtCount rounds x to an integer and groups thousands with commas.
func fmtCount(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	s := strconv.FormatFloat(math.Abs(math.Round(x)), 'f', 0, 64)
	var b strings.Builder
	if x < 0 && s != "0" {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

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

// distinct returns the distinct non-empty values of f over rows, in order
// of first appearance.
func distinct(rows []results.Row, f func(results.Row) string) []string {
	var out []string
	for _, r := range rows {
		if v := f(r); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func joinOr(vs []string, none string) string {
	if len(vs) == 0 {
		return none
	}
	return strings.Join(vs, "; ")
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

// fmtCell formats the ok sample of one point for a table, noting excluded
// repetitions. lower, when not nil, gets the column's figure from a
// generator-bound closed-loop row, which is then a lower bound on the
// server's (throughput): with no ok repetition the cell reads "≥ N
// (generator-bound)", N the median of those rows, else they are noted.
func fmtCell(c *cellRows, s sample, format func(float64) string, lower func(results.Row) float64) string {
	var bound []results.Row
	if lower != nil {
		for _, r := range c.saturated {
			if r.GeneratorBound() && r.Rate == 0 {
				bound = append(bound, r)
			}
		}
	}
	boundText := func() string { return "≥ " + format(summarize(values(bound, lower)).median) }
	sat := len(c.saturated) - len(bound)
	var txt string
	switch {
	case len(c.ok) == 0 && len(bound) > 0:
		txt = boundText() + " (generator-bound)"
	case len(c.ok) == 0 && len(c.saturated) > 0:
		txt = "saturated"
	case len(c.ok) == 0 && len(c.failed) > 0:
		txt = "failed"
	case len(c.ok) == 0 && len(c.noisy) > 0:
		txt = "noisy"
	case len(c.ok) == 0, s.n == 0:
		return "–"
	case s.n >= 2:
		txt = fmt.Sprintf("%s ±%.0f%%", format(s.median), s.spreadPct())
	default:
		txt = format(s.median)
	}
	var notes []string
	if len(c.ok) > 0 && len(bound) > 0 {
		notes = append(notes, fmt.Sprintf("%d generator-bound %s", len(bound), boundText()))
	}
	if sat > 0 && (len(c.ok) > 0 || len(bound) > 0) {
		notes = append(notes, fmt.Sprintf("%d sat.", sat))
	}
	if len(c.ok) > 0 && len(c.failed) > 0 {
		notes = append(notes, fmt.Sprintf("%d failed", len(c.failed)))
	}
	if len(c.ok) > 0 && len(c.noisy) > 0 {
		notes = append(notes, fmt.Sprintf("%d noisy", len(c.noisy)))
	}
	if len(notes) > 0 {
		txt += " (" + strings.Join(notes, ", ") + ")"
	}
	return txt
}

func fmtMiB(x float64) string { return strconv.FormatFloat(x, 'f', 1, 64) }

// writeTables writes the throughput/latency table and the cost table of g.
// The p99 of a point is that of its ok rounds' histograms summed, with
// its 95% interval (results.Tails), read from the .hlog files under dir;
// where they cannot be read, the median over rounds.
func writeTables(b *bytes.Buffer, dir string, g *group) {
	// lower: per column, the figure a generator-bound row bounds from below.
	table := func(title string, cols [2]string, get [2]func(results.Row) float64, format [2]func(float64) string, lower [2]func(results.Row) float64) {
		fmt.Fprintf(b, "%s\n\n| conns |", title)
		for _, be := range g.backends {
			fmt.Fprintf(b, " %s %s | %s %s |", mdEscape(be), cols[0], mdEscape(be), cols[1])
		}
		b.WriteString("\n|---:|")
		for range g.backends {
			b.WriteString("---:|---:|")
		}
		b.WriteString("\n")
		for _, c := range g.conns {
			fmt.Fprintf(b, "| %d |", c)
			for _, be := range g.backends {
				cr := g.at(be, c)
				for i := range 2 {
					txt := fmtCell(cr, g.okSample(be, c, get[i]), format[i], lower[i])
					if tail, ok := tailText(dir, cr); ok && cols[i] == p99Column {
						// Keep fmtCell's notes on the other rounds: "(1 failed)".
						_, notes, _ := strings.Cut(txt, " (")
						txt = tail
						if notes != "" {
							txt += " (" + notes
						}
					}
					fmt.Fprintf(b, " %s |", txt)
				}
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	table("Throughput and tail latency:",
		[2]string{"req/s", p99Column}, [2]func(results.Row) float64{getRPS, getP99}, [2]func(float64) string{fmtCount, fmtCount},
		[2]func(results.Row) float64{getRPS, nil})
	table("Server cost:",
		[2]string{"RSS peak MiB", "req per CPU-s"}, [2]func(results.Row) float64{getRSSMiB, getReqCPU}, [2]func(float64) string{fmtMiB, fmtCount},
		[2]func(results.Row) float64{})
}

// p99Column heads the tables' p99 column.
const p99Column = "p99 µs [95%]"

// tailText is the p99 of c's ok rounds, histograms summed, with its 95%
// interval and a warning when few samples lie beyond it; ok is false when
// there is no ok round or a .hlog cannot be read.
func tailText(dir string, c *cellRows) (string, bool) {
	if len(c.ok) == 0 {
		return "", false
	}
	rounds := make([][]*hdrhistogram.Histogram, 0, len(c.ok))
	for _, r := range c.ok {
		if r.Hlog == "" {
			return "", false
		}
		ivs, err := results.ReadIntervals(hlogPath(dir, r))
		if err != nil {
			return "", false
		}
		rounds = append(rounds, ivs)
	}
	t, err := results.NewTails(rounds)
	if err != nil {
		return "", false
	}
	return fmtPercentile(t.Percentile(99, rand.New(rand.NewPCG(uint64(t.Count()), 99)))), true
}

// mdEscape keeps s from breaking a markdown table cell.
func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.Join(strings.Fields(s), " ")
}
