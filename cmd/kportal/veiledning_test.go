package main

// Named to run after catalog_test.go: goalSetup publishes a catalogue version
// with texts for KLS-001…003, and TestCatalogImportCommand expects to publish
// the shipped catalogue without changed goals to assess.

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/uptrace/bun"

	"kportal/modules/web"
	"kportal/storage/testenv"
	"kportal/tenants"
)

// advisoryWorld is goalWorld (LIS Lotte with leder, veileder and supervisor)
// with a UAO who covers the LIS's specialty.
func advisoryWorld(t *testing.T, cfg *config) (*goalWorld, goalUser) {
	t.Helper()
	w := goalSetup(t, cfg, true)
	var uao goalUser
	uao.email, uao.password, uao.id = member(t, cfg, "Ulla", w.tn, "uao")
	err := tenants.WithTenantTx(context.Background(), testenv.Get(t).App, tenants.Scope{TenantID: w.tn.ID}, func(ctx context.Context, tx bun.Tx) error {
		if err := tenants.SetSpecialties(ctx, tx, w.tn.ID, w.lis.id, "lis", []string{"ORT"}); err != nil {
			return err
		}
		return tenants.SetSpecialties(ctx, tx, w.tn.ID, uao.id, "uao", []string{"ORT"})
	})
	if err != nil {
		t.Fatal(err)
	}
	return w, uao
}

var sessionPathRe = regexp.MustCompile(`/veiledning/([0-9a-f-]{36})`)

// planSession plans a samtale as the veileder over HTTP and returns its path.
func planSession(t *testing.T, b *browser, base string, w *goalWorld, day string) string {
	t.Helper()
	_, _, page := b.get(base + "/veiledning")
	status, where, page := b.post(base+"/veiledning", url.Values{"_csrf": {csrfFrom(t, page)}, "lis": {w.lis.id.String()}, "date": {day},
		"time": {"14:30"}, "place": {"Møterom 3, Ortopedisk avdeling"}, "topics": {"Vaktbelastning"}, "goals": {"KLS-001"}})
	m := sessionPathRe.FindStringSubmatch(where)
	if status != 200 || m == nil || !strings.Contains(page, "Møterom 3") {
		t.Fatalf("planning: %d at %s\n%s", status, where, page)
	}
	return base + "/veiledning/" + m[1]
}

func saveText(t *testing.T, b *browser, path, kind, text string) (int, string) {
	t.Helper()
	_, _, page := b.get(path)
	status, _, page := b.post(path+"/tekst", url.Values{"_csrf": {csrfFrom(t, page)}, "kind": {kind}, "text": {text}})
	return status, page
}

