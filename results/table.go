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

// column maps one csv tag to the index of its struct field. A pointer
// field (ptr) is optional: nil is written as an empty field and read back
// as nil.
type column struct {
	name  string
	index int
	kind  reflect.Kind // of the field, or of what it points to
	ptr   bool
}

// table is the CSV codec of a struct type T whose fields carry csv tags;
// its columns are those fields in declaration order. Columns are only
// ever appended, so files of older and newer schemas both read.
type table[T any] struct {
	what string // what a file of T is, for errors: "a summary CSV"
	cols []column
}

func newTable[T any](what string) table[T] {
	return table[T]{what: what, cols: tagColumns(reflect.TypeFor[T]())}
}

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

func (t table[T]) header() []string {
	h := make([]string, len(t.cols))
	for i, c := range t.cols {
		h[i] = c.name
	}
	return h
}

// record returns r as CSV fields in column order. Floats use the shortest
// representation that reads back exactly; bools are true or false; a nil
// (not measured) field is empty.
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

// readAll reads a whole file of T. Columns are matched by header name:
// unknown columns are ignored and missing ones leave zero values.
//
// A partial last line (no trailing newline, or fewer or more fields than
// the header), as an interrupted write leaves it, is dropped, and so is a
// row holding a NaN or infinite number; each is reported on warn (nil:
// discarded) so no torn or undefined value becomes a result.
func (t table[T]) readAll(r io.Reader, warn io.Writer) ([]T, error) {
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
	_, rows, err := t.read(bytes.NewReader(data), warn)
	return rows, err
}

// cutPartialLine returns data up to its last newline and what followed it.
func cutPartialLine(data []byte) (whole []byte, rest string) {
	i := bytes.LastIndexByte(data, '\n')
	return data[:i+1], string(data[i+1:])
}

// read reads a header and the records after it. A record whose field count
// differs from the header's is an error unless it is the last (torn, and
// dropped with a warning); a row with a non-finite float is skipped with a
// warning. An empty input has no header and no rows.
func (t table[T]) read(r io.Reader, warn io.Writer) ([]string, []T, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	hdr, err := cr.Read()
	if err == io.EOF {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read csv header: %w", err)
	}
	mapped, err := t.mapHeader(hdr)
	if err != nil {
		return nil, nil, err
	}
	var rows []T
	var torn error
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if torn != nil {
			return nil, nil, torn
		}
		if len(rec) != len(mapped) {
			torn = fmt.Errorf("read csv line %d: %d fields, header has %d", line, len(rec), len(mapped))
			continue
		}
		row, bad, err := t.parseRecord(rec, mapped)
		if err != nil {
			return nil, nil, fmt.Errorf("read csv line %d %w", line, err)
		}
		if bad != "" {
			fmt.Fprintf(warn, "warning: csv line %d: %s is not a finite number; row skipped\n", line, bad)
			continue
		}
		rows = append(rows, row)
	}
	if torn != nil {
		fmt.Fprintf(warn, "warning: dropped a partial last line: %v\n", torn)
	}
	return hdr, rows, nil
}

// mapHeader returns the column of each header field, nil for an unknown
// name. It trims a byte order mark and spaces from the names in hdr.
func (t table[T]) mapHeader(hdr []string) ([]*column, error) {
	byName := make(map[string]column, len(t.cols))
	for _, c := range t.cols {
		byName[c.name] = c
	}
	mapped := make([]*column, len(hdr))
	seen := make(map[string]bool, len(hdr))
	known := 0
	for i, name := range hdr {
		name = strings.TrimSpace(strings.TrimPrefix(name, "\ufeff"))
		hdr[i] = name
		if seen[name] {
			return nil, fmt.Errorf("read csv header: duplicate column %q", name)
		}
		seen[name] = true
		if c, ok := byName[name]; ok {
			mapped[i] = &c
			known++
		}
	}
	if known == 0 {
		return nil, fmt.Errorf("read csv header: no known column; not %s", t.what)
	}
	return mapped, nil
}

// parseRecord fills a T from one record. bad names the first column that
// holds NaN or ±Inf, or is "": such a row is no result.
func (t table[T]) parseRecord(rec []string, mapped []*column) (row T, bad string, err error) {
	v := reflect.ValueOf(&row).Elem()
	for i, s := range rec {
		c := mapped[i]
		if c == nil {
			continue
		}
		if err := setField(v, *c, s); err != nil {
			return row, "", fmt.Errorf("column %s: %w", c.name, err)
		}
		if f := v.Field(c.index); c.kind == reflect.Float64 && bad == "" {
			if c.ptr {
				f = f.Elem() // invalid when nil
			}
			if f.IsValid() && (math.IsNaN(f.Float()) || math.IsInf(f.Float(), 0)) {
				bad = c.name
			}
		}
	}
	return row, bad, nil
}

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

