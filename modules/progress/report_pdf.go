package progress

// The fremdriftsrapport as PDF: a wide table written on fpdf directly, with
// the fonts and metadata of kportal's PDF package (modules/pdfdoc).

import (
	"fmt"
	"io"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"

	"kportal/modules/pdfdoc"
	"kportal/modules/web"
)

// newPDF is an A4 document in the given orientation ("P" or "L") with DejaVu
// Sans as pdfdoc.Family (regular and bold), the title in its metadata and a
// footer with page numbers.
func newPDF(orientation, title string, now time.Time) *fpdf.Fpdf {
	pdf := pdfdoc.Fpdf(orientation, "mm", title, now)
	pdf.SetMargins(12, 12, 12)
	pdf.SetAutoPageBreak(true, 14)
	pdf.AliasNbPages("{nb}")
	pdf.SetFooterFunc(func() {
		pdf.SetY(-10)
		pdf.SetFont(pdfdoc.Family, "", 7)
		pdf.SetTextColor(110, 110, 110)
		pdf.CellFormat(0, 4, fmt.Sprintf("%s · side %d av {nb}", title, pdf.PageNo()), "", 0, "R", false, 0, "")
		pdf.SetTextColor(0, 0, 0)
	})
	return pdf
}

// fit cuts s with an ellipsis so it fits w mm in the current font.
func fit(pdf *fpdf.Fpdf, s string, w float64) string {
	if pdf.GetStringWidth(s) <= w {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && pdf.GetStringWidth(string(r)+"…") > w {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

// reportColumns are the goal table's columns: header and width in mm
// (landscape A4 leaves 273 mm).
var reportColumns = []struct {
	head string
	w    float64
}{
	{"Kode", 22}, {"Læringsmål", 81}, {"Status", 42}, {"Siste aktivitet", 24}, {"Tidligere arb.st.", 26},
	{"Innspill veileder", 26}, {"Innspill supervisør", 30}, {"Venter sign.", 22},
}

// writeReportPDF writes the report: per LIS a heading, the figures and the
// goal table (its header repeated on each new page).
func writeReportPDF(w io.Writer, tenantName, title string, now time.Time, rows []ReportLIS) error {
	pdf := newPDF("L", title, now)
	pdf.AddPage()
	pdf.SetFont(pdfdoc.Family, "B", 14)
	pdf.CellFormat(0, 8, title, "", 1, "L", false, 0, "")
	pdf.SetFont(pdfdoc.Family, "", 9)
	pdf.CellFormat(0, 5, tenantName+" · tatt ut "+web.Date(now.In(web.Oslo))+" kl. "+now.In(web.Oslo).Format("15.04"), "", 1, "L", false, 0, "")
	if len(rows) == 0 {
		pdf.Ln(4)
		pdf.CellFormat(0, 5, "Ingen LIS.", "", 1, "L", false, 0, "")
	}
	header := func() {
		pdf.SetFont(pdfdoc.Family, "B", 7.5)
		pdf.SetFillColor(230, 234, 240)
		for _, c := range reportColumns {
			pdf.CellFormat(c.w, 5.5, fit(pdf, c.head, c.w-2), "1", 0, "L", true, 0, "")
		}
		pdf.Ln(-1)
		pdf.SetFont(pdfdoc.Family, "", 7.5)
	}
	for _, l := range rows {
		pdf.Ln(4)
		if pdf.GetY() > 170 { // a LIS's heading never ends a page alone
			pdf.AddPage()
		}
		pdf.SetFont(pdfdoc.Family, "B", 11)
		pdf.CellFormat(0, 6, l.Name, "", 1, "L", false, 0, "")
		pdf.SetFont(pdfdoc.Family, "", 8.5)
		var info []string
		for _, s := range []struct{ k, v string }{{"E-post", l.Email}, {"Spesialitet", l.Specialty}, {"Plan", l.Plan}, {"Veileder", l.Veileder}, {"Leder", l.Leder}} {
			if s.v != "" {
				info = append(info, s.k+": "+s.v)
			}
		}
		if l.Left != nil {
			info = append(info, "Sluttet: begynte ved "+l.Left.ToName+" "+web.Date(l.Left.StartsOn))
		}
		pdf.MultiCell(0, 4.5, strings.Join(info, " · "), "", "L", false)
		if len(l.Earlier) > 0 {
			pdf.MultiCell(0, 4.5, "Tidligere arbeidssted: "+l.EarlierNames(), "", "L", false)
		}
		pdf.MultiCell(0, 4.5, fmt.Sprintf("Godkjent %d av %d læringsmål · %d venter på godkjenning · %d aktiviteter venter på signatur · %d innspill ikke gitt",
			l.Approved, len(l.Goals), l.Sent, l.WaitingSignature, l.InputsOpen), "", "L", false)
		if len(l.Goals) == 0 {
			continue
		}
		pdf.Ln(1.5)
		header()
		for _, g := range l.Goals {
			if pdf.GetY() > 190 {
				pdf.AddPage()
				header()
			}
			text := ""
			if g.Text != nil {
				text = *g.Text
			}
			status := g.StatusText()
			if g.OriginName != "" {
				status += " (" + g.OriginName + ")"
			} else if d := g.DecidedText(); d != "" {
				status += " " + d
			}
			cells := []string{g.Code, text, status, g.LastHereText(), g.LastEarlierText(),
				inputText(g.VeilederAsked, g.VeilederGiven), inputText(g.SupAsked, g.SupGiven), countText(g.Waiting)}
			for i, c := range reportColumns {
				pdf.CellFormat(c.w, 5, fit(pdf, cells[i], c.w-2), "1", 0, "L", false, 0, "")
			}
			pdf.Ln(-1)
		}
	}
	return pdf.Output(w)
}

// inputText is "given av asked" ("" when none was asked).
func inputText(asked, given int) string {
	if asked == 0 {
		return ""
	}
	return fmt.Sprintf("%d av %d gitt", given, asked)
}

func countText(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprint(n)
}
