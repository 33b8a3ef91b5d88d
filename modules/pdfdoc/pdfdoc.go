// Package pdfdoc is kportal's one way to write PDF files (the agreement
// receipts, the LIS's dossier): A4 pages laid out with go-pdf/fpdf in DejaVu
// Sans, embedded (subset) as a UTF-8 font, so æøå and the Sámi letters
// (á, č, đ, ŋ, š, ŧ, ž) print as typed. fonts/LICENSE is DejaVu's licence,
// which allows redistribution.
package pdfdoc

import (
	"bytes"
	_ "embed"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"
)

//go:embed fonts/DejaVuSans.ttf
var regularTTF []byte

//go:embed fonts/DejaVuSans-Bold.ttf
var boldTTF []byte

// Family is the embedded font's name, for layouts written on fpdf directly.
const Family = family

const (
	family = "DejaVu"
	// Margins in points.
	MarginX      = 56.0
	marginTop    = 64.0
	marginBottom = 64.0
	pagesAlias   = "{nb}"
)

// Doc lays text out onto pages; Bytes writes the file.
type Doc struct {
	f *fpdf.Fpdf
	// Width is the text width in points.
	Width float64
}

// New starts a document. footer, if not nil, is printed at the foot of every
// page with its number and the number of pages.
func New(title string, created time.Time, footer func(page, pages string) string) *Doc {
	f := Fpdf(fpdf.OrientationPortrait, "pt", title, created)
	f.SetMargins(MarginX, marginTop, MarginX)
	f.SetAutoPageBreak(true, marginBottom)
	f.AliasNbPages(pagesAlias)
	if footer != nil {
		f.SetFooterFunc(func() {
			f.SetY(-marginBottom / 1.6)
			f.SetFont(family, "", 8)
			f.CellFormat(0, 10, footer(itoa(f.PageNo()), pagesAlias), "", 0, "L", false, 0, "")
		})
	}
	f.AddPage()
	w, _ := f.GetPageSize()
	return &Doc{f: f, Width: w - 2*MarginX}
}

// Fpdf is a bare A4 fpdf document (orientation "P" or "L", unit "pt" or
// "mm") with the fonts embedded as Family and kportal's metadata, for a
// layout Doc does not fit (the fremdriftsrapport's wide table).
func Fpdf(orientation, unit, title string, created time.Time) *fpdf.Fpdf {
	f := fpdf.New(orientation, unit, "A4", "")
	f.AddUTF8FontFromBytes(family, "", regularTTF)
	f.AddUTF8FontFromBytes(family, "B", boldTTF)
	f.SetTitle(title, true)
	f.SetCreator("kportal", true)
	f.SetProducer("kportal", true)
	f.SetCreationDate(created)
	f.SetModificationDate(created)
	return f
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return string(b[i:])
}

// Text writes s in the regular font, wrapped to the text width.
func (d *Doc) Text(size float64, s string) { d.write("", size, s, 0) }

// Bold writes s in the bold font, wrapped to the text width.
func (d *Doc) Bold(size float64, s string) { d.write("B", size, s, 0) }

// Heading writes a bold heading, starting a new page unless the heading and
// a few lines after it fit on this one.
func (d *Doc) Heading(size float64, s string) {
	d.Ensure(size * 4)
	d.Space(size * 0.4)
	d.write("B", size, s, 0)
	d.Space(2)
}

// Bullet writes a list item: a bullet, then s indented.
func (d *Doc) Bullet(size float64, s string) {
	d.f.SetFont(family, "", size)
	x := d.f.GetX()
	d.f.CellFormat(12, size*1.4, "•", "", 0, "L", false, 0, "")
	d.f.SetX(x + 12)
	d.f.MultiCell(d.Width-12, size*1.4, clean(s), "", "L", false)
}

// Row writes a bold label and, in a column after it, its value.
func (d *Doc) Row(label, value string) {
	const col = 130.0
	d.Ensure(14)
	d.f.SetFont(family, "B", 10)
	y := d.f.GetY()
	d.f.MultiCell(col-6, 14, clean(label), "", "L", false)
	after := d.f.GetY()
	d.f.SetXY(MarginX+col, y)
	d.f.SetFont(family, "", 10)
	d.f.MultiCell(d.Width-col, 14, clean(value), "", "L", false)
	if d.f.GetY() < after && d.f.PageNo() > 0 {
		d.f.SetY(after)
	}
}

// Table writes rows under a bold header; widths are fractions of the text
// width. A row's cells are cut to one line.
func (d *Doc) Table(widths []float64, header []string, rows [][]string) {
	line := func(style string, cells []string) {
		d.f.SetFont(family, style, 9)
		for i, c := range cells {
			w := widths[i] * d.Width
			c = clean(c)
			for c != "" && d.f.GetStringWidth(c) > w-4 {
				r := []rune(c)
				c = string(r[:len(r)-2]) + "…"
			}
			align := "L"
			if i > 0 && isNumber(c) {
				align = "R"
			}
			d.f.CellFormat(w, 13, c, "", 0, align, false, 0, "")
		}
		d.f.Ln(13)
	}
	d.Ensure(13 * 3)
	line("B", header)
	for _, r := range rows {
		line("", r)
	}
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Space moves down by h points.
func (d *Doc) Space(h float64) { d.f.Ln(h) }

// Ensure starts a new page unless h points are left on this one.
func (d *Doc) Ensure(h float64) {
	_, ph := d.f.GetPageSize()
	if d.f.GetY()+h > ph-marginBottom {
		d.f.AddPage()
	}
}

// Rule draws a thin line across the text width.
func (d *Doc) Rule() {
	d.Ensure(12)
	y := d.f.GetY() + 4
	d.f.SetDrawColor(150, 150, 150)
	d.f.SetLineWidth(0.5)
	d.f.Line(MarginX, y, MarginX+d.Width, y)
	d.f.SetDrawColor(0, 0, 0)
	d.f.Ln(10)
}

// StringWidth is the width of s in points in the regular font at size.
func (d *Doc) StringWidth(size float64, s string) float64 {
	d.f.SetFont(family, "", size)
	return d.f.GetStringWidth(s)
}

func (d *Doc) write(style string, size float64, s string, indent float64) {
	d.f.SetFont(family, style, size)
	d.f.SetX(MarginX + indent)
	d.f.MultiCell(d.Width-indent, size*1.4, clean(s), "", "L", false)
}

// clean turns tabs and carriage returns into spaces (MultiCell breaks at
// newlines itself).
func clean(s string) string {
	return strings.NewReplacer("\t", " ", "\r", "", "\u202f", " ", "\u2009", " ").Replace(s)
}

// Bytes writes the file.
func (d *Doc) Bytes() ([]byte, error) {
	var b bytes.Buffer
	if err := d.f.Output(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
