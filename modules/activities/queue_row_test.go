package activities

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"kportal/modules/documents"
)

// The queue's rows are written in Go, not by html/template: what a LIS typed
// must still come out as text, in element content and in attributes.
func TestQueueRowEscapesWhatTheLISTyped(t *testing.T) {
	a := &Activity{ID: uuid.New(), Kind: "procedure", Title: `Appendektomi"><script>alert(1)</script>`, ProcedureRole: RolePerformed, Count: 5,
		DoneOn: time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC), ArenaName: "Sengepost <b>4</b>", GoalCodes: []string{"KLS-001", "KLS-&02"}, Comment: "'sitat' & <i>",
		Document: &documents.Ref{ID: uuid.New(), Name: `kurs"<img>.png`, ContentType: "image/png", Size: 2048}}
	got := string(a.QueueRow("hf"))
	for _, bad := range []string{"<script>", "<b>", "<i>", "'sitat'", "KLS-&02", `"<img>`} {
		if strings.Contains(got, bad) {
			t.Errorf("row contains %q unescaped:\n%s", bad, got)
		}
	}
	for _, want := range []string{`value="signed:` + a.ID.String() + `"`, `value="rejected:` + a.ID.String() + `"`, `id="pick-` + a.ID.String() + `"`,
		"Appendektomi&#34;&gt;&lt;script&gt;", " – 5 utført", "3.11.2026", "Sengepost &lt;b&gt;4&lt;/b&gt;", "mål KLS-001, KLS-&amp;02", "«&#39;sitat&#39; &amp; &lt;i&gt;»",
		`aria-label="Kommentar til Appendektomi&#34;&gt;`, `href="/t/hf/dokumenter/` + a.Document.ID.String() + `/vis"`, `alt="Kursbevis: kurs&#34;&lt;img&gt;.png"`, "(PNG"} {
		if !strings.Contains(got, want) {
			t.Errorf("row lacks %q:\n%s", want, got)
		}
	}
}
