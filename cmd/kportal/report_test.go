package main

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/activities"
	"kportal/modules/goals"
	"kportal/modules/transfers/transferstest"
	"kportal/modules/web"
	"kportal/storage/testenv"
	"kportal/tenants"
)

// reportWorld: Kjærsti (LIS) worked at Helse Bergen with leder Per, veileder
// Vera and supervisor Sune: a course for KLS-001 ten days ago, KLS-002
// approved by Per (Sune gave input, Vera did not). She moved to Helse Førde
// (leder Frida, supervisor Silje there; Vera follows within the RHF), where
// she sent KLS-001 with input asked of Vera (given) and Silje (not yet) and a
// course for KLS-003 waits for Silje's signature. Stein, Per's other LIS,
// never moved. Ulla is UAO at Førde for ORT (Kjærsti's specialty there); Lise
// is a LIS at Førde in PED.
type reportWorld struct {
	bergen, forde                       *tenants.Tenant
	kjaersti, stein, lise               goalUser
	per, frida, vera, silje, ulla, sune goalUser
	tenDaysAgo                          time.Time
}

func newReportWorld(t *testing.T, cfg *config) *reportWorld {
	t.Helper()
	db := testenv.Get(t).App
	ctx := context.Background()
	transferstest.RHF(t, "TV")
	w := &reportWorld{tenDaysAgo: time.Now().In(web.Oslo).AddDate(0, 0, -10)}
	w.bergen = testenv.NewTenant(t, db, &tenants.Tenant{Name: "Helse Bergen HF", RHFCode: "TV"})
	w.forde = testenv.NewTenant(t, db, &tenants.Tenant{Name: "Helse Førde HF", RHFCode: "TV"})
	mk := func(given string, tn *tenants.Tenant, role string) goalUser {
		var u goalUser
		u.email, u.password, u.id = member(t, cfg, given, tn, role)
		return u
	}
	w.kjaersti, w.stein, w.per, w.sune = mk("Kjærsti", w.bergen, "lis"), mk("Stein", w.bergen, "lis"), mk("Per", w.bergen, "leder"), mk("Sune", w.bergen, "supervisor")
	w.vera = mk("Vera", w.bergen, "veileder")
	w.frida, w.silje, w.ulla, w.lise = mk("Frida", w.forde, "leder"), mk("Silje", w.forde, "supervisor"), mk("Ulla", w.forde, "uao"), mk("Lise", w.forde, "lis")
	if err := tenants.AddMembership(ctx, db, w.forde.ID, w.vera.id, "veileder"); err != nil {
		t.Fatal(err)
	}
	version := goalCatalog(t, map[string]string{"KLS-001": "Kan ta opp sykehistorie", "KLS-002": "Kan skrive epikrise", "KLS-003": "Kan gi kort informasjon"})
	bergenTpl := goalPlan(t, w.bergen, version, "LIS1 sykehus Bergen", "KLS-001", "KLS-002", "KLS-003")
	fordeTpl := goalPlan(t, w.forde, version, "LIS1 sykehus Førde", "KLS-001", "KLS-002", "KLS-003")
	sys := tenants.Actor{Name: "test"}
	err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: w.bergen.ID}, func(ctx context.Context, tx bun.Tx) error {
		for _, lis := range []uuid.UUID{w.kjaersti.id, w.stein.id} {
			for kind, p := range map[string]uuid.UUID{"leder": w.per.id, "supervisor": w.sune.id, "veileder": w.vera.id} {
				if err := tenants.SetRelation(ctx, tx, w.bergen.ID, lis, kind, p, sys); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO plan_assignments (tenant_id, lis_id, template_id, version_id) VALUES (?, ?, ?, ?)", w.bergen.ID, lis, bergenTpl, version); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	as, gs := activities.NewStore(db), goals.NewStore(db)
	kj := tenants.Actor{PersonID: w.kjaersti.id, Name: "Kjærsti"}
	a, err := as.Create(ctx, w.bergen.ID, kj, activities.Input{Kind: "course", Title: "Kurs i Bergen", DoneOn: w.tenDaysAgo.Format("2006-01-02"),
		GoalCodes: []string{"KLS-001"}, SupervisorID: w.sune.id.String()})
	if err != nil {
		t.Fatal(err)
	}
	if err := as.Decide(ctx, w.bergen.ID, tenants.Actor{PersonID: w.sune.id, Name: "Sune"}, activities.DecisionSigned, []activities.Decision{{ActivityID: a.ID}}); err != nil {
		t.Fatal(err)
	}
	p, err := gs.SendGoal(ctx, w.bergen.ID, kj, goals.Send{Code: "KLS-002", CompletedOn: time.Now().Format("2006-01-02"), Approver: w.per.id.String(),
		Inputs: []string{w.sune.id.String(), w.vera.id.String()}})
	if err != nil {
		t.Fatal(err)
	}
	answer(t, gs, w.bergen.ID, w.sune.id, "Har sett henne skrive gode epikriser.")
	if _, err := gs.Decide(ctx, w.bergen.ID, tenants.Actor{PersonID: w.per.id, Name: "Per"}, p.ID, goals.Decision{Outcome: goals.Approve, ConfirmMissing: true}); err != nil {
		t.Fatal(err)
	}

	transferstest.Move(t, db, w.bergen, w.forde, w.kjaersti.id, fordeTpl, w.frida.id)
	err = tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: w.forde.ID}, func(ctx context.Context, tx bun.Tx) error {
		if err := tenants.SetRelation(ctx, tx, w.forde.ID, w.kjaersti.id, "supervisor", w.silje.id, sys); err != nil {
			return err
		}
		if err := tenants.SetSpecialties(ctx, tx, w.forde.ID, w.kjaersti.id, "lis", []string{"ORT"}); err != nil {
			return err
		}
		if err := tenants.SetSpecialties(ctx, tx, w.forde.ID, w.lise.id, "lis", []string{"PED"}); err != nil {
			return err
		}
		return tenants.SetSpecialties(ctx, tx, w.forde.ID, w.ulla.id, "uao", []string{"ORT"})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := as.Create(ctx, w.forde.ID, kj, activities.Input{Kind: "course", Title: "Kurs i Førde", DoneOn: time.Now().In(web.Oslo).Format("2006-01-02"),
		GoalCodes: []string{"KLS-003"}, SupervisorID: w.silje.id.String()}); err != nil {
		t.Fatal(err)
	}
	if _, err := gs.SendGoal(ctx, w.forde.ID, kj, goals.Send{Code: "KLS-001", CompletedOn: time.Now().Format("2006-01-02"), Approver: w.frida.id.String(),
		Inputs: []string{w.silje.id.String(), w.vera.id.String()}}); err != nil {
		t.Fatal(err)
	}
	answer(t, gs, w.forde.ID, w.vera.id, "Tar opp gode sykehistorier.")
	return w
}

// answer gives person's input on the one goal they were asked about.
func answer(t *testing.T, gs *goals.Store, tenantID, person uuid.UUID, text string) {
	t.Helper()
	ins, err := gs.InputsFor(context.Background(), tenantID, person)
	if err != nil || len(ins) != 1 {
		t.Fatalf("inputs asked of %s: %v %v", person, ins, err)
	}
	if err := gs.AnswerInput(context.Background(), tenantID, tenants.Actor{PersonID: person, Name: "Innspill"}, ins[0].ID, text); err != nil {
		t.Fatal(err)
	}
}

// goalRow is the report's row of one goal of the page's first LIS section.
func goalRow(t *testing.T, page, code string) string {
	t.Helper()
	i := strings.Index(page, `data-code="`+code+`"`)
	if i < 0 {
		t.Fatalf("no row for %s:\n%s", code, page)
	}
	row := page[i:]
	return row[:strings.Index(row, "</tr>")]
}

func download(t *testing.T, b *browser, path string) (*http.Response, []byte) {
	t.Helper()
	resp, err := b.c.Get(b.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, raw
}

var (
	pdfStreamRe = regexp.MustCompile(`(?s)stream\r?\n(.*?)\r?\nendstream`)
	pdfTjRe     = regexp.MustCompile(`(?s)\((.*?[^\\])\)\s*Tj`)
)

// pdfText is the text of a PDF's content streams as fpdf writes it with a
// UTF-8 font (UTF-16BE strings, compressed): enough to find a name in it.
func pdfText(raw []byte) string {
	var out strings.Builder
	for _, m := range pdfStreamRe.FindAllSubmatch(raw, -1) {
		r, err := zlib.NewReader(bytes.NewReader(m[1]))
		if err != nil {
			continue
		}
		data, err := io.ReadAll(r)
		if err != nil || !bytes.Contains(data, []byte("Tj")) {
			continue
		}
		// The strings in (…) Tj: unescape and read as UTF-16BE.
		for _, s := range pdfTjRe.FindAllSubmatch(data, -1) {
			b := unescapePDF(s[1])
			u := make([]uint16, len(b)/2)
			for i := range u {
				u[i] = binary.BigEndian.Uint16(b[2*i:])
			}
			out.WriteString(string(utf16.Decode(u)))
			out.WriteByte('\n')
		}
	}
	return out.String()
}

func unescapePDF(b []byte) []byte {
	var out []byte
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+1 < len(b) {
			i++
			switch b[i] {
			case 'r':
				out = append(out, '\r')
			case 'n':
				out = append(out, '\n')
			default:
				out = append(out, b[i])
			}
			continue
		}
		out = append(out, b[i])
	}
	return out
}

// The report as Frida (Kjærsti's new leder) reads it: statuses with the
// carried approval, last activity here and at Bergen, inputs asked and
// given (the carried goal's from its frozen basis), what waits; CSV with its
// columns; a PDF with Kjærsti's name in its text; Per's report at Bergen
// shows she left and Stein's goals.
func TestReportOverHTTP(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	w := newReportWorld(t, cfg)
	today := web.Date(time.Now().In(web.Oslo))
	base := "/t/" + w.forde.Slug

	frida := goalLogin(t, srv.URL, w.frida)
	if _, _, page := frida.get(base + "/mine-lis"); !strings.Contains(page, `href="`+base+`/mine-lis/rapport"`) ||
		!strings.Contains(page, base+"/mine-lis/rapport?lis="+w.kjaersti.id.String()) {
		t.Fatalf("Mine LIS does not link the report:\n%s", page)
	}
	status, _, page := frida.get(base + "/mine-lis/rapport?lis=" + w.kjaersti.id.String())
	if status != http.StatusOK || strings.Count(page, `data-testid="report-lis"`) != 1 || !strings.Contains(page, "Fremdriftsrapport for Kjærsti Testesen") ||
		!strings.Contains(page, `data-testid="report-earlier">Helse Bergen HF`) || !strings.Contains(page, "Godkjent 1 av 3") ||
		!strings.Contains(page, "1 venter på godkjenning") || !strings.Contains(page, "1 aktivitet venter på signatur") || !strings.Contains(page, "1 innspill ikke gitt") {
		t.Fatalf("Kjærsti's report: %d\n%s", status, page)
	}
	for code, want := range map[string][]string{
		"KLS-001": {">Sendt til godkjenning<", "hos Frida Testesen", `data-testid="last-here"></td>`, `data-testid="last-earlier">` + web.Date(w.tenDaysAgo) + "<",
			`data-testid="input-veileder">1 av 1 gitt<`, `data-testid="input-sup">0 av 1 gitt<`, `data-testid="waiting"></td>`},
		"KLS-002": {">Godkjent<", `data-testid="goal-origin">ved Helse Bergen HF<`, today, `data-testid="input-veileder">0 av 1 gitt<`, `data-testid="input-sup">1 av 1 gitt<`},
		"KLS-003": {">Ikke startet<", `data-testid="last-here">` + today + "<", `data-testid="last-earlier"></td>`, `data-testid="input-sup"></td>`, `data-testid="waiting">1<`},
	} {
		row := goalRow(t, page, code)
		for _, s := range want {
			if !strings.Contains(row, s) {
				t.Errorf("%s lacks %q:\n%s", code, s, row)
			}
		}
	}

	// CSV: BOM, semicolons, the columns, one row per goal.
	resp, raw := download(t, frida, base+"/mine-lis/rapport/csv")
	csv := string(raw)
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "text/csv") || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") ||
		!strings.HasPrefix(csv, "\uFEFFLIS;E-post;Spesialitet;Plan;Veileder;Leder;Kode;Læringsmål;Status;Avgjort av;Avgjort dato;Godkjent ved tidligere arbeidssted;"+
			"Siste aktivitet;Siste aktivitet tidligere arbeidssted;Innspill veileder bedt om;Innspill veileder gitt;Innspill supervisør bedt om;Innspill supervisør gitt;"+
			"Aktiviteter som venter på signatur;Venter på godkjenning\r\n") {
		t.Fatalf("CSV: %d %v\n%s", resp.StatusCode, resp.Header, csv)
	}
	lines := strings.Split(strings.TrimSpace(csv), "\r\n")
	if len(lines) != 4 || !strings.Contains(csv, ";LIS1 sykehus Førde;Vera Testesen;Frida Testesen;KLS-003;") || !strings.Contains(csv, ";KLS-002;Kan skrive epikrise;Godkjent;Per Testesen;"+today+";Helse Bergen HF;;;1;0;1;1;0;Nei\r\n") ||
		!strings.Contains(csv, ";KLS-001;Kan ta opp sykehistorie;Sendt til godkjenning;;;;;"+web.Date(w.tenDaysAgo)+";1;1;1;0;0;Ja\r\n") ||
		!strings.Contains(csv, "Kjærsti Testesen;"+w.kjaersti.email+";") {
		t.Fatalf("CSV rows:\n%s", csv)
	}

	// PDF: a PDF, the font embedded, Kjærsti's name and goals in its text.
	resp, raw = download(t, frida, base+"/mine-lis/rapport/pdf?lis="+w.kjaersti.id.String())
	text := pdfText(raw)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(raw, []byte("%PDF-")) ||
		!bytes.Contains(raw, []byte("/FontFile2")) || !strings.Contains(strings.TrimSpace(string(raw[len(raw)-8:])), "%%EOF") {
		t.Fatalf("PDF: %d %v %q", resp.StatusCode, resp.Header, raw[:min(len(raw), 200)])
	}
	for _, want := range []string{"Kjærsti Testesen", "KLS-002", "Godkjent (Helse Bergen HF)", "Tidligere arbeidssted: Helse Bergen HF", "Helse Førde HF"} {
		if !strings.Contains(text, want) {
			t.Fatalf("the PDF's text lacks %q:\n%s", want, text)
		}
	}

	// Per at Bergen: Stein's goals, and Kjærsti as having left.
	per := goalLogin(t, srv.URL, w.per)
	_, _, page = per.get("/t/" + w.bergen.Slug + "/mine-lis/rapport")
	if strings.Count(page, `data-testid="report-lis"`) != 2 || !strings.Contains(page, "Stein Testesen") || !strings.Contains(page, `data-testid="lis-left"`) ||
		strings.Count(page, `data-testid="report-goal"`) != 3 {
		t.Fatalf("Per's report:\n%s", page)
	}

	// The UAO: the overview links the report; it has Kjærsti (ORT), not Lise (PED).
	ulla := goalLogin(t, srv.URL, w.ulla)
	if _, _, page := ulla.get(base + "/utdanningsoversikt"); !strings.Contains(page, base+"/utdanningsoversikt/rapport") ||
		!strings.Contains(page, base+"/utdanningsoversikt/rapport?lis="+w.kjaersti.id.String()) {
		t.Fatalf("the UAO's overview does not link the report:\n%s", page)
	}
	status, _, page = ulla.get(base + "/utdanningsoversikt/rapport")
	if status != 200 || strings.Count(page, `data-testid="report-lis"`) != 1 || !strings.Contains(page, "Kjærsti Testesen") || strings.Contains(page, "Lise") ||
		!strings.Contains(page, "Godkjent 1 av 3") {
		t.Fatalf("the UAO's report: %d\n%s", status, page)
	}
	if resp, raw := download(t, ulla, base+"/utdanningsoversikt/rapport/csv"); resp.StatusCode != 200 || strings.Count(string(raw), "\r\n") != 4 {
		t.Fatalf("the UAO's CSV: %d\n%s", resp.StatusCode, raw)
	}
	if resp, raw := download(t, ulla, base+"/utdanningsoversikt/rapport/pdf"); resp.StatusCode != 200 || !strings.Contains(pdfText(raw), "Kjærsti Testesen") {
		t.Fatalf("the UAO's PDF: %d", resp.StatusCode)
	}
}

// Who cannot read the report: a leder another LIS (404), another tenant's
// leder (404), the LIS herself and her veileder (403, not a leder), the UAO
// for a LIS outside the specialties covered (404).
func TestReportIsolationOverHTTP(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	w := newReportWorld(t, cfg)
	base := "/t/" + w.forde.Slug
	one := "?lis=" + w.kjaersti.id.String()

	// Frida leads Kjærsti, not Stein (at Bergen) nor Lise.
	frida := goalLogin(t, srv.URL, w.frida)
	for _, id := range []uuid.UUID{w.stein.id, w.lise.id} {
		for _, f := range []string{"", "/csv", "/pdf"} {
			if status, _, _ := frida.get(base + "/mine-lis/rapport" + f + "?lis=" + id.String()); status != http.StatusNotFound {
				t.Fatalf("Frida, another LIS's report%s: %d", f, status)
			}
		}
	}
	if status, _, _ := frida.get(base + "/mine-lis/rapport?lis=ikke-en-id"); status != http.StatusNotFound {
		t.Fatalf("a malformed LIS: %d", status)
	}
	// Per leads Kjærsti at Bergen, not at Førde: he is no member there.
	per := goalLogin(t, srv.URL, w.per)
	for _, f := range []string{"", "/csv", "/pdf"} {
		if status, _, page := per.get(base + "/mine-lis/rapport" + f + one); status != http.StatusNotFound || strings.Contains(page, "Kjærsti") {
			t.Fatalf("Per at Førde%s: %d", f, status)
		}
	}
	// Another tenant's leder.
	other := testTenant(t, "Annet foretak HF", tenants.KindHF)
	var olav goalUser
	olav.email, olav.password, olav.id = member(t, cfg, "Olav", other, "leder")
	ob := goalLogin(t, srv.URL, olav)
	if status, _, _ := ob.get(base + "/mine-lis/rapport" + one); status != http.StatusNotFound {
		t.Fatalf("another tenant's leder: %d", status)
	}
	if status, _, page := ob.get("/t/" + other.Slug + "/mine-lis/rapport"); status != 200 || strings.Contains(page, "Kjærsti") || !strings.Contains(page, `data-testid="no-rows"`) {
		t.Fatalf("the other leder's own report: %d\n%s", status, page)
	}
	if status, _, page := ob.get("/t/" + other.Slug + "/mine-lis/rapport" + one); status != http.StatusNotFound || strings.Contains(page, "Kjærsti") {
		t.Fatalf("Kjærsti through the other tenant: %d", status)
	}
	// The LIS and her veileder hold no leder role.
	for _, u := range []goalUser{w.kjaersti, w.vera} {
		b := goalLogin(t, srv.URL, u)
		for _, p := range []string{"/mine-lis/rapport", "/mine-lis/rapport/pdf" + one, "/utdanningsoversikt/rapport"} {
			if status, _, page := b.get(base + p); status != http.StatusForbidden || strings.Contains(page, "Kan skrive epikrise") {
				t.Fatalf("%s opens %s: %d", u.email, p, status)
			}
		}
	}
	// The UAO: Lise's specialty is not covered.
	ulla := goalLogin(t, srv.URL, w.ulla)
	for _, f := range []string{"", "/csv", "/pdf"} {
		if status, _, _ := ulla.get(base + "/utdanningsoversikt/rapport" + f + "?lis=" + w.lise.id.String()); status != http.StatusNotFound {
			t.Fatalf("the UAO, an uncovered LIS%s: %d", f, status)
		}
	}
	if _, _, page := ulla.get(base + "/utdanningsoversikt/rapport?spesialitet=PED"); strings.Contains(page, "Lise") || !strings.Contains(page, `data-testid="no-rows"`) {
		t.Fatalf("the UAO filtering on an uncovered specialty:\n%s", page)
	}
}

// The demo: Per opens the report for Kari at Helse Bergen (her demo plan has
// no læringsmål: the shipped catalogue has only LIS1's; her procedure waiting
// for Ola shows), Hilde for Lars at
// Helse Førde (his goals approved at Bergen as approved there, Bergen as his
// earlier workplace).
func TestReportDemoSeed(t *testing.T) {
	cfg, _, _ := freshDatabase(t)
	setEnv(t, cfg)
	var out, errb bytes.Buffer
	if code := run([]string{"seed"}, &out, &errb); code != 0 {
		t.Fatalf("seed: exit %d\n%s", code, errb.String())
	}
	_, srv := startApp(t, cfg, false)
	per := goalLogin(t, srv.URL, goalUser{email: "per.leder@demo.kportal.no", password: "kportal-demo-2026"})
	_, _, page := per.get("/t/helse-bergen/mine-lis")
	m := regexp.MustCompile(`href="(/t/helse-bergen/mine-lis/rapport\?lis=[0-9a-f-]{36})"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("Per's Mine LIS without a report link:\n%s", page)
	}
	if status, _, page := per.get(strings.ReplaceAll(m[1], "&amp;", "&")); status != 200 || !strings.Contains(page, "Fremdriftsrapport for Kari Nordmann") ||
		!strings.Contains(page, `data-testid="report-waiting">1 aktivitet venter på signatur`) {
		t.Fatalf("Per's report for Kari: %d\n%s", status, page)
	}
	hilde := goalLogin(t, srv.URL, goalUser{email: "hilde.leder@demo.kportal.no", password: "kportal-demo-2026"})
	if status, _, page := hilde.get("/t/helse-forde/mine-lis/rapport"); status != 200 || !strings.Contains(page, "Lars Eide") ||
		!strings.Contains(page, `data-testid="goal-origin">ved Helse Bergen HF`) || !strings.Contains(page, `data-testid="report-earlier">Helse Bergen HF`) {
		t.Fatalf("Hilde's report: %d\n%s", status, page)
	}
}
