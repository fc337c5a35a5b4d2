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
	imageLine = regexp.MustCompile(`^!\[([^\]]*)\]\((plots/[^)\s]+)\.png\)\s*$`)
	svgLink   = regexp.MustCompile(`^\[SVG\]\(plots/[^)\s]+\.svg\)\s*$`)
	boldRe    = regexp.MustCompile(`\*\*([^*]+)\*\*`)
	codeRe    = regexp.MustCompile("`([^`]+)`")
)

// mdToHTML renders the markdown subset of mdText blocks: headings,
// paragraphs, bullet lists, block quotes, pipe tables, plot images with
// their SVG link, and **bold** and `code` inside text.
func mdToHTML(b *bytes.Buffer, dir string, md []byte) error {
	lines := strings.Split(string(md), "\n")
	var para []string
	flush := func() {
		if len(para) > 0 {
			fmt.Fprintf(b, "<p>%s</p>\n", inline(strings.Join(para, " ")))
			para = nil
		}
	}
	for i := 0; i < len(lines); i++ {
		line := strings.TrimRight(lines[i], " ")
		switch {
		case line == "":
			flush()
		case strings.HasPrefix(line, "#"):
			flush()
			level := len(line) - len(strings.TrimLeft(line, "#"))
			level = min(level, 6)
			fmt.Fprintf(b, "<h%d>%s</h%d>\n", level, inline(strings.TrimSpace(line[level:])), level)
		case strings.HasPrefix(line, "|"):
			flush()
			j := i
			for j < len(lines) && strings.HasPrefix(lines[j], "|") {
				j++
			}
			writeTable(b, lines[i:j])
			i = j - 1
		case strings.HasPrefix(line, "- "):
			flush()
			b.WriteString("<ul>\n")
			for ; i < len(lines) && strings.HasPrefix(lines[i], "- "); i++ {
				fmt.Fprintf(b, "<li>%s</li>\n", inline(strings.TrimSpace(lines[i][2:])))
			}
			b.WriteString("</ul>\n")
			i--
		case strings.HasPrefix(line, "> "):
			flush()
			fmt.Fprintf(b, "<blockquote><p>%s</p></blockquote>\n", inline(line[2:]))
		case imageLine.MatchString(line):
			flush()
			m := imageLine.FindStringSubmatch(line)
			if err := writeFigure(b, dir, m[1], m[2]+".svg"); err != nil {
				return err
			}
		case svgLink.MatchString(line):
			// The SVG is inlined with its image.
		default:
			para = append(para, line)
		}
	}
	flush()
	return nil
}

// inline escapes text and renders **bold**, `code` and \| in it.
func inline(s string) string {
	s = html.EscapeString(strings.ReplaceAll(s, `\|`, "|"))
	s = codeRe.ReplaceAllString(s, "<code>$1</code>")
	return boldRe.ReplaceAllString(s, "<strong>$1</strong>")
}

// splitRow splits a pipe table line into its cells; \| stays in a cell.
func splitRow(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimPrefix(line, "|")
	line = strings.TrimSuffix(line, "|")
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			cur.WriteString(`\|`)
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(line[i])
		}
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

// writeTable renders a pipe table: header, alignment line, body.
func writeTable(b *bytes.Buffer, lines []string) {
	if len(lines) < 2 {
		for _, l := range lines {
			fmt.Fprintf(b, "<p>%s</p>\n", inline(l))
		}
		return
	}
	head, align := splitRow(lines[0]), splitRow(lines[1])
	class := func(i int) string {
		if i < len(align) && strings.HasSuffix(align[i], ":") {
			return ` class="r"`
		}
		return ""
	}
	b.WriteString("<table>\n<thead><tr>")
	for i, c := range head {
		fmt.Fprintf(b, "<th%s>%s</th>", class(i), inline(c))
	}
	b.WriteString("</tr></thead>\n<tbody>\n")
	for _, l := range lines[2:] {
		b.WriteString("<tr>")
		for i, c := range splitRow(l) {
			fmt.Fprintf(b, "<td%s>%s</td>", class(i), inline(c))
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</tbody>\n</table>\n")
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