// The samtale over HTTP: planning with its checks, both texts, completion by
// the veileder only, and a completed samtale refusing edits (409) while
// keeping what was typed on the page.
func TestAdvisoryOverHTTP(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	w, _ := advisoryWorld(t, cfg)
	base := "/t/" + w.tn.Slug
	vei, lis := goalLogin(t, srv.URL, w.veileder), goalLogin(t, srv.URL, w.lis)

	_, _, page := vei.get(base + "/veiledning")
	if !strings.Contains(page, `data-testid="plan-form"`) || !strings.Contains(page, "Lotte Testesen") {
		t.Fatalf("the veileder's page:\n%s", page)
	}
	status, _, page := vei.post(base+"/veiledning", url.Values{"_csrf": {csrfFrom(t, page)}, "lis": {w.lis.id.String()}, "date": {"i morgen"}, "place": {""}, "goals": {"PED-077"}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(page, "Oppgi dato og klokkeslett") || !strings.Contains(page, "Oppgi sted eller videolenke") ||
		!strings.Contains(page, "PED-077 er ikke i planen") {
		t.Fatalf("bad plan: %d\n%s", status, page)
	}
	// A date Go reads but PostgreSQL refuses is bad input too, not a failure of ours.
	status, _, page = vei.post(base+"/veiledning", url.Values{"_csrf": {csrfFrom(t, page)}, "lis": {w.lis.id.String()}, "date": {"0000-01-01"}, "time": {"10:00"}, "place": {"Rom 1"}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(page, "kan ikke lagres") {
		t.Fatalf("year 0: %d", status)
	}
	day := time.Now().In(web.Oslo).AddDate(0, 0, 1).Format("2006-01-02")
	path := planSession(t, vei, base, w, day)

	_, _, page = lis.get(base + "/veiledning")
	if !strings.Contains(page, path) {
		t.Fatalf("the LIS's list lacks the samtale:\n%s", page)
	}
	if status, page := saveText(t, lis, path, "preparation", "Jeg vil snakke om vaktene."); status != 200 || !strings.Contains(page, `data-testid="preparation-saved"`) {
		t.Fatalf("the LIS's forberedelse: %d\n%s", status, page)
	}
	if status, _ := saveText(t, vei, path, "preparation", "Se på prosedyrelisten."); status != 200 {
		t.Fatalf("the veileder's forberedelse: %d", status)
	}
	_, _, page = lis.get(path)
	if !strings.Contains(page, "Se på prosedyrelisten.") || !strings.Contains(page, "Jeg vil snakke om vaktene.</textarea>") || strings.Contains(page, `data-testid="complete"`) {
		t.Fatalf("the LIS reads the veileder's forberedelse:\n%s", page)
	}
	// The LIS may not complete: the guard stops them.
	if status, _, _ := lis.post(path+"/ferdigstill", url.Values{"_csrf": {csrfFrom(t, page)}}); status != http.StatusForbidden {
		t.Fatalf("the LIS completes: %d", status)
	}
	_, _, page = vei.get(path)
	if status, _, page := vei.post(path+"/ferdigstill", url.Values{"_csrf": {csrfFrom(t, page)}}); status != http.StatusConflict || !strings.Contains(page, "Skriv et referat") {
		t.Fatalf("complete without a referat: %d\n%s", status, page)
	}
	if status, _ := saveText(t, vei, path, "minutes", "Avtalt: flere artroskopier."); status != 200 {
		t.Fatalf("referat: %d", status)
	}
	_, _, page = vei.get(path)
	if status, _, page := vei.post(path+"/ferdigstill", url.Values{"_csrf": {csrfFrom(t, page)}}); status != 200 || !strings.Contains(page, `data-testid="completed-notice"`) ||
		!strings.Contains(page, `data-testid="read-only"`) || strings.Contains(page, "<textarea") {
		t.Fatalf("completing: %d\n%s", status, page)
	}
	status, page = saveText(t, lis, path, "minutes", "Et tillegg jeg skrev etterpå")
	if status != http.StatusConflict || !strings.Contains(page, "Samtalen er ferdigstilt og kan ikke endres lenger.") {
		t.Fatalf("editing a completed samtale: %d\n%s", status, page)
	}
	if !strings.Contains(page, "Et tillegg jeg skrev etterpå") {
		t.Fatalf("the refused text is gone from the page:\n%s", page)
	}
	_, _, page = lis.get(path)
	if strings.Contains(page, "Et tillegg jeg skrev etterpå") || !strings.Contains(page, "Avtalt: flere artroskopier.") {
		t.Fatalf("after the refused edit:\n%s", page)
	}
	// API clients get the same refusal as JSON.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+path+"/tekst", strings.NewReader(url.Values{"_csrf": {csrfFrom(t, page)}, "kind": {"minutes"}, "text": {"x"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Session-Token", sessionToken(t, cfg, w.lis.email, w.lis.password))
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("API edit of a completed samtale: %d", resp.StatusCode)
	}
}

// The referat is the LIS's and the veileder's: the leder, the UAO, another
// veileder in the tenant and another tenant's veileder get 404 and never see
// its text; the leder and UAO see date and status. Nobody reaches it through
// another tenant.
func TestAdvisoryPrivacyIsolationOverHTTP(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	w, uao := advisoryWorld(t, cfg)
	base := "/t/" + w.tn.Slug
	vei := goalLogin(t, srv.URL, w.veileder)
	path := planSession(t, vei, base, w, time.Now().In(web.Oslo).Format("2006-01-02"))
	const secret = "Fortrolig: LIS vurderer å bytte spesialitet."
	if status, _ := saveText(t, vei, path, "minutes", secret); status != 200 {
		t.Fatalf("referat: %d", status)
	}
	var other goalUser
	other.email, other.password, other.id = member(t, cfg, "Olav", w.tn, "veileder")
	// Another tenant's veileder, who is also this LIS's veileder there, and
	// the LIS's own veileder acting through that tenant.
	b := testTenant(t, "Helse Annen HF", tenants.KindHF)
	var far goalUser
	far.email, far.password, far.id = member(t, cfg, "Frida", b, "veileder")
	err := tenants.WithTenantTx(context.Background(), testenv.Get(t).App, tenants.Scope{TenantID: b.ID}, func(ctx context.Context, tx bun.Tx) error {
		if err := tenants.SetRelation(ctx, tx, b.ID, w.lis.id, tenants.RelVeileder, far.id, tenants.Actor{Name: "test"}); err != nil {
			return err
		}
		return tenants.GrantRole(ctx, tx, b.ID, w.veileder.id, "veileder", tenants.Actor{Name: "test"})
	})
	if err != nil {
		t.Fatal(err)
	}
	id := path[strings.LastIndex(path, "/")+1:]
	for _, c := range []struct {
		who  string
		u    goalUser
		base string
	}{{"leder", w.leder, base}, {"UAO", uao, base}, {"another veileder", other, base}, {"another tenant's veileder", far, "/t/" + b.Slug},
		{"the veileder through another tenant", w.veileder, "/t/" + b.Slug}} {
		br := goalLogin(t, srv.URL, c.u)
		status, _, page := br.get(c.base + "/veiledning/" + id)
		if status != http.StatusNotFound || strings.Contains(page, secret) {
			t.Errorf("%s opens the samtale: %d", c.who, status)
		}
		if c.u != w.veileder {
			if status, _, _ := br.post(c.base+"/veiledning/"+id+"/tekst", url.Values{"_csrf": {csrfFrom(t, page)}, "kind": {"minutes"}, "text": {"x"}}); status != http.StatusNotFound && status != http.StatusForbidden {
				t.Errorf("%s writes: %d", c.who, status)
			}
		}
		for _, p := range []string{"/veiledning", "/mine-lis", "/utdanningsoversikt"} {
			if _, _, page := br.get(c.base + p); strings.Contains(page, secret) || strings.Contains(page, "/veiledning/"+id) {
				t.Errorf("%s finds the referat or a link to it on %s", c.who, p)
			}
		}
	}
	// Date and status, no text, for the leder and the UAO.
	for _, u := range []goalUser{w.leder, uao} {
		_, _, page := goalLogin(t, srv.URL, u).get(base + "/veiledning")
		if !strings.Contains(page, `data-testid="session-status" data-color="info">Planlagt`) || strings.Contains(page, "Møterom 3") || strings.Contains(page, "Vaktbelastning") {
			t.Errorf("%s's list of samtaler:\n%s", u.email, page)
		}
	}
	if _, _, page := goalLogin(t, srv.URL, w.lis).get(path); !strings.Contains(page, secret) {
		t.Fatalf("the LIS cannot read the referat:\n%s", page)
	}
}

// The UAO's overview per specialty and the veileder's: figures, last samtale,
// overdue by the tenant's setting, sorting and filtering, and the CSV export.
func TestProgressOverviews(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	w, uao := advisoryWorld(t, cfg)
	base := "/t/" + w.tn.Slug
	ctx := context.Background()
	db := testenv.Get(t).App
	// A second LIS in the specialty, with no plan and no veileder; one goal approved for Lotte.
	var ny goalUser
	ny.email, ny.password, ny.id = member(t, cfg, "Åse", w.tn, "lis")
	err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: w.tn.ID}, func(ctx context.Context, tx bun.Tx) error {
		if err := tenants.SetSpecialties(ctx, tx, w.tn.ID, ny.id, "lis", []string{"ORT"}); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO goal_progress (tenant_id, lis_id, goal_code, version_id, status, decided_by, decided_at)
			SELECT tenant_id, lis_id, 'KLS-002', version_id, 'approved', ?, now() FROM plan_assignments WHERE tenant_id = ? AND lis_id = ?`, w.leder.id, w.tn.ID, w.lis.id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	vei := goalLogin(t, srv.URL, w.veileder)
	day := time.Now().In(web.Oslo).AddDate(0, 0, 2)
	planSession(t, vei, base, w, day.Format("2006-01-02"))

	u := goalLogin(t, srv.URL, uao)
	status, _, page := u.get(base + "/utdanningsoversikt")
	if status != 200 || !strings.Contains(page, `data-testid="group-ORT"`) || strings.Count(page, `data-testid="lis-row"`) != 2 {
		t.Fatalf("UAO overview: %d\n%s", status, page)
	}
	rows := strings.Split(page, `data-testid="lis-row"`)[1:]
	lotte, aase := rows[0], rows[1]
	if !strings.Contains(lotte, "Lotte") {
		t.Fatalf("rows not sorted by name:\n%s", page)
	}
	for _, want := range []string{`data-testid="goals">1 av 3`, day.Format("2.1.2006"), ">Planlagt<", "veileder Vegard Testesen", "LIS1 sykehus"} {
		if !strings.Contains(lotte, want) {
			t.Fatalf("Lotte's row lacks %q:\n%s", want, lotte)
		}
	}
	if strings.Contains(lotte, `data-testid="overdue"`) {
		t.Fatalf("Lotte, with a new plan, is overdue:\n%s", lotte)
	}
	// Åse has no plan and never had a samtale: overdue at once.
	if !strings.Contains(aase, "Ingen aktiv plan") || !strings.Contains(aase, `data-testid="overdue"`) || !strings.Contains(aase, `data-testid="goals">0 av 0`) {
		t.Fatalf("Åse's row:\n%s", aase)
	}
	if _, _, page := u.get(base + "/utdanningsoversikt?forsinket=1"); strings.Count(page, `data-testid="lis-row"`) != 1 || !strings.Contains(page, "Åse") {
		t.Fatalf("filtered to overdue:\n%s", page)
	}
	if _, _, page := u.get(base + "/utdanningsoversikt?q=lott"); strings.Count(page, `data-testid="lis-row"`) != 1 || !strings.Contains(page, "Lotte") {
		t.Fatalf("searched:\n%s", page)
	}
	_, _, asc := u.get(base + "/utdanningsoversikt?sorter=maal&retning=asc")
	_, _, desc := u.get(base + "/utdanningsoversikt?sorter=maal&retning=desc")
	if strings.Index(asc, "Åse Testesen") > strings.Index(asc, "Lotte Testesen") || strings.Index(desc, "Lotte Testesen") > strings.Index(desc, "Åse Testesen") {
		t.Fatal("sorting by goals approved does not order the rows")
	}
	if !strings.Contains(desc, `aria-sort="descending"`) {
		t.Fatal("the sorted column is not marked")
	}

	resp, err := u.c.Get(srv.URL + base + "/utdanningsoversikt/csv?sorter=navn")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csv := string(raw)
	if resp.StatusCode != 200 || !strings.HasPrefix(csv, "\uFEFFSpesialitet;LIS;E-post;Plan;Veileder;Godkjente læringsmål;") ||
		!strings.Contains(resp.Header.Get("Content-Type"), "text/csv") || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("CSV: %d %v\n%s", resp.StatusCode, resp.Header, csv)
	}
	lines := strings.Split(strings.TrimSpace(csv), "\r\n")
	if len(lines) != 3 || !strings.Contains(csv, ";Lotte Testesen;"+w.lis.email+";LIS1 sykehus;Vegard Testesen;1;3;0;0;"+day.Format("02.01.2006")+";Planlagt;Nei") ||
		!strings.Contains(csv, ";Åse Testesen;") || !strings.Contains(csv, ";Ja\r\n") {
		t.Fatalf("CSV rows:\n%s", csv)
	}

	// The veileder's own overview: only their LIS.
	_, _, page = vei.get(base + "/mine-lis")
	if strings.Count(page, `data-testid="lis-row"`) != 1 || !strings.Contains(page, "Lotte Testesen") || !strings.Contains(page, `data-testid="goals">1 av 3`) ||
		!strings.Contains(page, "/veiledning?lis="+w.lis.id.String()) {
		t.Fatalf("Mine LIS:\n%s", page)
	}
	if _, _, page := vei.get(base + "/veiledning?lis=" + w.lis.id.String()); !strings.Contains(page, `value="`+w.lis.id.String()+`" selected`) {
		t.Fatalf("planning from Mine LIS does not choose the LIS:\n%s", page)
	}
	// The leder sees the same figures, without planning.
	if _, _, page := goalLogin(t, srv.URL, w.leder).get(base + "/mine-lis"); !strings.Contains(page, `data-testid="goals">1 av 3`) || strings.Contains(page, `data-testid="plan-for"`) {
		t.Fatalf("the leder's Mine LIS:\n%s", page)
	}
	// The tenant's setting makes Lotte overdue once a period has passed: with
	// one month and a plan assigned two months ago.
	err = tenants.WithTenantTx(ctx, testenv.Get(t).Owner, tenants.Scope{TenantID: w.tn.ID}, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE plan_assignments SET assigned_at = now() - interval '2 months' WHERE tenant_id = ? AND lis_id = ?", w.tn.ID, w.lis.id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var admin goalUser
	admin.email, admin.password, admin.id = member(t, cfg, "Anne", w.tn, "tenant_admin")
	ab := goalLogin(t, srv.URL, admin)
	_, _, page = ab.get(base + "/admin/veiledning")
	if !strings.Contains(page, `value="6"`) {
		t.Fatalf("the default setting:\n%s", page)
	}
	if status, _, page := ab.post(base+"/admin/veiledning", url.Values{"_csrf": {csrfFrom(t, page)}, "months": {"30"}}); status != http.StatusUnprocessableEntity || !strings.Contains(page, "mellom 1 og 24") {
		t.Fatalf("30 months: %d\n%s", status, page)
	}
	if status, _, _ := ab.post(base+"/admin/veiledning", url.Values{"_csrf": {csrfFrom(t, page)}, "months": {"1"}}); status != 200 {
		t.Fatalf("saving the setting: %d", status)
	}
	if _, _, page := vei.get(base + "/mine-lis"); !strings.Contains(page, `data-testid="overdue"`) {
		t.Fatalf("Lotte is not overdue after a month's setting:\n%s", page)
	}
}

// The journey in a phone-sized Chromium: the veileder plans a
// samtale, the LIS writes the forberedelse, the veileder writes the referat
// and completes it; the UAO sees the new date and status but gets 404 for the samtale.
func TestBrowserAdvisoryJourney(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	w, uao := advisoryWorld(t, cfg)
	base := srv.URL + "/t/" + w.tn.Slug
	ctx := chromium(t)
	loginAs := func(u goalUser) steps { return loginSteps(u.email, u.password) }
	logout := logoutSteps
	do := func(name string, parts ...steps) error { return stepwise(t, ctx, name, parts...) }
	day := time.Now().In(web.Oslo).AddDate(0, 0, 1)
	const referat = "Avtalt: ti artroskopier før neste samtale."
	err := do("advisory-plan",
		steps{chromedp.Navigate(base + "/veiledning")}, loginAs(w.veileder),
		steps{chromedp.WaitVisible(chromedp.CSS(`[data-testid="plan-form"]`)),
			chromedp.SetValue(chromedp.CSS(`#date`), day.Format("2006-01-02")),
			chromedp.SetValue(chromedp.CSS(`#time`), "13:15"),
			chromedp.SendKeys(chromedp.CSS(`#place`), "https://video.helse.no/rom/7"),
			chromedp.SendKeys(chromedp.CSS(`#topics`), "Prosedyrer og vaktbelastning"),
			chromedp.Click(chromedp.CSS(`[data-testid="plan"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#text-preparation`))},
	)
	if err != nil {
		t.Fatal(err)
	}
	var sessionURL string
	if sessionURL, err = chromedp.Run(ctx, chromedp.Location()); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "advisory-planned")
	err = do("advisory-prepare", logout,
		steps{chromedp.Navigate(base + "/veiledning")}, loginAs(w.lis),
		steps{chromedp.WaitVisible(chromedp.CSS(`[data-testid="session-link"]`)),
			chromedp.Click(chromedp.CSS(`[data-testid="session-link"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#text-preparation`)),
			chromedp.SendKeys(chromedp.CSS(`#text-preparation`), "Jeg vil snakke om vaktene."),
			chromedp.Click(chromedp.CSS(`[data-testid="save-preparation"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="preparation-saved"]`))},
	)
	if err != nil {
		t.Fatal(err)
	}
	err = do("advisory-complete", logout,
		steps{chromedp.Navigate(sessionURL)}, loginAs(w.veileder),
		steps{chromedp.WaitVisible(chromedp.CSS(`[data-testid="preparation-other"]`)),
			chromedp.SendKeys(chromedp.CSS(`#text-minutes`), referat),
			chromedp.Click(chromedp.CSS(`[data-testid="save-minutes"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="minutes-saved"]`)),
			chromedp.Click(chromedp.CSS(`[data-testid="complete"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="completed-notice"]`))},
	)
	if err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "advisory-completed")
	err = do("advisory-uao", logout,
		steps{chromedp.Navigate(base + "/utdanningsoversikt")}, loginAs(uao),
		steps{chromedp.WaitVisible(chromedp.CSS(`[data-testid="lis-row"]`))},
	)
	var date, status string
	if err == nil {
		date, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid="lis-row"] [data-testid="last-date"]`)))
	}
	if err == nil {
		status, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid="lis-row"] [data-testid="last-status"]`)))
	}
	if err != nil || date != day.Format("2.1.2006") || status != "Ferdigstilt" {
		screenshot(t, ctx, "advisory-uao")
		t.Fatalf("the UAO sees %q %q, %v", date, status, err)
	}
	screenshot(t, ctx, "advisory-uao-overview")
	err = do("advisory-uao-404", steps{chromedp.Navigate(sessionURL), chromedp.WaitVisible(chromedp.CSS(`[data-testid="error-message"]`))})
	var heading, body string
	if err == nil {
		heading, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`h1`)))
	}
	if err == nil {
		body, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`body`)))
	}
	if err != nil || heading != "Fant ikke siden" || strings.Contains(body, referat) || !strings.Contains(body, "Feilkode 404") {
		screenshot(t, ctx, "advisory-uao-404")
		t.Fatalf("the UAO opening the samtale: %q, %v", heading, err)
	}
}

