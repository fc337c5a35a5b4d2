package report

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/asyncbench/asyncbench/results"
)

// mdOf renders blocks as report.md renders them.
func mdOf(bs []block) string {
	d := doc{blocks: bs}
	return string(d.markdown())
}

// TestDocBlocks renders one of each block type the sections use, to
// markdown and to HTML, byte for byte: inline markup, escaping, a
// right-aligned column, a figure with its SVG inlined, and an empty list
// (an empty line in markdown, nothing in HTML).
func TestDocBlocks(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "plots"), 0o755); err != nil {
		t.Fatal(err)
	}
	svg := `<?xml version="1.0"?>` + "\n" + `<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"></svg>` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "plots", "p1.svg"), []byte(svg), 0o644); err != nil {
		t.Fatal(err)
	}
	d := doc{blocks: []block{
		heading{2, "Tails & **p99**"},
		para("a `code` b <c>"),
		list{"one **bold**", `x\|y`},
		list{},
		table{head: []string{"backend", "req/s"}, right: []bool{false, true}, rows: [][]string{{`a\|b`, "1,000"}}},
		figure{"Plot <1>", "p1"},
		quote("not read: x"),
	}}
	wantMD := "## Tails & **p99**\n\n" +
		"a `code` b <c>\n\n" +
		"- one **bold**\n- x\\|y\n\n" +
		"\n" +
		"| backend | req/s |\n|---|---:|\n| a\\|b | 1,000 |\n\n" +
		"![Plot <1>](plots/p1.png)  \n[SVG](plots/p1.svg)\n\n" +
		"> not read: x\n\n"
	if got := string(d.markdown()); got != wantMD {
		t.Errorf("markdown:\n%q\nwant\n%q", got, wantMD)
	}
	wantHTML := "<h2>Tails &amp; <strong>p99</strong></h2>\n" +
		"<p>a <code>code</code> b &lt;c&gt;</p>\n" +
		"<ul>\n<li>one <strong>bold</strong></li>\n<li>x|y</li>\n</ul>\n" +
		"<table>\n<thead><tr><th>backend</th><th class=\"r\">req/s</th></tr></thead>\n<tbody>\n" +
		"<tr><td>a|b</td><td class=\"r\">1,000</td></tr>\n</tbody>\n</table>\n" +
		"<figure>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1\" height=\"1\"></svg>\n<figcaption>Plot &lt;1&gt;</figcaption>\n</figure>\n" +
		"<blockquote><p>not read: x</p></blockquote>\n"
	var b bytes.Buffer
	if err := d.html(&b, dir); err != nil {
		t.Fatal(err)
	}
	if b.String() != wantHTML {
		t.Errorf("html:\n%q\nwant\n%q", b.String(), wantHTML)
	}
}

// TestReportHTMLNoMarkdown: report.html of fixture runs holds no markdown
// table separator line and no ** left unrendered.
func TestReportHTMLNoMarkdown(t *testing.T) {
	separator := regexp.MustCompile(`(?m)^\|?\s*:?-{3,}:?\s*\|`)
	for name, rows := range map[string]func(dir string) []results.Row{
		"fixture": func(dir string) []results.Row { return fixtureRun(t, dir) },
		"tails":   func(dir string) []results.Row { return tailRun(t, dir) },
		"curves":  func(string) []results.Row { return curveRows() },
		"idle":    func(string) []results.Row { return syntheticIdleRows() },
		"cpus":    func(string) []results.Row { return cpuRows() },
	} {
		dir := t.TempDir()
		if err := Write(dir, rows(dir)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		md, err := os.ReadFile(filepath.Join(dir, "report.md"))
		if err != nil {
			t.Fatal(err)
		}
		page, err := os.ReadFile(filepath.Join(dir, HTMLFile))
		if err != nil {
			t.Fatal(err)
		}
		if !separator.Match(md) || !bytes.Contains(md, []byte("**")) {
			t.Fatalf("%s: report.md has no table or no bold: the check below would prove nothing", name)
		}
		if loc := separator.FindIndex(page); loc != nil {
			t.Errorf("%s: report.html has a table separator line: %q", name, page[loc[0]:min(loc[1]+20, len(page))])
		}
		if i := strings.Index(string(page), "**"); i >= 0 {
			t.Errorf("%s: report.html has ** unrendered: %q", name, page[max(i-40, 0):min(i+40, len(page))])
		}
	}
}
