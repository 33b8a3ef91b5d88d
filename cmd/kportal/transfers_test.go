package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/history/historytest"
	"kportal/storage/testenv"
	"kportal/tenants"
)

// goalCatalog publishes a catalogue version with KLS goals (code → text).
func goalCatalog(t *testing.T, goals map[string]string) int {
	t.Helper()
	db := testenv.Get(t).App
	ctx := context.Background()
	var version int
	if err := db.NewRaw("INSERT INTO catalog_versions (label, published_at) VALUES (?, now()) RETURNING id", "test-"+uuid.NewString()[:8]).Scan(ctx, &version); err != nil {
		t.Fatal(err)
	}
	for code, text := range goals {
		if _, err := db.ExecContext(ctx, "INSERT INTO goals (version_id, code, text, plan) VALUES (?, ?, ?, 'KLS')", version, code, text); err != nil {
			t.Fatal(err)
		}
	}
	return version
}

// goalPlan makes a LIS1 plan template of tn in version with the goals.
func goalPlan(t *testing.T, tn *tenants.Tenant, version int, name string, codes ...string) uuid.UUID {
	t.Helper()
	var tpl uuid.UUID
	err := tenants.WithTenantTx(context.Background(), testenv.Get(t).App, tenants.Scope{TenantID: tn.ID}, func(ctx context.Context, tx bun.Tx) error {
		if err := tx.NewRaw("INSERT INTO plan_templates (tenant_id, name, specialty, version_id) VALUES (?, ?, 'LIS1', ?) RETURNING id", tn.ID, name, version).Scan(ctx, &tpl); err != nil {
			return err
		}
		for _, c := range codes {
			if _, err := tx.ExecContext(ctx, "INSERT INTO plan_template_goals (tenant_id, template_id, goal_code) VALUES (?, ?, ?)", tn.ID, tpl, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// moveWorld: Kari is LIS at a Helse Vest hospital with a record; a second
// Helse Vest hospital ("Førde") has a plan template, a tenant admin and a
// leder; a hospital in another RHF has its own admin.
type moveWorld struct {
	bergen, forde, ous              *tenants.Tenant
	kariEmail, kariPassword         string
	kari, per                       uuid.UUID
	adminEmail, adminPassword       string
	lederEmail, lederPassword       string
	perEmail, perPassword           string
	ousAdminEmail, ousAdminPassword string
	template                        uuid.UUID
	rec                             historytest.Record
	forderLeder                     uuid.UUID
}

func newMoveWorld(t *testing.T, cfg *config) *moveWorld {
	t.Helper()
	withRefData(t)
	db := testenv.Get(t).App
	hf := func(name, rhf string) *tenants.Tenant {
		tn := &tenants.Tenant{Slug: "t-" + uuid.NewString()[:8], Name: name, Kind: tenants.KindHF, RHFCode: rhf}
		if err := tenants.Create(context.Background(), db, tn); err != nil {
			t.Fatal(err)
		}
		return tn
	}
	w := &moveWorld{bergen: hf("Bergen HF", "HV"), forde: hf("Førde HF", "HV"), ous: hf("Oslo HF", "HSO")}
	w.kariEmail, w.kariPassword, w.kari = member(t, cfg, "Kari", w.bergen, "lis")
	w.perEmail, w.perPassword, w.per = member(t, cfg, "Per", w.bergen, "leder")
	_, _, ola := member(t, cfg, "Ola", w.bergen, "supervisor")
	w.rec = historytest.Write(t, db, w.bergen.ID, w.kari, w.per, ola, "FLYTT")
	err := tenants.WithTenantTx(context.Background(), db, tenants.Scope{TenantID: w.bergen.ID}, func(ctx context.Context, tx bun.Tx) error {
		return tenants.SetRelation(ctx, tx, w.bergen.ID, w.kari, tenants.RelLeder, w.per, tenants.Actor{Name: "test"})
	})
	if err != nil {
		t.Fatal(err)
	}
	w.adminEmail, w.adminPassword, _ = member(t, cfg, "Anne", w.forde, "tenant_admin")
	w.lederEmail, w.lederPassword, w.forderLeder = member(t, cfg, "Frida", w.forde, "leder")
	w.ousAdminEmail, w.ousAdminPassword, _ = member(t, cfg, "Oskar", w.ous, "tenant_admin")
	err = tenants.WithTenantTx(context.Background(), db, tenants.Scope{TenantID: w.forde.ID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw(`INSERT INTO plan_templates (tenant_id, name, specialty, version_id)
			VALUES (?, 'Ortopedi Førde', 'ORT', (SELECT max(id) FROM catalog_versions)) RETURNING id`, w.forde.ID).Scan(ctx, &w.template)
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// The new workplace's admin registers an arrival over HTTP: bad input is
// refused in Norwegian with what was typed kept; the move runs (worker); the
// old workplace's leder sees that Kari left and when, and nothing more;
// another RHF's admin gets 404 for the move; Kari reads it in Min utdanning.
func TestTransferIsolationRegisterOverHTTP(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, true)
	w := newMoveWorld(t, cfg)
	base := "/t/" + w.forde.Slug + "/arbeidsstedsbytte"

	admin := newBrowser(t, srv.URL)
	login(t, admin, w.adminEmail, w.adminPassword)
	status, _, page := admin.get(base)
	if status != http.StatusOK {
		t.Fatalf("%s: %d", base, status)
	}
	today := time.Now().In(time.UTC).Format("2006-01-02")
	csrf := csrfFrom(t, page)
	status, _, page = admin.post(base, url.Values{"_csrf": {csrf}, "who": {"123456789"}, "starts_on": {today}, "template": {w.template.String()}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(page, "Fant ingen lege med HPR-nummer 123456789") || !strings.Contains(page, `value="123456789"`) {
		t.Fatalf("unknown HPR number: %d\n%s", status, page)
	}
	status, where, page := admin.post(base, url.Values{"_csrf": {csrf}, "who": {w.kariEmail}, "starts_on": {today}, "template": {w.template.String()}})
	if status != http.StatusOK || !strings.HasPrefix(where, base+"/") {
		t.Fatalf("register: %d %s\n%s", status, where, page)
	}
	movePath := where
	id := strings.TrimPrefix(movePath, base+"/")
	testenv.WaitFor(t, 20*time.Second, "the move's sync job", func() bool {
		_, _, page = admin.get(movePath)
		return strings.Contains(page, `data-testid="report"`)
	})
	if !strings.Contains(page, "Gjennomført") || !strings.Contains(page, "Godkjente læringsmål som står som godkjent her: 1") {
		t.Fatalf("the move's page after the sync:\n%s", page)
	}

	// The old workplace's leder sees that Kari left, and when; not the plan
	// or the report.
	per := newBrowser(t, srv.URL)
	login(t, per, w.perEmail, w.perPassword)
	// Per is leder at Bergen; the list is for leder and tenant admin.
	status, _, page = per.get("/t/" + w.bergen.Slug + "/arbeidsstedsbytte")
	if status != http.StatusOK || !strings.Contains(page, `data-testid="left-row"`) || !strings.Contains(page, "Førde HF") {
		t.Fatalf("the old workplace's list: %d\n%s", status, page)
	}
	status, _, page = per.get("/t/" + w.bergen.Slug + "/arbeidsstedsbytte/" + id)
	if status != http.StatusOK || strings.Contains(page, "Ortopedi Førde") || strings.Contains(page, `data-testid="report"`) {
		t.Fatalf("the old workplace's view of the move: %d\n%s", status, page)
	}
	_, _, page = per.get("/t/" + w.bergen.Slug + "/mine-lis")
	if !strings.Contains(page, `data-testid="lis-left"`) || !strings.Contains(page, "begynte ved Førde HF") {
		t.Fatalf("Mine LIS at the old workplace does not say Kari left:\n%s", page)
	}
	// Another RHF's admin: 404, in their own tenant and in Førde's.
	ous := newBrowser(t, srv.URL)
	login(t, ous, w.ousAdminEmail, w.ousAdminPassword)
	if status, _, _ := ous.get("/t/" + w.ous.Slug + "/arbeidsstedsbytte/" + id); status != http.StatusNotFound {
		t.Fatalf("another RHF's admin opened the move: %d", status)
	}
	if status, _, _ := ous.get(movePath); status != http.StatusNotFound && status != http.StatusForbidden {
		t.Fatalf("another tenant's admin in Førde's URL: %d", status)
	}
	// Kari: Min utdanning shows the move; Førde's goal list has her approval.
	kari := newBrowser(t, srv.URL)
	login(t, kari, w.kariEmail, w.kariPassword)
	// Her Bergen record is ended: new work there is refused, kindly, what she
	// typed kept.
	bergen := "/t/" + w.bergen.Slug
	_, _, page = kari.get(bergen + "/aktiviteter/ny")
	status, _, page = kari.post(bergen+"/aktiviteter", url.Values{"_csrf": {csrfFrom(t, page)}, "kind": {"course"}, "title": {"Kurs etter flyttingen"}, "done_on": {today}})
	if status != http.StatusConflict && status != http.StatusUnprocessableEntity || !strings.Contains(page, "Du har flyttet til Førde HF") || !strings.Contains(page, "Kurs etter flyttingen") {
		t.Fatalf("an activity at the old workplace after the move: %d\n%s", status, page)
	}
	_, _, page = kari.get(bergen + "/etterregistrering")
	status, _, page = kari.post(bergen+"/etterregistrering", url.Values{"_csrf": {csrfFrom(t, page)}, "code": {"KLS-001"}, "completed_on": {today},
		"comment": {"I Sverige"}, "approver": {w.per.String()}})
	if status != http.StatusConflict && status != http.StatusUnprocessableEntity || !strings.Contains(page, "Du har flyttet til Førde HF") {
		t.Fatalf("etterregistrering at the old workplace after the move: %d\n%s", status, page)
	}
	_, _, page = kari.get("/min-utdanning")
	if !strings.Contains(page, `data-testid="history-move"`) || !strings.Contains(page, "Bergen HF → Førde HF") || !strings.Contains(page, `data-testid="history-carried"`) {
		t.Fatalf("Min utdanning after the move:\n%s", page)
	}
}

// The journey at phone size: the admin at Førde registers Kari's arrival →
// Kari sees her goal approved at Bergen approved in the new plan, and her
// Bergen activity under "Tidligere arbeidssted" on another goal, which she
// sends → Frida, the new leder, approves it while seeing the Bergen basis.
func TestTransferBrowserJourney(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, true)
	w := newMoveWorld(t, cfg)
	db := testenv.Get(t).App
	ctx := context.Background()
	version := goalCatalog(t, map[string]string{"KLS-101": "Kan ta opp sykehistorie", "KLS-102": "Kan håndtere akutt syke"})
	bergenPlan := goalPlan(t, w.bergen, version, "LIS1 sykehusdel", "KLS-101", "KLS-102")
	fordePlan := goalPlan(t, w.forde, version, "LIS1 sykehusdel", "KLS-101", "KLS-102")
	err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: w.bergen.ID}, func(ctx context.Context, tx bun.Tx) error {
		// Kari's record at Bergen: KLS-101 approved by Per; a course for KLS-102 signed by Per.
		var asg, act uuid.UUID
		if err := tx.NewRaw("INSERT INTO plan_assignments (tenant_id, lis_id, template_id, version_id) VALUES (?, ?, ?, ?) RETURNING id", w.bergen.ID, w.kari, bergenPlan, version).Scan(ctx, &asg); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO goal_progress (tenant_id, lis_id, assignment_id, goal_code, version_id, status, decided_by, decided_at, basis)
			VALUES (?, ?, ?, 'KLS-101', ?, 'approved', ?, now() - interval '30 days', '{"activities": [], "inputs": []}')`, w.bergen.ID, w.kari, asg, version, w.per); err != nil {
			return err
		}
		if err := tx.NewRaw(`INSERT INTO activities (tenant_id, lis_id, assignment_id, kind, title, done_on, goal_codes, status, supervisor_id)
			VALUES (?, ?, ?, 'course', 'Kurs i akuttmedisin', current_date - 20, '{KLS-102}', 'signed', ?) RETURNING id`, w.bergen.ID, w.kari, asg, w.per).Scan(ctx, &act); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO signatures (tenant_id, activity_id, supervisor_id, decision, snapshot) VALUES (?, ?, ?, 'signed', '{}')`, w.bergen.ID, act, w.per)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	base := srv.URL + "/t/" + w.forde.Slug
	bctx := chromium(t)
	do := func(name string, ss steps) {
		t.Helper()
		if err := stepwise(t, bctx, name, ss); err != nil {
			t.Fatal(err)
		}
	}
	today := time.Now().In(time.UTC).Format("2006-01-02")
	do("transfer-register", seq(
		steps{chromedp.Navigate(base + "/arbeidsstedsbytte")},
		loginSteps(w.adminEmail, w.adminPassword),
		steps{chromedp.WaitVisible(chromedp.CSS(`[data-testid="arrival-form"]`)),
			chromedp.SendKeys(chromedp.CSS(`#who`), w.kariEmail),
			chromedp.SetValue(chromedp.CSS(`#starts_on`), today),
			chromedp.SetValue(chromedp.CSS(`#template`), fordePlan.String()),
			chromedp.SetValue(chromedp.CSS(`#leder`), w.forderLeder.String()),
			chromedp.Click(chromedp.CSS(`[data-testid="register"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="transfer"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="report"]`))},
	))
	screenshot(t, bctx, "transfer-report")
	do("transfer-lis", seq(
		logoutSteps,
		steps{chromedp.Navigate(base + "/laeringsmaal")},
		loginSteps(w.kariEmail, w.kariPassword),
		steps{chromedp.WaitVisible(chromedp.CSS(`[data-testid="goal-KLS-101"]`))},
	))
	status, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`[data-testid="goal-KLS-101"] [data-testid="goal-status"]`)))
	if err != nil || status != "Godkjent" {
		t.Fatalf("KLS-101 in the new plan: %q %v", status, err)
	}
	do("transfer-earlier", steps{
		chromedp.Click(chromedp.CSS(`[data-testid="goal-KLS-102"] a`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="earlier-activities"]`)),
	})
	earlier, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`[data-testid="earlier"]`)))
	if err != nil || !strings.Contains(earlier, "Kurs i akuttmedisin") || !strings.Contains(earlier, "Bergen HF") {
		t.Fatalf("Tidligere arbeidssted on KLS-102: %q %v", earlier, err)
	}
	screenshot(t, bctx, "transfer-earlier")
	do("transfer-send", steps{
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="send-form"]`)),
		chromedp.SetValue(chromedp.CSS(`#approver`), w.forderLeder.String()),
		chromedp.Click(chromedp.CSS(`[data-testid="send"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="recall"]`)),
	})
	do("transfer-approve", seq(
		logoutSteps,
		steps{chromedp.Navigate(base + "/godkjenning")},
		loginSteps(w.lederEmail, w.lederPassword),
		steps{chromedp.WaitVisible(chromedp.CSS(`[data-testid="queue"] a`)),
			chromedp.Click(chromedp.CSS(`[data-testid="queue"] a`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="basis-earlier"]`))},
	))
	basis, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`[data-testid="earlier"]`)))
	if err != nil || !strings.Contains(basis, "Kurs i akuttmedisin") || !strings.Contains(basis, "Bergen HF") {
		t.Fatalf("the leder's basis: %q %v", basis, err)
	}
	screenshot(t, bctx, "transfer-case")
	do("transfer-decide", steps{
		chromedp.Click(chromedp.CSS(`#confirm`)),
		chromedp.Click(chromedp.CSS(`[data-testid="decide"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="decided"]`)),
	})
	if n := testenv.Count(t, db, w.forde.ID, "SELECT count(*) FROM goal_progress WHERE tenant_id = ? AND lis_id = ? AND goal_code = 'KLS-102' AND status = 'approved' AND basis::text LIKE '%Kurs i akuttmedisin%'", w.forde.ID, w.kari); n != 1 {
		t.Fatal("the approval's frozen basis lacks the Bergen activity")
	}
}