// A LIS who moves to another helseforetak of the same RHF: the new veileder
// there reads the earlier samtaler, read-only; a helseforetak of another RHF
// sees nothing.
func TestIsolationAdvisorySameRHFHistoryOverHTTP(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	withRefData(t)
	w, _ := advisoryWorld(t, cfg)
	owner := testenv.Get(t).Owner
	near, far := testTenant(t, "Helse Nær HF", tenants.KindHF), testTenant(t, "Helse Fjern HF", tenants.KindHF)
	for id, rhf := range map[string]string{w.tn.ID.String(): "HV", near.ID.String(): "HV", far.ID.String(): "HN"} {
		if _, err := owner.ExecContext(context.Background(), "UPDATE tenants SET rhf_code = ? WHERE id = ?", rhf, id); err != nil {
			t.Fatal(err)
		}
	}
	path := planSession(t, goalLogin(t, srv.URL, w.veileder), "/t/"+w.tn.Slug, w, time.Now().In(web.Oslo).Format("2006-01-02"))
	const referat = "Avtalt: mer tid på poliklinikken."
	if status, _ := saveText(t, goalLogin(t, srv.URL, w.veileder), path, "minutes", referat); status != 200 {
		t.Fatalf("referat: %d", status)
	}
	id := path[strings.LastIndex(path, "/")+1:]
	newVeileder := func(tn *tenants.Tenant, given string) *browser {
		var u goalUser
		u.email, u.password, u.id = member(t, cfg, given, tn, "veileder")
		err := tenants.WithTenantTx(context.Background(), testenv.Get(t).App, tenants.Scope{TenantID: tn.ID}, func(ctx context.Context, tx bun.Tx) error {
			return tenants.SetRelation(ctx, tx, tn.ID, w.lis.id, tenants.RelVeileder, u.id, tenants.Actor{Name: "test"})
		})
		if err != nil {
			t.Fatal(err)
		}
		return goalLogin(t, srv.URL, u)
	}
	nb := newVeileder(near, "Nora")
	_, _, page := nb.get("/t/" + near.Slug + "/veiledning")
	if !strings.Contains(page, "/t/"+near.Slug+"/veiledning/"+id) || !strings.Contains(page, w.tn.Name) {
		t.Fatalf("the new veileder's list:\n%s", page)
	}
	status, _, page := nb.get("/t/" + near.Slug + "/veiledning/" + id)
	if status != 200 || !strings.Contains(page, referat) || !strings.Contains(page, "kan bare leses her") || strings.Contains(page, "<textarea") {
		t.Fatalf("the new veileder reads: %d\n%s", status, page)
	}
	if status, _, _ := nb.post("/t/"+near.Slug+"/veiledning/"+id+"/tekst", url.Values{"_csrf": {csrfFrom(t, page)}, "kind": {"minutes"}, "text": {"endret"}}); status != http.StatusNotFound {
		t.Fatalf("the new veileder writes through the other helseforetak: %d", status)
	}
	fb := newVeileder(far, "Fredrik")
	if status, _, page := fb.get("/t/" + far.Slug + "/veiledning/" + id); status != http.StatusNotFound || strings.Contains(page, referat) {
		t.Fatalf("a veileder in another RHF: %d", status)
	}
	if _, _, page := fb.get("/t/" + far.Slug + "/veiledning"); strings.Contains(page, id) {
		t.Fatalf("a veileder in another RHF lists the samtale:\n%s", page)
	}
}

