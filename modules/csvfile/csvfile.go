// Package csvfile reads the CSV files people upload, as spreadsheets save
// them: UTF-8 with or without a byte order mark, ";" or "," between fields,
// empty ";;;;" rows. What is wrong with a file is said in Norwegian.
package csvfile

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"strings"
	"unicode/utf8"
)

// Open checks an uploaded file and returns a reader at its first line (the
// header), or a Norwegian sentence saying why the file cannot be read.
func Open(data []byte) (*csv.Reader, string) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if bytes.IndexByte(data, 0) >= 0 || bytes.HasPrefix(data, []byte("PK\x03\x04")) || bytes.HasPrefix(data, []byte("%PDF")) {
		return nil, "Filen er ikke en CSV-fil. Lagre regnearket som CSV (i Excel: «Lagre som» og filtypen «CSV UTF-8 (kommadelt)»), og last opp den filen."
	}
	if !utf8.Valid(data) {
		return nil, "Filen er ikke lagret som UTF-8, så æ, ø og å ville blitt feil. I Excel: velg «Lagre som» og filtypen «CSV UTF-8 (kommadelt)»."
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, "Filen er tom."
	}
	header := data
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		header = data[:i]
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = ','
	if bytes.Count(header, []byte(";")) > bytes.Count(header, []byte(",")) {
		r.Comma = ';'
	}
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	return r, ""
}

// Column is a header cell as a key: lower case, without spaces, "-", "_", ".".
func Column(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.NewReplacer(" ", "", "-", "", "_", "", ".", "", "\u00a0", "").Replace(s)
}

// Blank reports whether a row has nothing in it.
func Blank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// Problem says in Norwegian what encoding/csv found.
func Problem(err error) string {
	switch {
	case errors.Is(err, csv.ErrQuote), errors.Is(err, csv.ErrBareQuote):
		return "et anførselstegn (\") er ikke lukket eller står midt i et felt."
	case errors.Is(err, io.EOF):
		return "filen er tom."
	}
	return "ugyldig CSV."
}
