package csvfile

import (
	"strings"
	"testing"
)

// What Excel saves (a BOM, ";" between fields, empty rows) reads; what is not
// a CSV is refused with a Norwegian sentence.
func TestOpen(t *testing.T) {
	r, problem := Open([]byte("\xef\xbb\xbfE-post;Start dato\r\nkari@example.no;1.3.2027\r\n;;\r\n"))
	if problem != "" {
		t.Fatal(problem)
	}
	head, err := r.Read()
	if err != nil || len(head) != 2 || Column(head[0]) != "epost" || Column(head[1]) != "startdato" {
		t.Fatalf("header %q %v", head, err)
	}
	if rec, _ := r.Read(); rec[0] != "kari@example.no" {
		t.Fatalf("row %q", rec)
	}
	if rec, _ := r.Read(); !Blank(rec) {
		t.Fatalf("an empty row is not blank: %q", rec)
	}
	for name, data := range map[string]string{"pdf": "%PDF-1.7", "zip": "PK\x03\x04xx", "latin-1": "navn\nBj\xf8rn", "empty": " \n "} {
		if _, problem := Open([]byte(data)); problem == "" || !strings.HasPrefix(problem, "Filen") {
			t.Errorf("%s: %q", name, problem)
		}
	}
	if _, err := Open([]byte("a;b\n\"x;y\n")); err != "" {
		t.Fatal(err)
	}
}