// The overviews are per tenant: a UAO of another helseforetak covering the
// same specialty sees none of this one's LIS, on the page or in the CSV, and
// gets 404 for this tenant's overview.
func TestIsolationProgressOverviews(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	w, _ := advisoryWorld(t, cfg)
	other := testTenant(t, "Annet foretak HF", tenants.KindHF)
	var uao goalUser
	uao.email, uao.password, uao.id = member(t, cfg, "Olga", other, "uao")
	if err := tenants.WithTenantTx(context.Background(), testenv.Get(t).App, tenants.Scope{TenantID: other.ID}, func(ctx context.Context, tx bun.Tx) error {
		return tenants.SetSpecialties(ctx, tx, other.ID, uao.id, "uao", []string{"ORT"})
	}); err != nil {
		t.Fatal(err)
	}
	u := goalLogin(t, srv.URL, uao)
	for _, path := range []string{"/utdanningsoversikt", "/utdanningsoversikt/csv"} {
		status, _, page := u.get("/t/" + other.Slug + path)
		if status != 200 || strings.Contains(page, "Lotte") || strings.Contains(page, w.lis.email) {
			t.Fatalf("%s in the other tenant: %d\n%s", path, status, page)
		}
		if status, _, _ := u.get("/t/" + w.tn.Slug + path); status != http.StatusNotFound {
			t.Fatalf("%s of the first tenant: %d", path, status)
		}
	}
}
