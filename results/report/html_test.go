package report

import (
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/asyncbench/asyncbench/results"
)

// TestReportHTML: report.html is well-formed (parsed as XML, which also
// proves it well-formed HTML), holds every heading and plot of report.md,
// with every plot inlined as SVG, and loads nothing: no src or href
// outside the page, no <link>, no <script>.
func TestReportHTML(t *testing.T) {
	dir := t.TempDir()
	rows, eps := schedFixture()
	w, _, err := results.OpenEndpoints(filepath.Join(dir, results.EndpointsFile), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(eps); err != nil {
		t.Fatal(err)
	}
	w.Close()
	rows = append(rows, results.Row{RunID: "sched1", Cell: "a|b", Backend: "x|y", Proto: "http", Workload: "plaintext", Conns: 1, Pipeline: 1,
		Status: results.StatusFailed, Reason: `<script src="http://evil">&`})
	if err := Write(dir, rows); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(strings.NewReader(string(page)))
	counts := map[string]int{}
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("report.html is not well-formed: %v", err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			counts[tk.Name.Local]++
			for _, a := range tk.Attr {
				if (a.Name.Local == "src" || a.Name.Local == "href") && !strings.HasPrefix(a.Value, "#") {
					t.Errorf("<%s %s=%q> loads a resource", tk.Name.Local, a.Name.Local, a.Value)
				}
			}
		case xml.CharData:
			text.Write(tk)
		}
	}
	if counts["link"] > 0 || counts["script"] > 0 || counts["img"] > 0 || counts["iframe"] > 0 {
		t.Errorf("external-loading elements: %v", counts)
	}
	plots := len(regexp.MustCompile(`(?m)^!\[`).FindAll(md, -1))
	if plots == 0 || counts["svg"] != plots || counts["figure"] != plots {
		t.Errorf("%d plots in report.md, %d <svg> and %d <figure> in report.html", plots, counts["svg"], counts["figure"])
	}
	for _, h := range regexp.MustCompile(`(?m)^#+ (.*)$`).FindAllSubmatch(md, -1) {
		if !strings.Contains(text.String(), string(h[1])) {
			t.Errorf("heading %q missing from report.html", h[1])
		}
	}
	for _, s := range []string{"Threads, goroutines or an event loop", `<script src="http://evil">&`, "x|y", "27,270 req/s, p99 40 ms"} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("text %q missing from report.html", s)
		}
	}
	if counts["table"] < 3 || counts["li"] == 0 || counts["strong"] == 0 {
		t.Errorf("structure lost: %v", counts)
	}
}
