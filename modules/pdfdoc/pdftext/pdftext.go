// Package pdftext reads the text of a PDF file, for tests: what a reader
// shows, through each font's ToUnicode map. The file's structure (cross-
// references, objects, compressed streams) is read with ledongthuc/pdf; the
// ToUnicode maps are applied here, because that reader's range mapping drops
// the high byte of two-byte codes (ŋ, č, đ, ŧ, ž came out as other letters).
package pdftext

import (
	"bytes"
	"encoding/hex"
	"io"
	"math"
	"regexp"
	"strings"
	"unicode/utf16"

	"github.com/ledongthuc/pdf"
)

// Pages returns the text of each page, a line per baseline.
func Pages(b []byte) ([]string, error) {
	r, err := pdf.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, err
	}
	var out []string
	for i := 1; i <= r.NumPage(); i++ {
		p := r.Page(i)
		if p.V.IsNull() {
			continue
		}
		out = append(out, pageText(p))
	}
	return out, nil
}

// Text returns the text of every page, one after the other.
func Text(b []byte) (string, error) {
	ps, err := Pages(b)
	return strings.Join(ps, "\n"), err
}

func pageText(p pdf.Page) string {
	fonts := map[string]*cmap{}
	for _, name := range p.Fonts() {
		fonts[name] = readCmap(p.Font(name).V.Key("ToUnicode"))
	}
	var (
		buf   strings.Builder
		cur   *cmap
		lastY = math.NaN()
	)
	show := func(s string) {
		if cur == nil {
			buf.WriteString(s)
			return
		}
		buf.WriteString(cur.decode(s))
	}
	pdf.Interpret(p.V.Key("Contents"), func(stk *pdf.Stack, op string) {
		n := stk.Len()
		args := make([]pdf.Value, n)
		for i := n - 1; i >= 0; i-- {
			args[i] = stk.Pop()
		}
		switch op {
		case "Tf":
			if n == 2 {
				cur = fonts[args[0].Name()]
			}
		case "Td", "TD", "Tm":
			if n >= 2 {
				y := args[n-1].Float64()
				switch {
				case !math.IsNaN(lastY) && y != lastY:
					buf.WriteByte('\n')
				case buf.Len() > 0 && !strings.HasSuffix(buf.String(), " ") && !strings.HasSuffix(buf.String(), "\n"):
					buf.WriteByte(' ') // another cell on the same line
				}
				lastY = y
			}
		case "T*", "'", "\"":
			buf.WriteByte('\n')
			if op != "T*" {
				show(args[n-1].RawString())
			}
		case "Tj":
			if n == 1 {
				show(args[0].RawString())
			}
		case "TJ":
			if n == 1 {
				for i := 0; i < args[0].Len(); i++ {
					if v := args[0].Index(i); v.Kind() == pdf.String {
						show(v.RawString())
					}
				}
			}
		}
	})
	return buf.String()
}

// cmap is a ToUnicode map of two-byte codes (what fpdf writes for UTF-8 fonts).
type cmap struct {
	chars  map[uint16][]uint16
	ranges []struct{ lo, hi, dst uint16 }
}

func code(s string) uint16 {
	var v uint16
	for i := 0; i < len(s); i++ {
		v = v<<8 | uint16(s[i])
	}
	return v
}

func units(s string) []uint16 {
	out := make([]uint16, 0, len(s)/2)
	for i := 0; i+1 < len(s); i += 2 {
		out = append(out, uint16(s[i])<<8|uint16(s[i+1]))
	}
	return out
}

var (
	blockRe = regexp.MustCompile(`(?s)beginbf(char|range)(.*?)endbf(?:char|range)`)
	hexRe   = regexp.MustCompile(`<([0-9A-Fa-f]*)>`)
)

// readCmap reads the map's bfchar and bfrange entries from its text (the
// reader's PostScript interpreter keeps its dictionaries to itself).
func readCmap(v pdf.Value) *cmap {
	if v.IsNull() {
		return nil
	}
	rd := v.Reader()
	defer rd.Close()
	raw, err := io.ReadAll(rd)
	if err != nil {
		return nil
	}
	m := &cmap{chars: map[uint16][]uint16{}}
	for _, b := range blockRe.FindAllStringSubmatch(string(raw), -1) {
		var hs []string
		for _, h := range hexRe.FindAllStringSubmatch(b[2], -1) {
			d, _ := hex.DecodeString(h[1])
			hs = append(hs, string(d))
		}
		if b[1] == "char" {
			for i := 0; i+1 < len(hs); i += 2 {
				m.chars[code(hs[i])] = units(hs[i+1])
			}
			continue
		}
		for i := 0; i+2 < len(hs); i += 3 {
			if u := units(hs[i+2]); len(u) == 1 {
				m.ranges = append(m.ranges, struct{ lo, hi, dst uint16 }{code(hs[i]), code(hs[i+1]), u[0]})
			}
		}
	}
	return m
}

func (m *cmap) decode(s string) string {
	var out []uint16
	for i := 0; i+1 < len(s); i += 2 {
		c := uint16(s[i])<<8 | uint16(s[i+1])
		if u, ok := m.chars[c]; ok {
			out = append(out, u...)
			continue
		}
		found := false
		for _, r := range m.ranges {
			if c >= r.lo && c <= r.hi {
				out = append(out, r.dst+(c-r.lo))
				found = true
				break
			}
		}
		if !found {
			out = append(out, 0xfffd)
		}
	}
	return string(utf16.Decode(out))
}
