package results

import (
	"encoding/csv"
	"fmt"
	"os"
	"reflect"
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

// WriteSLOFile writes rows to path as CSV with a header.
func WriteSLOFile(path string, rows []SLORow) error {
	cols := tagColumns(reflect.TypeFor[SLORow]())
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", SLOFile, err)
	}
	cw := csv.NewWriter(f)
	hdr := make([]string, len(cols))
	for i, c := range cols {
		hdr[i] = c.name
	}
	_ = cw.Write(hdr)
	for _, r := range rows {
		v := reflect.ValueOf(r)
		rec := make([]string, len(cols))
		for i, c := range cols {
			fv := v.Field(c.index)
			if c.ptr {
				if fv.IsNil() {
					continue
				}
				fv = fv.Elem()
			}
			rec[i] = formatValue(fv, c.kind)
		}
		_ = cw.Write(rec)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", SLOFile, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", SLOFile, err)
	}
	return nil
}
