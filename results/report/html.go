package report

import (
	"bytes"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// HTMLFile is the self-contained rendering of report.md in a run directory.
const HTMLFile = "report.html"

// htmlStyle is the page's only styling, inline like everything else.
const htmlStyle = `body{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em;line-height:1.45;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:90%}th,td{border:1px solid #ccc;padding:.25em .5em}
td.r,th.r{text-align:right}th{background:#f4f4f4}code{background:#f4f4f4;padding:0 .2em}
blockquote{border-left:4px solid #ddd;margin:1em 0;padding:0 1em;color:#555}
figure{margin:1.5em 0}figure svg{max-width:100%;height:auto}figcaption{font-size:90%;color:#555}`

// writeHTML renders d, the blocks of dir/report.md, as dir/report.html:
// one XHTML file with every plot's SVG inlined and nothing loaded from
// elsewhere, so it can be mailed or attached as it is.
func writeHTML(dir string, d *doc) error {
	var b bytes.Buffer
	b.WriteString("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\" />\n<title>asyncbench report</title>\n<style>\n")
	b.WriteString(htmlStyle)
	b.WriteString("\n</style>\n</head>\n<body>\n")
	if err := d.html(&b, dir); err != nil {
		return err
	}
	b.WriteString("</body>\n</html>\n")
	return os.WriteFile(filepath.Join(dir, HTMLFile), b.Bytes(), 0o644)
}

var (
	boldRe = regexp.MustCompile(`\*\*([^*]+)\*\*`)
	codeRe = regexp.MustCompile("`([^`]+)`")
)

// inline escapes text and renders **bold**, `code` and \| in it.
func inline(s string) string {
	s = html.EscapeString(strings.ReplaceAll(s, `\|`, "|"))
	s = codeRe.ReplaceAllString(s, "<code>$1</code>")
	return boldRe.ReplaceAllString(s, "<strong>$1</strong>")
}

// writeFigure inlines the SVG at dir/svgPath with alt as its caption.
func writeFigure(b *bytes.Buffer, dir, alt, svgPath string) error {
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(svgPath)))
	if err != nil {
		fmt.Fprintf(b, "<p>(plot %s missing)</p>\n", html.EscapeString(svgPath))
		return nil
	}
	i := bytes.Index(data, []byte("<svg"))
	if i < 0 {
		return fmt.Errorf("%s: no <svg> element", svgPath)
	}
	b.WriteString("<figure>\n")
	b.Write(bytes.TrimSpace(data[i:]))
	fmt.Fprintf(b, "\n<figcaption>%s</figcaption>\n</figure>\n", inline(alt))
	return nil
}
