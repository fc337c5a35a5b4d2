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
// whose corrected p99 met the target. MaxRate and P99AtMaxUs are nil when
// no rate met it (Reason says why); BracketLow is the highest rate that
// met the target during the search, BracketHigh the lowest above it that
// did not (nil: none).
type SLORow struct {
	Backend     string   `csv:"backend"` // the label
	Workload    string   `csv:"workload"`
	Conns       int      `csv:"conns"`
	TargetP99Us int64    `csv:"target_p99_us"`
	MaxRate     *float64 `csv:"max_rate"`
	P99AtMaxUs  *int64   `csv:"p99_at_max_us"` // the larger p99 of the runs at MaxRate (after a step down, the confirmation's)
	BracketLow  *float64 `csv:"bracket_low"`
	BracketHigh *float64 `csv:"bracket_high"`
	Steps       int      `csv:"steps"`  // measurements made, the capacity probe excluded
	Reason      string   `csv:"reason"` // a failed capacity probe, then how the answer was confirmed or why there is none
}

var sloTable = newTable[SLORow]()

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
	_, rows, err := sloTable.read(f, warn)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", SLOFile, err)
	}
	return rows, nil
}