// AppendTable is a CSV file of T rows that a run appends to and a resumed
// run reopens (openTable): summary.csv and endpoints.csv. Every Write is
// flushed, so an interrupted run keeps every finished row. A table from
// NewCSVWriter writes to a stream instead and has no file. It is not safe
// for concurrent use.
type AppendTable[T any] struct {
	path      string
	codec     table[T]
	f         *os.File    // opened by the first Write, or by create
	w         *csv.Writer // nil until then
	headerDue bool        // the header goes before the next row
}

// openTable opens the CSV file at path for appending rows of T and returns
// the rows already in it, in order. A missing file is created, and an
// empty one gets its header, by the first Write.
//
// A torn last line (bytes after the last newline, as a run killed inside
// a write leaves them) is cut off by truncating the file to its last
// newline, with a warning on warn: the rows before it keep their bytes, so
// results already written stay valid even if the run is killed again, and
// the next row starts a line of its own.
//
// A file whose header is not this version's, nor a prefix of it (an older
// schema), is refused and left as it is. The file is rewritten atomically
// (a temporary file renamed over it) with the rows returned, under the
// current header, when it holds anything else: an older header, a last
// record with the wrong number of fields, a row with a non-finite number
// (each reported on warn), or rows for which keep returns false (keep nil
// keeps all).
func openTable[T any](path string, codec table[T], keep func(T) bool, warn io.Writer) (*AppendTable[T], []T, error) {
	if warn == nil {
		warn = io.Discard
	}
	t := &AppendTable[T]{path: path, codec: codec}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return t, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	whole, cut := cutPartialLine(data)
	var dropped warnCounter
	hdr, rows, err := codec.read(bytes.NewReader(whole), io.MultiWriter(warn, &dropped))
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	cur := codec.header()
	if len(hdr) > len(cur) || !slices.Equal(hdr, cur[:len(hdr)]) {
		return nil, nil, fmt.Errorf("open %s: header does not match this version's columns; use a new run directory", path)
	}
	if cut != "" {
		fmt.Fprintf(warn, "warning: %s: cut a partial last line (no newline): %.60q\n", path, cut)
		if err := os.Truncate(path, int64(len(whole))); err != nil {
			return nil, nil, fmt.Errorf("open %s: cut partial line: %w", path, err)
		}
	}
	n := len(rows)
	if keep != nil {
		rows = slices.DeleteFunc(rows, func(r T) bool { return !keep(r) })
	}
	if len(whole) > 0 && (len(hdr) < len(cur) || dropped > 0 || len(rows) != n) {
		if err := rewriteTable(path, codec, rows); err != nil {
			return nil, nil, fmt.Errorf("open %s: rewrite: %w", path, err)
		}
	}
	return t, rows, nil
}

// warnCounter counts the warnings written to it.
type warnCounter int

func (c *warnCounter) Write(p []byte) (int, error) { *c++; return len(p), nil }

// create opens the file for appending, creating it if missing; the header
// is due when it is empty.
func (t *AppendTable[T]) create() error {
	f, err := os.OpenFile(t.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open %s: %w", t.path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("open %s: %w", t.path, err)
	}
	t.f, t.w, t.headerDue = f, csv.NewWriter(f), st.Size() == 0
	return nil
}

// Write appends rows, after the header if it is due, and flushes.
func (t *AppendTable[T]) Write(rows []T) error {
	if t.w == nil {
		if err := t.create(); err != nil {
			return err
		}
	}
	if t.headerDue {
		if err := t.w.Write(t.codec.header()); err != nil {
			return fmt.Errorf("write csv header: %w", err)
		}
		t.headerDue = false
	}
	for _, r := range rows {
		if err := t.w.Write(t.codec.record(r)); err != nil {
			return fmt.Errorf("write csv row: %w", err)
		}
	}
	t.w.Flush()
	if err := t.w.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

// Close flushes and closes the file; a table without one is only flushed.
func (t *AppendTable[T]) Close() error {
	if t.w == nil {
		return nil
	}
	t.w.Flush()
	err := t.w.Error()
	if t.f != nil {
		if cerr := t.f.Close(); err == nil {
			err = cerr
		}
		t.f = nil
	}
	t.w = nil
	return err
}
