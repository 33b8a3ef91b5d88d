package agreements

import (
	"bytes"
	"fmt"
	"strings"
	"time"
)

// A small PDF writer, standard library only: A4 pages of Helvetica and
// Helvetica-Bold (two of PDF's standard fonts, so nothing is embedded) in
// WinAnsiEncoding, so Norwegian letters (æ, ø, å) print as they should. Text
// is wrapped by the fonts' real glyph widths and flows onto new pages.

const (
	pageWidth    = 595.28 // A4 in points
	pageHeight   = 841.89
	marginX      = 56.0
	marginTop    = 64.0
	marginBottom = 64.0
)

type pdfFont int

const (
	regular pdfFont = iota
	bold
)

func (f pdfFont) resource() string {
	if f == bold {
		return "/F2"
	}
	return "/F1"
}

// pdfDoc lays out text onto pages; Bytes writes the file.
type pdfDoc struct {
	title  string
	pages  []*bytes.Buffer
	y      float64 // baseline of the next line, from the bottom
	footer func(page, pages int) string
}

func newPDF(title string) *pdfDoc {
	d := &pdfDoc{title: title}
	d.newPage()
	return d
}

func (d *pdfDoc) newPage() {
	d.pages = append(d.pages, &bytes.Buffer{})
	d.y = pageHeight - marginTop
}

func (d *pdfDoc) page() *bytes.Buffer { return d.pages[len(d.pages)-1] }

// space moves down by h points (a gap between blocks); never across a page.
func (d *pdfDoc) space(h float64) {
	d.y -= h
	if d.y < marginBottom {
		d.newPage()
	}
}

// ensure starts a new page unless h points are left on this one (keeps a
// heading with the line after it).
func (d *pdfDoc) ensure(h float64) {
	if d.y-h < marginBottom {
		d.newPage()
	}
}

// text writes s wrapped to the text width. indent moves every line right;
// hang moves the lines after the first further right (for list items).
func (d *pdfDoc) text(f pdfFont, size float64, s string, indent, hang float64) {
	leading := size * 1.4
	first := true
	for _, para := range strings.Split(s, "\n") {
		x := indent
		width := pageWidth - 2*marginX - indent
		for _, line := range wrap(f, size, para, width, width-hang) {
			if d.y < marginBottom {
				d.newPage()
			}
			lx := x
			if !first {
				lx = x + hang
			}
			if first {
				first = false
			}
			fmt.Fprintf(d.page(), "BT %s %s Tf %s %s Td (%s) Tj ET\n", f.resource(), num(size), num(marginX+lx), num(d.y), escapePDF(line))
			d.y -= leading
		}
	}
}

// row writes a bold label and, in a column after it, its value.
func (d *pdfDoc) row(label, value string) {
	d.ensure(14)
	y := d.y
	d.text(bold, 10, label, 0, 0)
	d.y = y
	d.text(regular, 10, value, 130, 0)
}

// rule draws a thin horizontal line across the text width.
func (d *pdfDoc) rule() {
	d.ensure(12)
	y := d.y + 4
	fmt.Fprintf(d.page(), "0.6 G 0.5 w %s %s m %s %s l S 0 G\n", num(marginX), num(y), num(pageWidth-marginX), num(y))
	d.y -= 10
}

// Bytes writes the PDF file: catalog, page tree, the two fonts, one page
// object and one content stream per page, the info dictionary, the cross-
// reference table and the trailer.
func (d *pdfDoc) Bytes(created time.Time) []byte {
	var out bytes.Buffer
	n := len(d.pages)
	// Object numbers: 1 catalog, 2 pages, 3 and 4 fonts, 5 info, then a page
	// and its content for each page.
	total := 5 + 2*n
	offsets := make([]int, total+1)
	obj := func(id int, body string) {
		offsets[id] = out.Len()
		fmt.Fprintf(&out, "%d 0 obj\n%s\nendobj\n", id, body)
	}
	out.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	obj(1, "<< /Type /Catalog /Pages 2 0 R >>")
	kids := make([]string, n)
	for i := range d.pages {
		kids[i] = fmt.Sprintf("%d 0 R", 6+2*i)
	}
	obj(2, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), n))
	obj(3, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	obj(4, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>")
	obj(5, fmt.Sprintf("<< /Title (%s) /Producer (kportal) /CreationDate (D:%s) >>",
		escapePDF(d.title), created.UTC().Format("20060102150405Z")))
	for i, content := range d.pages {
		stream := content.Bytes()
		if d.footer != nil {
			var f bytes.Buffer
			fmt.Fprintf(&f, "BT /F1 8 Tf %s %s Td (%s) Tj ET\n", num(marginX), num(marginBottom/2), escapePDF(d.footer(i+1, n)))
			stream = append(append([]byte(nil), stream...), f.Bytes()...)
		}
		obj(6+2*i, fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %s %s] /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents %d 0 R >>",
			num(pageWidth), num(pageHeight), 7+2*i))
		offsets[7+2*i] = out.Len()
		fmt.Fprintf(&out, "%d 0 obj\n<< /Length %d >>\nstream\n", 7+2*i, len(stream))
		out.Write(stream)
		out.WriteString("\nendstream\nendobj\n")
	}
	xref := out.Len()
	fmt.Fprintf(&out, "xref\n0 %d\n0000000000 65535 f \n", total+1)
	for id := 1; id <= total; id++ {
		fmt.Fprintf(&out, "%010d 00000 n \n", offsets[id])
	}
	fmt.Fprintf(&out, "trailer\n<< /Size %d /Root 1 0 R /Info 5 0 R >>\nstartxref\n%d\n%%%%EOF\n", total+1, xref)
	return out.Bytes()
}

