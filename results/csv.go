package results

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// column maps one csv tag to the index of its Row field. A pointer field
// (ptr) is optional: nil is written as an empty field and read back as nil.
type column struct {
	name  string
	index int
	kind  reflect.Kind // of the field, or of what it points to
	ptr   bool
}

// rowTable is Row's codec; its columns are Row's fields in declaration
// order, which is the column order.
var rowTable = newTable[Row]()

// columns lists Row's columns (rowTable's), for the readers below.
var columns = rowTable.cols

// tagColumns reads the csv tags of struct type t. It panics on a field kind
// the codec does not handle, which any test of this package would reveal.
func tagColumns(t reflect.Type) []column {
	cols := make([]column, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("csv")
		if name == "" || name == "-" {
			continue
		}
		c := column{name: name, index: i, kind: f.Type.Kind()}
		if c.kind == reflect.Pointer {
			c.ptr, c.kind = true, f.Type.Elem().Kind()
		}
		switch c.kind {
		case reflect.String, reflect.Int, reflect.Int64, reflect.Uint64, reflect.Float64, reflect.Bool:
		default:
			panic(fmt.Sprintf("results: %s.%s has unsupported type %s", t.Name(), f.Name, f.Type))
		}
		cols = append(cols, c)
	}
	return cols
}

// Header returns the CSV column names of Row, in column order.
func Header() []string { return rowTable.header() }

// Record returns r as CSV fields in column order. Floats use the shortest
// representation that reads back exactly; bools are true or false; a nil
// (not measured) field is empty.
func (r Row) Record() []string { return rowTable.record(r) }

func formatValue(f reflect.Value, kind reflect.Kind) string {
	switch kind {
	case reflect.String:
		return f.String()
	case reflect.Int, reflect.Int64:
		return strconv.FormatInt(f.Int(), 10)
	case reflect.Uint64:
		return strconv.FormatUint(f.Uint(), 10)
	case reflect.Float64:
		return strconv.FormatFloat(f.Float(), 'f', -1, 64)
	case reflect.Bool:
		return strconv.FormatBool(f.Bool())
	}
	return ""
}

// setField parses s into field c of the Row behind v. An empty string
// leaves the zero value: nil for an optional field.
func setField(v reflect.Value, c column, s string) error {
	if s == "" {
		return nil
	}
	f := v.Field(c.index)
	if c.ptr {
		p := reflect.New(f.Type().Elem())
		f.Set(p)
		f = p.Elem()
	}
	return parseValue(f, c.kind, s)
}

func parseValue(f reflect.Value, kind reflect.Kind, s string) error {
	switch kind {
	case reflect.String:
		f.SetString(s)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return err
		}
		f.SetInt(n)
	case reflect.Uint64:
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return err
		}
		f.SetUint(n)
	case reflect.Float64:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return err
		}
		f.SetFloat(x)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		f.SetBool(b)
	}
	return nil
}

// CSVWriter writes rows as summary.csv lines. Every Write is flushed, so an
// interrupted run keeps every finished row. It is not safe for concurrent use.
type CSVWriter struct {
	w           *csv.Writer
	closer      io.Closer
	writeHeader bool
}

// NewCSVWriter returns a writer that writes the header before the first row.
func NewCSVWriter(w io.Writer) *CSVWriter {
	return &CSVWriter{w: csv.NewWriter(w), writeHeader: true}
}

// Write writes one row, preceded by the header if it is still due, and
// flushes.
func (w *CSVWriter) Write(r Row) error {
	if w.writeHeader {
		if err := w.w.Write(Header()); err != nil {
			return fmt.Errorf("write csv header: %w", err)
		}
		w.writeHeader = false
	}
	if err := w.w.Write(r.Record()); err != nil {
		return fmt.Errorf("write csv row %s: %w", r.Cell, err)
	}
	w.w.Flush()
	if err := w.w.Error(); err != nil {
		return fmt.Errorf("write csv row %s: %w", r.Cell, err)
	}
	return nil
}

// Close flushes and closes the underlying file when the writer came from
// OpenCSV; otherwise it only flushes.
func (w *CSVWriter) Close() error {
	w.w.Flush()
	err := w.w.Error()
	if w.closer != nil {
		if cerr := w.closer.Close(); err == nil {
			err = cerr
		}
		w.closer = nil
	}
	return err
}

// OpenCSV opens path for appending rows and returns the rows already in it
// (for resuming a run). A new or empty file gets the header on the first
// Write. A trailing partial line, left by an interrupted write, is cut off.
// A file written with an older schema (its header a prefix of Header) is
// rewritten with the current header first; any other header is an error.
// Dropped lines (see ReadCSV) are reported on warn and removed from the file.
func OpenCSV(path string, warn io.Writer) (*CSVWriter, []Row, error) {
	if warn == nil {
		warn = io.Discard
	}
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("open csv: %w", err)
	}
	var rows []Row
	if len(data) > 0 {
		if whole, cut := cutPartialLine(data); cut != "" {
			data = whole
			fmt.Fprintf(warn, "warning: %s: cut a partial last line (no newline): %.60q\n", path, cut)
			if err := os.Truncate(path, int64(len(data))); err != nil {
				return nil, nil, fmt.Errorf("open csv: cut partial line: %w", err)
			}
		}
		var dropped warnCounter
		hdr, rs, err := readCSV(bytes.NewReader(data), io.MultiWriter(warn, &dropped))
		if err != nil {
			return nil, nil, fmt.Errorf("open csv %s: %w", path, err)
		}
		rows = rs
		switch {
		case slices.Equal(hdr, Header()) && dropped == 0:
		case len(hdr) <= len(columns) && slices.Equal(hdr, Header()[:len(hdr)]):
			if err := rewriteCSV(path, rows); err != nil {
				return nil, nil, fmt.Errorf("open csv %s: upgrade schema: %w", path, err)
			}
		default:
			return nil, nil, fmt.Errorf("open csv %s: header does not match this version's columns; use a new run directory", path)
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("open csv: %w", err)
	}
	w := NewCSVWriter(f)
	w.closer = f
	w.writeHeader = len(data) == 0
	return w, rows, nil
}

