package results

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// encode returns rows as one continuous write of codec: header and rows.
func encode[T any](t *testing.T, codec table[T], rows []T) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := &AppendTable[T]{codec: codec, w: csv.NewWriter(&buf), headerDue: true}
	if err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// checkTorn writes all but the last row with a torn line after them,
// reopens the file, and checks that the torn line was truncated away (the
// bytes before it untouched), the rows read back, and that appending the
// last row gives the file one continuous write would.
func checkTorn[T any](t *testing.T, codec table[T], rows []T) {
	path := filepath.Join(t.TempDir(), "t.csv")
	whole := encode(t, codec, rows[:len(rows)-1])
	last := encode(t, codec, rows[len(rows)-1:])
	torn := string(last[bytes.IndexByte(last, '\n')+1:])
	torn = torn[:len(torn)/2]
	if err := os.WriteFile(path, append(bytes.Clone(whole), torn...), 0o644); err != nil {
		t.Fatal(err)
	}
	var warn bytes.Buffer
	w, got, err := openTable(path, codec, nil, &warn)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, rows[:len(rows)-1]) || !strings.Contains(warn.String(), "cut a partial last line") {
		t.Fatalf("read %+v, warnings %q", got, warn.String())
	}
	if data := mustRead(t, path); !bytes.Equal(data, whole) {
		t.Fatalf("after open:\n%s\nwant\n%s", data, whole)
	}
	if err := w.Write(rows[len(rows)-1:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if data, want := mustRead(t, path), encode(t, codec, rows); !bytes.Equal(data, want) {
		t.Fatalf("after append:\n%s\nwant\n%s", data, want)
	}
}

func TestAppendTableTornLine(t *testing.T) {
	t.Run("summary", func(t *testing.T) { checkTorn(t, rowTable, sampleRows()) })
	t.Run("endpoints", func(t *testing.T) { checkTorn(t, endpointTable, sampleEndpoints()) })
}

// TestAppendTableOtherHeader: a file with another table's header, or none
// known, is refused and left byte for byte as it was, torn line included.
func TestAppendTableOtherHeader(t *testing.T) {
	for _, content := range []string{
		"run_id,cell,something_else\nr,c,x\nr,c",
		"a,b\n1,2\n",
		strings.Join(EndpointHeader(), ",") + "\nr,c\n",
	} {
		path := filepath.Join(t.TempDir(), "summary.csv")
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, err := openTable(path, rowTable, nil, nil)
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%q: err = %v, want one naming the file", content, err)
		}
		if data := mustRead(t, path); string(data) != content {
			t.Errorf("%q: file changed to %q", content, data)
		}
	}
}

// TestAppendTableEmpty: an empty file, and one holding only a torn line,
// give no rows; the first Write puts the header before its rows.
func TestAppendTableEmpty(t *testing.T) {
	rows := sampleEndpoints()
	for _, content := range []string{"", "run_id,ce"} {
		path := filepath.Join(t.TempDir(), EndpointsFile)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		w, got, err := OpenEndpoints(path, nil, nil)
		if err != nil || len(got) != 0 {
			t.Fatalf("%q: %d rows, %v", content, len(got), err)
		}
		if err := w.Write(rows); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if data, want := mustRead(t, path), encode(t, endpointTable, rows); !bytes.Equal(data, want) {
			t.Errorf("%q: after Write:\n%s\nwant\n%s", content, data, want)
		}
	}
	// OpenCSV creates summary.csv at once, empty; a Close without rows
	// leaves it so.
	path := filepath.Join(t.TempDir(), "summary.csv")
	w, got, err := OpenCSV(path, nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("new summary.csv: %d rows, %v", len(got), err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if data := mustRead(t, path); len(data) != 0 {
		t.Fatalf("summary.csv holds %q", data)
	}
}

// TestAppendTableRewrite: a last record with too few fields followed by a
// newline, and rows keep refuses, are removed by a rewrite that keeps the
// file's mode.
func TestAppendTableRewrite(t *testing.T) {
	rows := sampleEndpoints()
	path := filepath.Join(t.TempDir(), EndpointsFile)
	if err := os.WriteFile(path, append(encode(t, endpointTable, rows), "r1,torn,1\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	keep := func(e EndpointRow) bool { return e.Backend != "stdlib" }
	w, got, err := OpenEndpoints(path, keep, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if !reflect.DeepEqual(got, rows[:2]) {
		t.Fatalf("read %+v", got)
	}
	if data, want := mustRead(t, path), encode(t, endpointTable, rows[:2]); !bytes.Equal(data, want) {
		t.Fatalf("after open:\n%s\nwant\n%s", data, want)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v, %v", fi.Mode(), err)
	}
}
