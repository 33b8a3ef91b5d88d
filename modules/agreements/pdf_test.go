package agreements_test

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"kportal/modules/agreements"
	"kportal/tenants"
)

// pdfText is one line of text a PDF shows.
type pdfText struct {
	Font       string
	Size, X, Y float64
	Text       string
}

type parsedPDF struct {
	Pages []string // content streams
	Lines []pdfText
	Fonts []string // the font dictionaries
}

var (
	objRe     = regexp.MustCompile(`(?s)^(\d+) 0 obj\n(.*?)\nendobj\n`)
	refRe     = regexp.MustCompile(`(\d+) 0 R`)
	streamRe  = regexp.MustCompile(`(?s)^<< /Length (\d+) >>\nstream\n`)
	textRe    = regexp.MustCompile(`BT (/F\d) ([\d.]+) Tf ([\d.]+) ([\d.]+) Td \(((?:\\[0-7]{3}|\\.|[^\\)])*)\) Tj ET`)
	trailerRe = regexp.MustCompile(`trailer\n<< /Size (\d+) /Root (\d+) 0 R /Info (\d+) 0 R >>\nstartxref\n(\d+)\n%%EOF\n$`)
)

// parsePDF reads a PDF the way a reader does: from startxref to the
// cross-reference table, from there to each object, from the trailer's root
// to the pages and their content streams. Any inconsistency fails the test.
func parsePDF(t *testing.T, b []byte) parsedPDF {
	t.Helper()
	if !bytes.HasPrefix(b, []byte("%PDF-1.")) {
		t.Fatalf("does not start with %%PDF-: %q", b[:min(20, len(b))])
	}
	m := trailerRe.FindSubmatch(b)
	if m == nil {
		t.Fatalf("no trailer/startxref/%%%%EOF at the end:\n%s", b[max(0, len(b)-200):])
	}
	size, _ := strconv.Atoi(string(m[1]))
	root, _ := strconv.Atoi(string(m[2]))
	xref, _ := strconv.Atoi(string(m[4]))
	if xref >= len(b) || !bytes.HasPrefix(b[xref:], []byte(fmt.Sprintf("xref\n0 %d\n0000000000 65535 f \n", size))) {
		t.Fatalf("startxref %d does not point at a cross-reference table of %d entries", xref, size)
	}
	objects := map[int]string{}
	entries := b[xref+len(fmt.Sprintf("xref\n0 %d\n", size))+20:]
	for id := 1; id < size; id++ {
		e := string(entries[(id-1)*20 : id*20])
		if !strings.HasSuffix(e, " 00000 n \n") {
			t.Fatalf("xref entry %d is not 20 bytes of offset, generation, n: %q", id, e)
		}
		off, err := strconv.Atoi(e[:10])
		if err != nil || off >= xref {
			t.Fatalf("xref entry %d: offset %q", id, e[:10])
		}
		om := objRe.FindSubmatch(b[off:])
		if om == nil || string(om[1]) != strconv.Itoa(id) {
			t.Fatalf("xref entry %d points at %q, not at object %d", id, b[off:min(off+20, len(b))], id)
		}
		objects[id] = string(om[2])
	}
	ref := func(s, key string) int {
		t.Helper()
		m := regexp.MustCompile(regexp.QuoteMeta(key) + ` (\d+) 0 R`).FindStringSubmatch(s)
		if m == nil {
			t.Fatalf("no %s in %q", key, s)
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	catalog := objects[root]
	if !strings.Contains(catalog, "/Type /Catalog") {
		t.Fatalf("root %d is not a catalog: %q", root, catalog)
	}
	pages := objects[ref(catalog, "/Pages")]
	kids := refRe.FindAllStringSubmatch(regexp.MustCompile(`/Kids \[([^\]]*)\]`).FindStringSubmatch(pages)[1], -1)
	if !strings.Contains(pages, fmt.Sprintf("/Count %d", len(kids))) || len(kids) == 0 {
		t.Fatalf("page tree %q has %d kids", pages, len(kids))
	}
	var out parsedPDF
	for _, k := range kids {
		id, _ := strconv.Atoi(k[1])
		page := objects[id]
		if !strings.Contains(page, "/Type /Page ") || !strings.Contains(page, "/MediaBox [0 0 595.28 841.89]") {
			t.Fatalf("kid %d is not an A4 page: %q", id, page)
		}
		for _, f := range []string{"/F1", "/F2"} {
			out.Fonts = append(out.Fonts, objects[ref(page, f)])
		}
		content := objects[ref(page, "/Contents")]
		sm := streamRe.FindStringSubmatch(content)
		if sm == nil {
			t.Fatalf("contents of page %d are not a stream: %q", id, content[:min(60, len(content))])
		}
		length, _ := strconv.Atoi(sm[1])
		data := content[len(sm[0]):]
		if !strings.HasSuffix(data, "\nendstream") || len(data)-len("\nendstream") != length {
			t.Fatalf("page %d: stream /Length %d, but %d bytes before endstream", id, length, len(data)-len("\nendstream"))
		}
		data = data[:length]
		out.Pages = append(out.Pages, data)
		for _, tm := range textRe.FindAllStringSubmatch(data, -1) {
			size, _ := strconv.ParseFloat(tm[2], 64)
			x, _ := strconv.ParseFloat(tm[3], 64)
			y, _ := strconv.ParseFloat(tm[4], 64)
			out.Lines = append(out.Lines, pdfText{Font: tm[1], Size: size, X: x, Y: y, Text: decodeWinAnsi(t, tm[5])})
		}
	}
	return out
}

// decodeWinAnsi reads the inside of a PDF literal string in WinAnsiEncoding.
func decodeWinAnsi(t *testing.T, s string) string {
	var raw []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			raw = append(raw, s[i])
			continue
		}
		i++
		if i+2 < len(s) && s[i] >= '0' && s[i] <= '7' {
			n, err := strconv.ParseUint(s[i:i+3], 8, 8)
			if err != nil {
				t.Fatalf("bad escape in %q", s)
			}
			raw = append(raw, byte(n))
			i += 2
			continue
		}
		raw = append(raw, s[i])
	}
	special := map[byte]rune{0x95: '•', 0x96: '–', 0x97: '—', 0x85: '…', 0x92: '’', 0x93: '“', 0x94: '”', 0x80: '€'}
	var b strings.Builder
	for _, c := range raw {
		if r, ok := special[c]; ok {
			b.WriteRune(r)
		} else if c < 0x80 || c >= 0xa0 {
			b.WriteRune(rune(c)) // Latin-1 agrees with WinAnsi here
		} else {
			t.Fatalf("unexpected WinAnsi byte %#x in %q", c, s)
		}
	}
	return b.String()
}

