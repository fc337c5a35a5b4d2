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
	"strconv"
	"strings"
)

// column maps one csv tag to the index of its Row field.
type column struct {
	name  string
	index int
	kind  reflect.Kind
}

// columns lists Row's fields in declaration order, which is the column order.
var columns = rowColumns()

// rowColumns reads the csv tags of Row once. It panics on a field kind the
// codec does not handle, which any test of this package would reveal.
func rowColumns() []column {
	t := reflect.TypeFor[Row]()
	cols := make([]column, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("csv")
		if name == "" || name == "-" {
			continue
		}
		switch f.Type.Kind() {
		case reflect.String, reflect.Int, reflect.Int64, reflect.Uint64, reflect.Float64, reflect.Bool:
		default:
			panic(fmt.Sprintf("results: Row.%s has unsupported kind %s", f.Name, f.Type.Kind()))
		}
		cols = append(cols, column{name: name, index: i, kind: f.Type.Kind()})
	}
	return cols
}

// Header returns the CSV column names of Row, in column order.
func Header() []string {
	h := make([]string, len(columns))
	for i, c := range columns {
		h[i] = c.name
	}
	return h
}

// Record returns r as CSV fields in column order. Floats use the shortest
// representation that reads back exactly; bools are true or false.
func (r Row) Record() []string {
	v := reflect.ValueOf(r)
	rec := make([]string, len(columns))
	for i, c := range columns {
		f := v.Field(c.index)
		switch c.kind {
		case reflect.String:
			rec[i] = f.String()
		case reflect.Int, reflect.Int64:
			rec[i] = strconv.FormatInt(f.Int(), 10)
		case reflect.Uint64:
			rec[i] = strconv.FormatUint(f.Uint(), 10)
		case reflect.Float64:
			rec[i] = strconv.FormatFloat(f.Float(), 'f', -1, 64)
		case reflect.Bool:
			rec[i] = strconv.FormatBool(f.Bool())
		}
	}
	return rec
}

// setField parses s into field c of the Row behind v. An empty string
// leaves the zero value.
func setField(v reflect.Value, c column, s string) error {
	if s == "" {
		return nil
	}
	f := v.Field(c.index)
	switch c.kind {
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
func OpenCSV(path string) (*CSVWriter, []Row, error) {
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("open csv: %w", err)
	}
	var rows []Row
	if len(data) > 0 {
		if i := bytes.LastIndexByte(data, '\n'); i != len(data)-1 {
			data = data[:i+1]
			if err := os.Truncate(path, int64(len(data))); err != nil {
				return nil, nil, fmt.Errorf("open csv: cut partial line: %w", err)
			}
		}
		hdr, rs, err := readCSV(bytes.NewReader(data))
		if err != nil {
			return nil, nil, fmt.Errorf("open csv %s: %w", path, err)
		}
		rows = rs
		switch {
		case slices.Equal(hdr, Header()):
		case len(hdr) < len(columns) && slices.Equal(hdr, Header()[:len(hdr)]):
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
func ReadCSV(r io.Reader) ([]Row, error) {
	_, rows, err := readCSV(r)
	return rows, err
}

func readCSV(r io.Reader) ([]string, []Row, error) {
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
	var rows []Row
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		var row Row
		v := reflect.ValueOf(&row).Elem()
		for i, s := range rec {
			if i >= len(mapped) || mapped[i] == nil {
				continue
			}
			if err := setField(v, *mapped[i], s); err != nil {
				return nil, nil, fmt.Errorf("read csv line %d column %s: %w", line, mapped[i].name, err)
			}
		}
		rows = append(rows, row)
	}
	return hdr, rows, nil
}
