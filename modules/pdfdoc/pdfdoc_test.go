package pdfdoc_test

import (
	"strings"
	"testing"
	"time"

	"kportal/modules/pdfdoc"
	"kportal/modules/pdfdoc/pdftext"
)

func TestDossierPDFFontKeepsSamiLetters(t *testing.T) {
	d := pdfdoc.New("Prøve", time.Now(), func(page, pages string) string { return "side " + page + " av " + pages })
	d.Heading(16, "Áile Ŋuoŧŧu Čđž")
	d.Row("Navn", "Šárá Žđŋ æøå ÆØÅ")
	for i := 0; i < 80; i++ {
		d.Bullet(10, "Linje med ŋ og č nummer "+strings.Repeat("x", i%5))
	}
	d.Table([]float64{0.6, 0.2, 0.2}, []string{"Prosedyre", "Assistert", "Utført"}, [][]string{{"Åpen reposisjon", "3", "12"}})
	b, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	pages, err := pdftext.Pages(b)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(pages, "\n")
	for _, want := range []string{"Áile Ŋuoŧŧu Čđž", "Šárá Žđŋ æøå ÆØÅ", "Åpen reposisjon", "side 1 av " + itoa(len(pages))} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text[:min(len(text), 600)])
		}
	}
	if len(pages) < 2 {
		t.Fatalf("%d pages", len(pages))
	}
}

func itoa(n int) string { return string(rune('0' + n)) }