// warnCounter counts the warnings written to it.
type warnCounter int

func (c *warnCounter) Write(p []byte) (int, error) { *c++; return len(p), nil }

// rewriteCSV replaces path atomically with rows under the current header.
func rewriteCSV(path string, rows []Row) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".summary-*.csv")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	cw := csv.NewWriter(tmp)
	_ = cw.Write(Header())
	for _, r := range rows {
		_ = cw.Write(r.Record())
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

// ReadCSV reads rows written by CSVWriter. Columns are matched by header
// name: unknown columns are ignored and missing ones leave zero values, so
// files from older and newer schemas both read.
//
// A partial last line (no trailing newline, or fewer or more fields than
// the header), as an interrupted write leaves it, is dropped, and so is a
// row holding a NaN or infinite number; each is reported on warn (nil:
// discarded) so no torn or undefined value becomes a result.
func ReadCSV(r io.Reader, warn io.Writer) ([]Row, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read csv: %w", err)
	}
	if warn == nil {
		warn = io.Discard
	}
	data, cut := cutPartialLine(data)
	if cut != "" {
		fmt.Fprintf(warn, "warning: dropped a partial last line (no newline): %.60q\n", cut)
	}
	_, rows, err := readCSV(bytes.NewReader(data), warn)
	return rows, err
}

// cutPartialLine returns data up to its last newline and what followed it.
func cutPartialLine(data []byte) (whole []byte, rest string) {
	i := bytes.LastIndexByte(data, '\n')
	return data[:i+1], string(data[i+1:])
}

func readCSV(r io.Reader, warn io.Writer) ([]string, []Row, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	hdr, err := cr.Read()
	if err == io.EOF {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read csv header: %w", err)
	}
	byName := make(map[string]column, len(columns))
	for _, c := range columns {
		byName[c.name] = c
	}
	mapped := make([]*column, len(hdr))
	seen := make(map[string]bool, len(hdr))
	known := 0
	for i, name := range hdr {
		name = strings.TrimSpace(strings.TrimPrefix(name, "\ufeff"))
		if seen[name] {
			return nil, nil, fmt.Errorf("read csv header: duplicate column %q", name)
		}
		seen[name] = true
		if c, ok := byName[name]; ok {
			mapped[i] = &c
			known++
		}
	}
	if known == 0 {
		return nil, nil, errors.New("read csv header: no known column; not a summary CSV")
	}
	rows, err := readRows(cr, mapped, warn)
	return hdr, rows, err
}

// readRows reads the records after the header. A record with a field count
// other than the header's is an error unless it is the last one, which is
// then a torn write and dropped with a warning.
func readRows(cr *csv.Reader, mapped []*column, warn io.Writer) ([]Row, error) {
	var rows []Row
	var torn error
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if torn != nil {
			return nil, torn
		}
		if len(rec) != len(mapped) {
			torn = fmt.Errorf("read csv line %d: %d fields, header has %d", line, len(rec), len(mapped))
			continue
		}
		row, err := parseRecord(rec, mapped)
		if err != nil {
			return nil, fmt.Errorf("read csv line %d %w", line, err)
		}
		if col := nonFinite(row); col != "" {
			fmt.Fprintf(warn, "warning: csv line %d (%s): %s is not a finite number; row skipped\n", line, row.Cell, col)
			continue
		}
		rows = append(rows, row)
	}
	if torn != nil {
		fmt.Fprintf(warn, "warning: dropped a partial last line: %v\n", torn)
	}
	return rows, nil
}

// parseRecord fills a Row from one record.
func parseRecord(rec []string, mapped []*column) (Row, error) {
	var row Row
	v := reflect.ValueOf(&row).Elem()
	for i, s := range rec {
		if mapped[i] == nil {
			continue
		}
		if err := setField(v, *mapped[i], s); err != nil {
			return Row{}, fmt.Errorf("column %s: %w", mapped[i].name, err)
		}
	}
	return row, nil
}

// nonFinite names the first column of r holding NaN or ±Inf, or returns
// "". Such a row is no result: readers skip it.
func nonFinite(r Row) string {
	v := reflect.ValueOf(r)
	for _, c := range columns {
		if c.kind != reflect.Float64 {
			continue
		}
		f := v.Field(c.index)
		if c.ptr {
			if f.IsNil() {
				continue
			}
			f = f.Elem()
		}
		if x := f.Float(); math.IsNaN(x) || math.IsInf(x, 0) {
			return c.name
		}
	}
	return ""
}
