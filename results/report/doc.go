package report

import (
	"bytes"
	"fmt"
	"strings"
)

// doc is a report as a sequence of blocks, rendered to report.md and to
// report.html from the same values. Text inside a block is markdown
// inline text: **bold**, `code` and \| are its only markup.
type doc struct {
	blocks []block
}

// block is one part of a doc.
type block interface {
	markdown(b *bytes.Buffer)
	html(b *bytes.Buffer, dir string) error
}

func (d *doc) add(bs ...block) { d.blocks = append(d.blocks, bs...) }

// markdown renders d as report.md.
func (d *doc) markdown() []byte {
	var b bytes.Buffer
	for _, bl := range d.blocks {
		bl.markdown(&b)
	}
	return b.Bytes()
}

// html renders d's blocks as the body of report.html; dir holds the plots.
func (d *doc) html(b *bytes.Buffer, dir string) error {
	for _, bl := range d.blocks {
		if err := bl.html(b, dir); err != nil {
			return err
		}
	}
	return nil
}

// heading is a section title.
type heading struct {
	level int
	text  string
}

func (h heading) markdown(b *bytes.Buffer) {
	fmt.Fprintf(b, "%s %s\n\n", strings.Repeat("#", h.level), h.text)
}

func (h heading) html(b *bytes.Buffer, _ string) error {
	fmt.Fprintf(b, "<h%d>%s</h%d>\n", h.level, inline(h.text), h.level)
	return nil
}

// para is a paragraph.
type para string

func (p para) markdown(b *bytes.Buffer) { fmt.Fprintf(b, "%s\n\n", p) }

func (p para) html(b *bytes.Buffer, _ string) error {
	fmt.Fprintf(b, "<p>%s</p>\n", inline(string(p)))
	return nil
}

// list is a bullet list. An empty list is an empty line in markdown and
// nothing in HTML.
type list []string

func (l list) markdown(b *bytes.Buffer) {
	for _, it := range l {
		fmt.Fprintf(b, "- %s\n", it)
	}
	b.WriteString("\n")
}

func (l list) html(b *bytes.Buffer, _ string) error {
	if len(l) == 0 {
		return nil
	}
	b.WriteString("<ul>\n")
	for _, it := range l {
		fmt.Fprintf(b, "<li>%s</li>\n", inline(it))
	}
	b.WriteString("</ul>\n")
	return nil
}

// table is a table with a header line; right marks the columns aligned
// right. Cells are inline text, escaped with mdEscape where they come
// from data.
type table struct {
	head  []string
	right []bool
	rows  [][]string
}

func (t table) markdown(b *bytes.Buffer) {
	b.WriteString("|")
	for _, c := range t.head {
		if c == "" {
			b.WriteString(" |") // a table without headings: "| | |"
			continue
		}
		fmt.Fprintf(b, " %s |", c)
	}
	b.WriteString("\n|")
	for i := range t.head {
		if i < len(t.right) && t.right[i] {
			b.WriteString("---:|")
		} else {
			b.WriteString("---|")
		}
	}
	b.WriteString("\n")
	for _, r := range t.rows {
		b.WriteString("|")
		for _, c := range r {
			fmt.Fprintf(b, " %s |", c)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

func (t table) html(b *bytes.Buffer, _ string) error {
	class := func(i int) string {
		if i < len(t.right) && t.right[i] {
			return ` class="r"`
		}
		return ""
	}
	b.WriteString("<table>\n<thead><tr>")
	for i, c := range t.head {
		fmt.Fprintf(b, "<th%s>%s</th>", class(i), inline(c))
	}
	b.WriteString("</tr></thead>\n<tbody>\n")
	for _, r := range t.rows {
		b.WriteString("<tr>")
		for i, c := range r {
			fmt.Fprintf(b, "<td%s>%s</td>", class(i), inline(c))
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</tbody>\n</table>\n")
	return nil
}

// figure is a plot under dir/plots: base.png in markdown with a link to
// base.svg, the SVG inlined in HTML.
type figure plotRef

func (f figure) markdown(b *bytes.Buffer) {
	fmt.Fprintf(b, "![%s](plots/%s.png)  \n[SVG](plots/%s.svg)\n\n", f.title, f.base, f.base)
}

func (f figure) html(b *bytes.Buffer, dir string) error {
	return writeFigure(b, dir, f.title, "plots/"+f.base+".svg")
}

// quote is a note set apart.
type quote string

func (q quote) markdown(b *bytes.Buffer) { fmt.Fprintf(b, "> %s\n\n", q) }

func (q quote) html(b *bytes.Buffer, _ string) error {
	fmt.Fprintf(b, "<blockquote><p>%s</p></blockquote>\n", inline(string(q)))
	return nil
}