func TestReceiptIsAPDF(t *testing.T) {
	kommune := &tenants.Tenant{ID: uuid.New(), Name: "Ås kommune", Kind: tenants.KindKommune, Orgnr: "964948798", Kommunenummer: "3218"}
	v := agreements.EmbeddedVersions()
	cat, err := agreements.LoadCatalog(v)
	if err != nil {
		t.Fatal(err)
	}
	text, err := cat.Get("2026-1").Render(agreements.ControllerOf(kommune), agreements.DefaultOperator)
	if err != nil {
		t.Fatal(err)
	}
	sig := &agreements.Signature{
		TenantID: kommune.ID, ID: uuid.New(), Version: "2026-1", VersionPublished: cat.Get("2026-1").Published,
		Body: text.Body, Checksum: text.Checksum, TenantName: kommune.Name, Orgnr: kommune.Orgnr, Kommunenummer: kommune.Kommunenummer,
		SignerName: "Åse Øvrebø", SignerTitle: "Kommunalsjef (helse) – «fullmektig» \\ (test)",
		SignedAt: time.Date(2026, 11, 22, 13, 4, 5, 0, time.UTC),
	}
	pdf := agreements.ReceiptPDF(sig, agreements.DefaultOperator)
	doc := parsePDF(t, pdf)

	if len(doc.Pages) < 2 {
		t.Fatalf("the whole agreement on %d page(s): page breaks do not work", len(doc.Pages))
	}
	for _, f := range doc.Fonts {
		if !strings.Contains(f, "/Subtype /Type1") || !strings.Contains(f, "/BaseFont /Helvetica") || !strings.Contains(f, "/Encoding /WinAnsiEncoding") {
			t.Fatalf("font %q", f)
		}
	}
	var body, all []string
	for _, l := range doc.Lines {
		if l.X < 56 || l.X > 300 || l.Y < 20 || l.Y > 800 {
			t.Errorf("text outside the page's margins at (%v, %v): %q", l.X, l.Y, l.Text)
		}
		all = append(all, l.Text)
		if l.Size != 8 { // not the footer
			body = append(body, l.Text)
		}
	}
	joined := strings.Join(all, "\n")
	for _, want := range []string{
		"Kvittering: signert databehandleravtale", "Ås kommune, org.nr. 964948798, kommunenummer 3218",
		"2026-1 (publisert 1. november 2026)", "Åse Øvrebø, Kommunalsjef (helse) – «fullmektig» \\ (test)",
		"22.11.2026 kl. 14:04:05 (norsk tid)", sig.ID.String(), sig.Checksum,
		fmt.Sprintf("side 1 av %d", len(doc.Pages)), fmt.Sprintf("side %d av %d", len(doc.Pages), len(doc.Pages)),
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("the PDF's text lacks %q", want)
		}
	}
	// Every heading, paragraph and list item of the signed text is in the
	// receipt, in order, with its æ, ø and å.
	flow := strings.Join(strings.Fields(strings.Join(body, " ")), " ")
	pos := 0
	for _, b := range agreements.Blocks(sig.Body) {
		parts := []string{b.Text}
		if b.Kind == "ul" {
			parts = nil
			for _, it := range b.Items {
				parts = append(parts, "• "+it)
			}
		}
		for _, p := range parts {
			i := strings.Index(flow[pos:], p)
			if i < 0 {
				t.Fatalf("the receipt lacks, or has out of order: %q", p)
			}
			pos += i + len(p)
		}
	}
	if !strings.Contains(flow, "særlige kategorier av personopplysninger") || !strings.Contains(flow, "Taushetsplikt") {
		t.Fatal("Norwegian letters did not survive")
	}
}
