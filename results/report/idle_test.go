package report

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/asyncbench/asyncbench/results"
)

// idleRow is an ok idle row of backend at conns with the given bytes per
// connection; the kernel parts are absolute KiB columns with a constant
// part (what the server held before dialling) that the slope ignores.
func idleRow(backend string, conns int, user, kernel int64, pteKiB, stackKiB int64, socketKiB float64) results.Row {
	return results.Row{
		RunID: "run1", Commit: "abc", Cell: backend + "/http/idle", Backend: backend, Proto: "http", Workload: "idle",
		Conns: conns, Pipeline: 1, Rep: 1, Status: results.StatusOK, StartTime: "2026-11-28T05:00:00Z",
		RSSPerConnBytes: new(user), KernelPerConnBytes: new(kernel), TotalPerConnBytes: new(user + kernel),
		VmPTEKiB: new(pteKiB), KernelStackKiB: new(stackKiB), SocketKiB: new(socketKiB),
	}
}

// syntheticIdleRows: threads costs 10,240 B of user memory and 20,480 B
// of kernel memory per connection (1 KiB page tables, one 16 KiB stack, 3
// KiB socket share); stdlib 8,192 + 2,048; gnet's total bends (3,000,
// 2,750, 2,700 B per connection at 1,000, 2,000, 3,000), a slope of 2,550.
// A failed row and a plaintext row must not count.
func syntheticIdleRows() []results.Row {
	var rows []results.Row
	for _, n := range []int64{1000, 2000, 3000} {
		rows = append(rows,
			idleRow("threads", int(n), 10240, 20480, 200+n, (5+n)*16, 3*float64(n)),
			idleRow("stdlib", int(n), 8192, 2048, 100, 5*16, 2*float64(n)),
		)
	}
	for i, total := range []int64{3000, 2750, 2700} {
		n := int64(1000 * (i + 1))
		rows = append(rows, idleRow("gnet", int(n), total-500, 500, 80, 3*16, 0.25*float64(n)))
	}
	bad := idleRow("threads", 4000, 1, 1, 1, 1, 1)
	bad.Status, bad.Reason = results.StatusFailed, "server exited during the run"
	other := idleRow("threads", 4000, 1, 1, 1, 1, 1)
	other.Workload = "plaintext"
	return append(rows, bad, other)
}

func TestFitIdle(t *testing.T) {
	fits := FitIdle(syntheticIdleRows())
	if len(fits) != 3 || fits[0].Backend != "gnet" || fits[1].Backend != "stdlib" || fits[2].Backend != "threads" {
		t.Fatalf("fits %+v", fits)
	}
	th := fits[2]
	if th.Points != 3 || th.Excluded != 1 || th.MinConns != 1000 || th.MaxConns != 3000 {
		t.Errorf("threads points %+v", th)
	}
	if th.User != 10240 || th.Kernel != 20480 || th.Total != 30720 || th.PageTables != 1024 || th.Stacks != 16384 || th.Sockets != 3072 {
		t.Errorf("threads slopes %+v", th)
	}
	if th.TotalIntercept != 0 || th.TotalR2 != 1 {
		t.Errorf("threads fit: intercept %v R² %v", th.TotalIntercept, th.TotalR2)
	}
	sl := fits[1]
	if sl.User != 8192 || sl.Kernel != 2048 || sl.Total != 10240 || sl.PageTables != 0 || sl.Stacks != 0 || sl.Sockets != 2048 {
		t.Errorf("stdlib slopes %+v", sl)
	}
	g := fits[0]
	if g.Total != 2550 || g.Kernel != 500 || g.User != 2050 || g.Sockets != 256 {
		t.Errorf("gnet slopes %+v", g)
	}
	if g.User+g.Kernel != g.Total {
		t.Errorf("user + kernel = %v, total %v", g.User+g.Kernel, g.Total)
	}

	one := FitIdle([]results.Row{idleRow("gnet", 1000, 1, 1, 1, 1, 1)})
	if len(one) != 1 || !math.IsNaN(one[0].Total) || one[0].Points != 1 {
		t.Errorf("a single count gives no slope: %+v", one)
	}
}

func TestIdleHeadline(t *testing.T) {
	got := idleHeadline(FitIdle(syntheticIdleRows()))
	want := "An idle connection costs the server, user and kernel memory together (slope over 1,000–3,000 connections): " +
		"threads 30.0 KiB, net/http 10.0 KiB, gnet 2.5 KiB. threads : net/http : gnet = 12 : 4.0 : 1."
	if got != want {
		t.Errorf("headline\n got %s\nwant %s", got, want)
	}
	var noGnet []results.Row
	for _, r := range syntheticIdleRows() {
		if r.Backend != "gnet" {
			noGnet = append(noGnet, r)
		}
	}
	if got := idleHeadline(FitIdle(noGnet)); !strings.HasSuffix(got, "Not measured at two or more connection counts: gnet.") {
		t.Errorf("without gnet: %s", got)
	}
}

// TestWriteIdleSection: a run with idle rows gets the section with its
// table and both plots; idle rows stay out of the per-workload sections
// and the verdicts.
func TestWriteIdleSection(t *testing.T) {
	dir := t.TempDir()
	rows := syntheticIdleRows()
	if err := Write(dir, rows); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(md)
	for _, want := range []string{
		"## Memory per idle connection\n",
		"threads : net/http : gnet = 12 : 4.0 : 1.",
		"| threads | 3 (1 left out) | 1,000–3,000 | 10,240 | 20,480 | 30,720 | 1,024 | 16,384 | 3,072 | 1.000 | 0.0 |",
		"(plots/idle-http-idle-b0-components.png)",
		"(plots/idle-http-idle-b0-total.png)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	if strings.Contains(text, "## http idle") {
		t.Error("idle rows got a per-workload section")
	}
	for _, f := range []string{"idle-http-idle-b0-components", "idle-http-idle-b0-total"} {
		for _, ext := range []string{".png", ".svg"} {
			if st, err := os.Stat(filepath.Join(dir, "plots", f+ext)); err != nil || st.Size() == 0 {
				t.Errorf("plot %s%s: %v", f, ext, err)
			}
		}
	}
	v, err := os.ReadFile(filepath.Join(dir, "verdicts.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(v), "idle") {
		t.Errorf("verdicts.csv holds idle rows:\n%s", v)
	}
	html, err := os.ReadFile(filepath.Join(dir, HTMLFile))
	if err != nil || !strings.Contains(string(html), "Memory per idle connection") {
		t.Errorf("report.html: %v", err)
	}

	// A run without idle rows has no such section.
	dir2 := t.TempDir()
	var plain []results.Row
	for _, r := range rows {
		if r.Workload == "plaintext" {
			plain = append(plain, r)
		}
	}
	if err := Write(dir2, plain); err != nil {
		t.Fatal(err)
	}
	md2, _ := os.ReadFile(filepath.Join(dir2, "report.md"))
	if strings.Contains(string(md2), "Memory per idle connection") {
		t.Error("section written without idle rows")
	}
}
