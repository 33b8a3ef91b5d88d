package agreements_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"kportal/modules/agreements"
	"kportal/modules/pdfdoc/pdftext"
	"kportal/tenants"
)

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
	pdf, err := agreements.ReceiptPDF(sig, agreements.DefaultOperator)
	if err != nil {
		t.Fatal(err)
	}
	pages, err := pdftext.Pages(pdf)
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) < 2 {
		t.Fatalf("the whole agreement on %d page(s): page breaks do not work", len(pages))
	}
	// The font is embedded (DejaVu Sans, a UTF-8 TrueType subset), not one
	// of PDF's standard fonts.
	if !bytes.Contains(pdf, []byte("/BaseFont /utf8dejavu")) || !bytes.Contains(pdf, []byte("/FontFile2")) {
		t.Fatal("no embedded font")
	}
	var body, all []string
	for _, p := range pages {
		for _, l := range strings.Split(p, "\n") {
			all = append(all, l)
			if !strings.HasPrefix(l, "Kvittering for databehandleravtale ") { // not the footer
				body = append(body, l)
			}
		}
	}
	joined := strings.Join(all, "\n")
	for _, want := range []string{
		"Kvittering: signert databehandleravtale", "Ås kommune, org.nr. 964948798, kommunenummer 3218",
		"2026-1 (publisert 1. november 2026)", "Åse Øvrebø, Kommunalsjef (helse) – «fullmektig» \\ (test)",
		"22.11.2026 kl. 14:04:05 (norsk tid)", sig.ID.String(), sig.Checksum,
		fmt.Sprintf("side 1 av %d", len(pages)), fmt.Sprintf("side %d av %d", len(pages), len(pages)),
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
