package results

import (
	"encoding/csv"
	"io"
)

// rowTable is Row's codec: summary.csv.
var rowTable = newTable[Row]("a summary CSV")

// Header returns the CSV column names of Row, in column order.
func Header() []string { return rowTable.header() }

// Record returns r as CSV fields in column order. Floats use the shortest
// representation that reads back exactly; bools are true or false; a nil
// (not measured) field is empty.
func (r Row) Record() []string { return rowTable.record(r) }

// CSVWriter writes rows as summary.csv lines, one Write a row. It is not
// safe for concurrent use.
type CSVWriter struct{ t *AppendTable[Row] }

// NewCSVWriter returns a writer to w that writes the header before the
// first row, and flushes every Write.
func NewCSVWriter(w io.Writer) *CSVWriter {
	return &CSVWriter{&AppendTable[Row]{codec: rowTable, w: csv.NewWriter(w), headerDue: true}}
}

// Write writes one row, preceded by the header if it is still due, and
// flushes.
func (w *CSVWriter) Write(r Row) error { return w.t.Write([]Row{r}) }

// Close flushes and closes the underlying file when the writer came from
// OpenCSV; otherwise it only flushes.
func (w *CSVWriter) Close() error { return w.t.Close() }

// OpenCSV opens the summary.csv at path for appending rows and returns the
// rows already in it (for resuming a run), as openTable says: a torn last
// line is cut off, a file of an older schema rewritten under the current
// header, a foreign header refused. The file exists on return.
func OpenCSV(path string, warn io.Writer) (*CSVWriter, []Row, error) {
	t, rows, err := openTable(path, rowTable, nil, warn)
	if err != nil {
		return nil, nil, err
	}
	if err := t.create(); err != nil {
		return nil, nil, err
	}
	return &CSVWriter{t}, rows, nil
}

// ReadCSV reads rows written by CSVWriter (table.readAll): columns are
// matched by name, so files from older and newer schemas both read; a
// torn last line and rows with a NaN or infinite number are dropped with
// a warning on warn (nil: discarded).
func ReadCSV(r io.Reader, warn io.Writer) ([]Row, error) { return rowTable.readAll(r, warn) }