func num(f float64) string {
	s := fmt.Sprintf("%.2f", f)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "" || s == "-" {
		return "0"
	}
	return s
}

// wrap breaks s into lines no wider than first (the first line) and rest
// (the others), at spaces; a word wider than a line is broken inside.
func wrap(f pdfFont, size float64, s string, first, rest float64) []string {
	words := strings.Fields(s)
	if len(words) == 0 {
		return []string{""}
	}
	var lines []string
	max := first
	cur := ""
	for _, w := range words {
		try := w
		if cur != "" {
			try = cur + " " + w
		}
		if textWidth(f, size, try) <= max {
			cur = try
			continue
		}
		if cur != "" {
			lines = append(lines, cur)
			max = rest
		}
		// A word too long for a whole line is cut where it must be.
		for textWidth(f, size, w) > max {
			r := []rune(w)
			cut := len(r) - 1
			for cut > 1 && textWidth(f, size, string(r[:cut])) > max {
				cut--
			}
			lines = append(lines, string(r[:cut]))
			max = rest
			w = string(r[cut:])
		}
		cur = w
	}
	return append(lines, cur)
}

// textWidth is the width of s in points.
func textWidth(f pdfFont, size float64, s string) float64 {
	w := 0
	for _, b := range winAnsi(s) {
		w += glyphWidth(f, b)
	}
	return float64(w) * size / 1000
}

// escapePDF encodes s as the inside of a PDF literal string in WinAnsi:
// backslash and parentheses escaped, bytes outside ASCII as octal escapes.
func escapePDF(s string) string {
	var b strings.Builder
	for _, c := range winAnsi(s) {
		switch {
		case c == '\\' || c == '(' || c == ')':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c > 0x7e:
			fmt.Fprintf(&b, "\\%03o", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// winAnsiExtra are the characters WinAnsiEncoding puts in 0x80–0x9F.
var winAnsiExtra = map[rune]byte{
	'€': 0x80, '‚': 0x82, 'ƒ': 0x83, '„': 0x84, '…': 0x85, '†': 0x86, '‡': 0x87, 'ˆ': 0x88,
	'‰': 0x89, 'Š': 0x8a, '‹': 0x8b, 'Œ': 0x8c, 'Ž': 0x8e, '‘': 0x91, '’': 0x92, '“': 0x93,
	'”': 0x94, '•': 0x95, '–': 0x96, '—': 0x97, '˜': 0x98, '™': 0x99, 'š': 0x9a, '›': 0x9b,
	'œ': 0x9c, 'ž': 0x9e, 'Ÿ': 0x9f,
}

// winAnsi encodes s in WinAnsiEncoding (Windows-1252); characters it lacks
// become '?', and control characters a space.
func winAnsi(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			out = append(out, ' ')
		case r >= 0x20 && r <= 0x7e, r >= 0xa0 && r <= 0xff:
			out = append(out, byte(r))
		case r == '\u202f' || r == '\u2009':
			out = append(out, ' ')
		default:
			if b, ok := winAnsiExtra[r]; ok {
				out = append(out, b)
			} else {
				out = append(out, '?')
			}
		}
	}
	return out
}

// glyphWidth is a WinAnsi character's width in Helvetica or Helvetica-Bold,
// in thousandths of the font size (Adobe's font metrics).
func glyphWidth(f pdfFont, c byte) int {
	if f == bold {
		if c >= 0x20 && c <= 0x7e {
			return helveticaBoldASCII[c-0x20]
		}
		if w, ok := helveticaBoldLatin[c]; ok {
			return w
		}
		return int(helveticaHigh[c-0x80]) * 11 / 10 // near enough for the rest
	}
	if c >= 0x20 && c <= 0x7e {
		return helveticaASCII[c-0x20]
	}
	if c >= 0x80 {
		return int(helveticaHigh[c-0x80])
	}
	return 278
}

var helveticaASCII = [95]int{
	278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // space to /
	556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0 to ?
	1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // @ to O
	667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // P to _
	333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // ` to o
	556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // p to ~
}

var helveticaHigh = [128]int{
	556, 350, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000, 350, 611, 350, // 0x80
	350, 222, 222, 333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 350, 500, 667, // 0x90
	278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333, // 0xA0
	400, 584, 333, 333, 333, 556, 537, 278, 333, 333, 365, 556, 834, 834, 834, 611, // 0xB0
	667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278, // 0xC0
	722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611, // 0xD0
	556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278, // 0xE0
	556, 556, 556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500, // 0xF0
}

var helveticaBoldASCII = [95]int{
	278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,
	556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,
	975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
	667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,
	333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
	611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
}

var helveticaBoldLatin = map[byte]int{
	0xc5: 722, 0xc6: 1000, 0xd8: 778, 0xe5: 556, 0xe6: 889, 0xf8: 611, 0xe9: 556, 0xc9: 667,
	0x96: 556, 0x97: 1000, 0xab: 556, 0xbb: 556, 0xa0: 278, 0xb7: 278, 0x95: 350,
}
