package results

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
)

// EndpointsFile is the name of the per-endpoint results in a run directory.
const EndpointsFile = "endpoints.csv"

// EndpointRow is one entry of a request mix in one cell × repetition: one
// line of endpoints.csv. Its identity columns repeat those of the cell's
// Row; the numbers come from the generator's per-endpoint statistics.
// Columns are only ever appended, as in summary.csv.
type EndpointRow struct {
	RunID    string `csv:"run_id"`
	Cell     string `csv:"cell"`
	Rep      int    `csv:"rep"`
	Backend  string `csv:"backend"`
	Workload string `csv:"workload"`
	Conns    int    `csv:"conns"`

	Path     string  `csv:"path"`   // path and query as written in the mix
	Weight   int     `csv:"weight"` // relative weight in the mix
	Requests uint64  `csv:"requests"`
	Errors   uint64  `csv:"errors"`
	P50Us    int64   `csv:"p50_us"`
	P90Us    int64   `csv:"p90_us"`
	P99Us    int64   `csv:"p99_us"`
	P999Us   int64   `csv:"p999_us"`
	MaxUs    int64   `csv:"max_us"`
	MeanUs   float64 `csv:"mean_us"`
	Attempt  int     `csv:"attempt"` // the cell row's attempt (Row.Attempt); 0 before the column existed
}

// endpointTable is the CSV codec of EndpointRow.
var endpointTable = newTable[EndpointRow]()

// EndpointHeader returns the column names of endpoints.csv.
func EndpointHeader() []string { return endpointTable.header() }

// EndpointWriter appends rows to endpoints.csv, flushing every Write. It is
// not safe for concurrent use.
type EndpointWriter struct {
	path string
	w    *csv.Writer
	f    *os.File // opened by the first Write, so a run without mixes leaves no file
}

// OpenEndpoints opens path for appending and returns the rows already in
// it. A torn last line is cut off with a warning on warn, as OpenCSV does
// for summary.csv. Rows for which keep returns false are removed from the
// file (keep nil keeps all): a resumed run passes the cell repetitions it
// will not run again, so that a cell it retries never has the endpoint
// rows of two attempts.
func OpenEndpoints(path string, keep func(EndpointRow) bool, warn io.Writer) (*EndpointWriter, []EndpointRow, error) {
	if warn == nil {
		warn = io.Discard
	}
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("open %s: %w", EndpointsFile, err)
	}
	var rows []EndpointRow
	if len(data) > 0 {
		whole, cut := cutPartialLine(data)
		if cut != "" {
			fmt.Fprintf(warn, "warning: %s: cut a partial last line (no newline): %.60q\n", path, cut)
		}
		var dropped warnCounter
		hdr, rs, err := endpointTable.read(bytes.NewReader(whole), io.MultiWriter(warn, &dropped))
		if err != nil {
			return nil, nil, fmt.Errorf("open %s: %w", path, err)
		}
		n := len(rs)
		if keep != nil {
			rs = slices.DeleteFunc(rs, func(r EndpointRow) bool { return !keep(r) })
		}
		rows = rs
		if cut != "" || dropped > 0 || n != len(rs) || !slices.Equal(hdr, EndpointHeader()) {
			if len(hdr) > len(EndpointHeader()) || !slices.Equal(hdr, EndpointHeader()[:len(hdr)]) {
				return nil, nil, fmt.Errorf("open %s: header does not match this version's columns; use a new run directory", path)
			}
			if err := rewriteTable(path, endpointTable, rows); err != nil {
				return nil, nil, fmt.Errorf("open %s: %w", path, err)
			}
		}
	}
	return &EndpointWriter{path: path}, rows, nil
}

// Write appends rows (the header first if the file is new) and flushes.
func (w *EndpointWriter) Write(rows []EndpointRow) error {
	if w.f == nil {
		f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("open %s: %w", EndpointsFile, err)
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return fmt.Errorf("open %s: %w", EndpointsFile, err)
		}
		w.f, w.w = f, csv.NewWriter(f)
		if st.Size() == 0 {
			if err := w.w.Write(EndpointHeader()); err != nil {
				return fmt.Errorf("write %s header: %w", EndpointsFile, err)
			}
		}
	}
	for _, r := range rows {
		if err := w.w.Write(endpointTable.record(r)); err != nil {
			return fmt.Errorf("write %s row %s: %w", EndpointsFile, r.Cell, err)
		}
	}
	w.w.Flush()
	if err := w.w.Error(); err != nil {
		return fmt.Errorf("write %s: %w", EndpointsFile, err)
	}
	return nil
}

