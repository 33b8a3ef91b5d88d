package agreements

import (
	"bytes"
	"strings"
	"testing"
)

func TestWinAnsiAndWrapping(t *testing.T) {
	if got := winAnsi("æøå ÆØÅ €–•→"); !bytes.Equal(got, []byte{0xe6, 0xf8, 0xe5, ' ', 0xc6, 0xd8, 0xc5, ' ', 0x80, 0x96, 0x95, '?'}) {
		t.Fatalf("winAnsi: % x", got)
	}
	if got := escapePDF(`a(b)\ø`); got != `a\(b\)\\\370` {
		t.Fatalf("escape: %s", got)
	}
	// Helvetica's metrics: "Hei" is 722+556+222 thousandths of the size.
	if w := textWidth(regular, 10, "Hei"); w != 15 {
		t.Fatalf("width of Hei at 10 pt: %v", w)
	}
	width := pageWidth - 2*marginX
	text := strings.Repeat("Databehandleren skal bistå behandlingsansvarlig med å oppfylle plikten. ", 20) +
		strings.Repeat("x", 300) + " slutt"
	for _, f := range []pdfFont{regular, bold} {
		lines := wrap(f, 10, text, width, width-20)
		if len(lines) < 5 {
			t.Fatalf("%d lines", len(lines))
		}
		for i, l := range lines {
			limit := width - 20
			if i == 0 {
				limit = width
			}
			if textWidth(f, 10, l) > limit {
				t.Errorf("line %d is %.1f pt, wider than %.1f: %q", i, textWidth(f, 10, l), limit, l)
			}
		}
		if strings.Join(strings.Fields(strings.Join(lines, " ")), "") != strings.Join(strings.Fields(text), "") {
			t.Fatal("wrapping lost text")
		}
	}
}
