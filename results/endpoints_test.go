package results

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func sampleEndpoints() []EndpointRow {
	return []EndpointRow{
		{RunID: "r1", Cell: "gnet/http/mix-x/c64/p1/r0/b0", Rep: 1, Backend: "gnet", Workload: "mix", Conns: 64,
			Path: "/plaintext", Weight: 99, Requests: 9900, Errors: 1, P50Us: 100, P90Us: 200, P99Us: 900, P999Us: 2000, MaxUs: 5000, MeanUs: 120.5},
		{RunID: "r1", Cell: "gnet/http/mix-x/c64/p1/r0/b0", Rep: 1, Backend: "gnet", Workload: "mix", Conns: 64,
			Path: "/cpu?us=1000", Weight: 1, Requests: 100, P50Us: 1100, P90Us: 1300, P99Us: 1900, P999Us: 2500, MaxUs: 2600, MeanUs: 1150},
		{RunID: "r1", Cell: "stdlib/http/mix-x/c64/p1/r0/b0", Rep: 2, Backend: "stdlib", Workload: "mix", Conns: 64,
			Path: "/plaintext", Weight: 99},
	}
}

func TestEndpointsHeader(t *testing.T) {
	want := "run_id,cell,rep,backend,workload,conns,path,weight,requests,errors,p50_us,p90_us,p99_us,p999_us,max_us,mean_us,attempt"
	if got := strings.Join(EndpointHeader(), ","); got != want {
		t.Fatalf("header %s\nwant   %s", got, want)
	}
}

// TestEndpointsAppendResumeTorn writes rows, tears the last line, reopens
// for a resume that retries one cell, and checks what is left: the torn
// line and the retried cell's rows gone, the rest read back exactly.
func TestEndpointsAppendResumeTorn(t *testing.T) {
	path := filepath.Join(t.TempDir(), EndpointsFile)
	rows := sampleEndpoints()
	w, old, err := OpenEndpoints(path, nil, nil)
	if err != nil || len(old) != 0 {
		t.Fatalf("new file: %v, %d rows", err, len(old))
	}
	if err := w.Write(rows[:2]); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rows[2:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if err := os.WriteFile(path, append(data, "r1,torn,1,gnet"...), 0o644); err != nil {
		t.Fatal(err)
	}
	var warn bytes.Buffer
	keepGnet := func(e EndpointRow) bool { return e.Backend == "gnet" }
	w, old, err = OpenEndpoints(path, keepGnet, &warn)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(old, rows[:2]) || !strings.Contains(warn.String(), "partial last line") {
		t.Fatalf("resume read %+v, warnings %q", old, warn.String())
	}
	retry := rows[2]
	retry.Requests = 7
	if err := w.Write([]EndpointRow{retry}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	f, _ := os.Open(path)
	defer f.Close()
	got, err := ReadEndpoints(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := append(rows[:2:2], retry); !reflect.DeepEqual(got, want) {
		t.Fatalf("after resume:\n%+v\nwant\n%+v", got, want)
	}
	if n := bytes.Count(mustRead(t, path), []byte("run_id,")); n != 1 {
		t.Fatalf("%d header lines", n)
	}
}

func TestReadEndpointsDropsNonFinite(t *testing.T) {
	in := "cell,rep,path,mean_us\nc,1,/a,NaN\nc,1,/b,2.5\n"
	var warn bytes.Buffer
	rows, err := ReadEndpoints(strings.NewReader(in), &warn)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Path != "/b" || !strings.Contains(warn.String(), "mean_us is not a finite number") {
		t.Fatalf("rows %+v, warnings %q", rows, warn.String())
	}
	if rows, err := ReadEndpointsFile(t.TempDir(), nil); err != nil || rows != nil {
		t.Fatalf("missing file: %v %v", rows, err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEndpointsNoFileWithoutRows: a run without mixes leaves no
// endpoints.csv behind.
func TestEndpointsNoFileWithoutRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), EndpointsFile)
	w, _, err := OpenEndpoints(path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("endpoints.csv exists: %v", err)
	}
}