// Close flushes and closes the file.
func (w *EndpointWriter) Close() error {
	if w.f == nil {
		return nil
	}
	w.w.Flush()
	err := w.w.Error()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.f = nil
	return err
}

// ReadEndpoints reads endpoints.csv. Like ReadCSV it maps columns by
// name, drops a torn last line and rows with NaN or infinite numbers with
// a warning on warn (nil: discarded).
func ReadEndpoints(r io.Reader, warn io.Writer) ([]EndpointRow, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", EndpointsFile, err)
	}
	if warn == nil {
		warn = io.Discard
	}
	data, cut := cutPartialLine(data)
	if cut != "" {
		fmt.Fprintf(warn, "warning: dropped a partial last line (no newline): %.60q\n", cut)
	}
	_, rows, err := endpointTable.read(bytes.NewReader(data), warn)
	return rows, err
}

// ReadEndpointsFile reads dir/endpoints.csv; a missing file gives no rows
// and no error (a run without mixes has none).
func ReadEndpointsFile(dir string, warn io.Writer) ([]EndpointRow, error) {
	f, err := os.Open(filepath.Join(dir, EndpointsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadEndpoints(f, warn)
}

// table is the CSV codec of a struct type T whose fields carry csv tags,
// with the same formatting, torn-line and non-finite rules as summary.csv.
type table[T any] struct{ cols []column }

func newTable[T any]() table[T] { return table[T]{cols: tagColumns(reflect.TypeFor[T]())} }

func (t table[T]) header() []string {
	h := make([]string, len(t.cols))
	for i, c := range t.cols {
		h[i] = c.name
	}
	return h
}

func (t table[T]) record(r T) []string {
	v := reflect.ValueOf(r)
	rec := make([]string, len(t.cols))
	for i, c := range t.cols {
		f := v.Field(c.index)
		if c.ptr {
			if f.IsNil() {
				continue
			}
			f = f.Elem()
		}
		rec[i] = formatValue(f, c.kind)
	}
	return rec
}

// read reads a header and the records after it. A record whose field count
// differs from the header's is an error unless it is the last (torn, and
// dropped with a warning); a row with a non-finite float is skipped with a
// warning.
func (t table[T]) read(r io.Reader, warn io.Writer) ([]string, []T, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	hdr, err := cr.Read()
	if err == io.EOF {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read header: %w", err)
	}
	byName := map[string]column{}
	for _, c := range t.cols {
		byName[c.name] = c
	}
	mapped := make([]*column, len(hdr))
	known := 0
	for i, name := range hdr {
		if c, ok := byName[name]; ok {
			mapped[i] = &c
			known++
		}
	}
	if known == 0 {
		return nil, nil, errors.New("read header: no known column")
	}
	var rows []T
	var torn error
records:
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if torn != nil {
			return nil, nil, torn
		}
		if len(rec) != len(mapped) {
			torn = fmt.Errorf("line %d: %d fields, header has %d", line, len(rec), len(mapped))
			continue
		}
		var row T
		v := reflect.ValueOf(&row).Elem()
		for i, s := range rec {
			if mapped[i] == nil {
				continue
			}
			if err := setField(v, *mapped[i], s); err != nil {
				return nil, nil, fmt.Errorf("line %d column %s: %w", line, mapped[i].name, err)
			}
			if f := v.Field(mapped[i].index); f.Kind() == reflect.Float64 && !isFinite(f.Float()) {
				fmt.Fprintf(warn, "warning: line %d: %s is not a finite number; row skipped\n", line, mapped[i].name)
				continue records
			}
		}
		rows = append(rows, row)
	}
	if torn != nil {
		fmt.Fprintf(warn, "warning: dropped a partial last line: %v\n", torn)
	}
	return hdr, rows, nil
}

func isFinite(x float64) bool { return x-x == 0 }

// rewriteTable replaces path atomically with rows under t's header.
func rewriteTable[T any](path string, t table[T], rows []T) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".rewrite-*.csv")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o644); err != nil { // CreateTemp makes 0600
		tmp.Close()
		return err
	}
	cw := csv.NewWriter(tmp)
	_ = cw.Write(t.header())
	for _, r := range rows {
		_ = cw.Write(t.record(r))
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
