package results

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// SLOFile is the file bench slo writes into its run directory.
const SLOFile = "slo.csv"

// SLORow is one backend's answer of bench slo: the highest open-loop rate
// whose corrected p99 met the target. MaxRate and the columns about it
// are nil when no rate met it (Reason says why); BracketLow is the highest
// rate that met the target during the search, BracketHigh the lowest above
// it that did not (nil: none). The bracket is the answer's resolution in
// rate; the interval columns are about its p99, not its rate.
type SLORow struct {
	Backend     string   `csv:"backend"` // the label
	Workload    string   `csv:"workload"`
	Conns       int      `csv:"conns"`
	TargetP99Us int64    `csv:"target_p99_us"`
	MaxRate     *float64 `csv:"max_rate"`
	P99AtMaxUs  *int64   `csv:"p99_at_max_us"` // p99 of the runs at MaxRate pooled (their histograms added)
	BracketLow  *float64 `csv:"bracket_low"`
	BracketHigh *float64 `csv:"bracket_high"`
	Steps       int      `csv:"steps"`  // runs made, the capacity probe excluded
	Reason      string   `csv:"reason"` // a failed capacity probe, failed confirmations, the answer's evidence or why there is none
	// The 95% interval of P99AtMaxUs: a two-stage bootstrap over the runs
	// at MaxRate and their 1 s intervals (Tails).
	P99LoUs *int64 `csv:"p99_lo_us"`
	P99HiUs *int64 `csv:"p99_hi_us"`
	Runs    *int   `csv:"runs"` // runs pooled at MaxRate, each a fresh server
	// Close: the interval still held the target after the most runs at
	// MaxRate, and the pooled p99 alone decided that it met.
	Close *bool `csv:"close"`
	// UndecidedLow–UndecidedHigh: the rates the search's evidence left
	// undecided, where p99 stayed within its interval of the target (see
	// runner.SLOResult); both 0 when every rate was decided.
	UndecidedLow  *float64 `csv:"undecided_low"`
	UndecidedHigh *float64 `csv:"undecided_high"`
}

// BracketText writes the bracket with f: "low–high", "< high" when no
// rate met the target, "≥ low" when none above it missed, "–" when there
// is neither.
func (a SLORow) BracketText(f func(float64) string) string {
	switch {
	case a.BracketLow != nil && a.BracketHigh != nil:
		return f(*a.BracketLow) + "–" + f(*a.BracketHigh)
	case a.BracketHigh != nil:
		return "< " + f(*a.BracketHigh)
	case a.BracketLow != nil:
		return "≥ " + f(*a.BracketLow)
	}
	return "–"
}

// UndecidedText writes the undecided range with f: "low–high", "none"
// when every rate judged was decided (both 0), "–" when no rate was
// judged or the file predates the columns.
func (a SLORow) UndecidedText(f func(float64) string) string {
	switch {
	case a.UndecidedLow == nil || a.UndecidedHigh == nil:
		return "–"
	case *a.UndecidedLow == 0:
		return "none"
	}
	return f(*a.UndecidedLow) + "–" + f(*a.UndecidedHigh)
}

var sloTable = newTable[SLORow]("an SLO CSV")

// WriteSLOFile replaces path with rows as CSV under a header.
func WriteSLOFile(path string, rows []SLORow) error {
	if err := rewriteTable(path, sloTable, rows); err != nil {
		return fmt.Errorf("write %s: %w", SLOFile, err)
	}
	return nil
}

// ReadSLOFile reads dir/slo.csv; the error wraps fs.ErrNotExist when the
// directory holds no SLO search. Warnings (a torn last line) go to warn.
func ReadSLOFile(dir string, warn io.Writer) ([]SLORow, error) {
	f, err := os.Open(filepath.Join(dir, SLOFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := sloTable.readAll(f, warn)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", SLOFile, err)
	}
	return rows, nil
}
