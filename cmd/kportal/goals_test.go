package main

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/storage/testenv"
	"kportal/tenants"
)

// goalWorld is a hospital with a LIS, their leder, a delegate of the leder
// and (when asked) a veileder and a supervisor, and a plan of three goals.
type goalWorld struct {
	tn                                  *tenants.Tenant
	lis, leder, delegate, veileder, sup goalUser
	arena                               uuid.UUID
}

type goalUser struct {
	email, password string
	id              uuid.UUID
}

func goalSetup(t *testing.T, cfg *config, advisers bool) *goalWorld {
	t.Helper()
	db := testenv.Get(t).App
	ctx := context.Background()
	w := &goalWorld{tn: testTenant(t, "Helse Mål HF", tenants.KindHF)}
	mk := func(given string) goalUser {
		e, p := newUser(t, cfg, given)
		return goalUser{email: e, password: p, id: personFor(t, cfg, e)}
	}
	w.lis, w.leder, w.delegate = mk("Lotte"), mk("Lars"), mk("Dagny")
	if advisers {
		w.veileder, w.sup = mk("Vegard"), mk("Siri")
	}
	var version int
	if err := db.NewRaw("INSERT INTO catalog_versions (label, published_at) VALUES (?, now()) RETURNING id", "goal-"+uuid.NewString()[:8]).Scan(ctx, &version); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO goals (version_id, code, text, plan) VALUES (?, 'KLS-001', 'Kan ta opp sykehistorie', 'KLS'),
		(?, 'KLS-002', 'Kan skrive epikrise', 'KLS'), (?, 'KLS-003', NULL, 'KLS'), (?, 'PED-077', 'Kan vurdere et sykt barn', 'PED')`, version, version, version, version); err != nil {
		t.Fatal(err)
	}
	err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: w.tn.ID}, func(ctx context.Context, tx bun.Tx) error {
		sys := tenants.Actor{Name: "test"}
		rels := map[string]uuid.UUID{"leder": w.leder.id}
		if advisers {
			rels["veileder"], rels["supervisor"] = w.veileder.id, w.sup.id
		}
		for kind, p := range rels {
			if err := tenants.SetRelation(ctx, tx, w.tn.ID, w.lis.id, kind, p, sys); err != nil {
				return err
			}
		}
		if err := tenants.GrantRole(ctx, tx, w.tn.ID, w.delegate.id, "supervisor", sys); err != nil {
			return err
		}
		if err := tx.NewRaw("INSERT INTO arenas (tenant_id, name) VALUES (?, 'Medisinsk sengepost') RETURNING id", w.tn.ID).Scan(ctx, &w.arena); err != nil {
			return err
		}
		var tpl uuid.UUID
		if err := tx.NewRaw("INSERT INTO plan_templates (tenant_id, name, specialty, version_id) VALUES (?, 'LIS1 sykehus', 'LIS1', ?) RETURNING id", w.tn.ID, version).Scan(ctx, &tpl); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO plan_template_goals (tenant_id, template_id, goal_code, arena_ids) VALUES
			(?, ?, 'KLS-001', ARRAY[?]::uuid[]), (?, ?, 'KLS-002', '{}'), (?, ?, 'KLS-003', '{}')`, w.tn.ID, tpl, w.arena, w.tn.ID, tpl, w.tn.ID, tpl); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO plan_assignments (tenant_id, lis_id, template_id, version_id) VALUES (?, ?, ?, ?)", w.tn.ID, w.lis.id, tpl, version)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tenants.Delegate(ctx, db, w.tn.ID, tenants.Actor{PersonID: w.leder.id, Name: "Lars"}, w.delegate.id, nil, "ferie", time.Now()); err != nil {
		t.Fatal(err)
	}
	return w
}

func goalLogin(t *testing.T, srv string, u goalUser) *browser {
	t.Helper()
	b := newBrowser(t, srv)
	login(t, b, u.email, u.password)
	return b
}

var goalCaseRe = regexp.MustCompile(`/godkjenning/([0-9a-f-]{36})"`)

// The whole HTTP journey: list and filter, send with input requests, input,
// decisions with their rules, 409 on a second decision and on recall, 404 for
// others, etterregistrering.
func TestGoalApprovalOverHTTP(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	w := goalSetup(t, cfg, true)
	base := "/t/" + w.tn.Slug
	lis := goalLogin(t, srv.URL, w.lis)

	status, _, page := lis.get(base + "/laeringsmaal")
	if status != 200 || !strings.Contains(page, "Kan ta opp sykehistorie") || !strings.Contains(page, "offisiell tekst ikke lastet inn") || !strings.Contains(page, "Ikke startet") {
		t.Fatalf("goals page: %d\n%s", status, page)
	}
	if _, _, page = lis.get(base + "/laeringsmaal?arena=" + w.arena.String()); strings.Contains(page, "KLS-002") || !strings.Contains(page, "KLS-001") {
		t.Fatalf("arena filter:\n%s", page)
	}
	if _, _, page = lis.get(base + "/laeringsmaal"); strings.Contains(page, "KLS-002") {
		t.Fatalf("the arena filter was not remembered:\n%s", page)
	}
	if _, _, page = lis.get(base + "/laeringsmaal?arena=&q=epikrise"); !strings.Contains(page, "KLS-002") || strings.Contains(page, "KLS-001") {
		t.Fatalf("search:\n%s", page)
	}

	_, _, page = lis.get(base + "/laeringsmaal/KLS-001")
	csrf := csrfFrom(t, page)
	form := url.Values{"_csrf": {csrf}, "completed_on": {time.Now().Format("2006-01-02")}, "comment": {"Mange innleggelser"}, "approver": {w.leder.id.String()},
		"inputs": {w.veileder.id.String()}}
	if status, _, page := lis.post(base+"/laeringsmaal/KLS-001/send", form); status != http.StatusUnprocessableEntity || !strings.Contains(page, "Be minst én supervisør om innspill") {
		t.Fatalf("without a supervisor: %d\n%s", status, page)
	}
	form["inputs"] = []string{w.veileder.id.String(), w.sup.id.String()}
	if status, _, page := lis.post(base+"/laeringsmaal/KLS-001/send", form); status != 200 || !strings.Contains(page, "Sendt til godkjenning") {
		t.Fatalf("send: %d\n%s", status, page)
	}

	// Input from veileder and supervisor.
	for _, u := range []goalUser{w.veileder, w.sup} {
		b := goalLogin(t, srv.URL, u)
		_, _, page := b.get(base + "/innspill")
		m := regexp.MustCompile(`action="` + base + `/innspill/([0-9a-f-]{36})"`).FindStringSubmatch(page)
		if m == nil || !strings.Contains(page, "KLS-001") {
			t.Fatalf("input page of %s:\n%s", u.email, page)
		}
		if status, _, _ := b.post(base+"/innspill/"+m[1], url.Values{"_csrf": {csrfFrom(t, page)}, "text": {""}}); status != http.StatusUnprocessableEntity {
			t.Fatalf("empty input: %d", status)
		}
		if status, _, page := b.post(base+"/innspill/"+m[1], url.Values{"_csrf": {csrfFrom(t, page)}, "text": {"Trygg og grundig"}}); status != 200 || !strings.Contains(page, `data-testid="answered"`) {
			t.Fatalf("input: %d\n%s", status, page)
		}
	}
	if status, _, _ := goalLogin(t, srv.URL, w.veileder).get(base + "/godkjenning"); status != http.StatusForbidden {
		t.Fatalf("a veileder at the queue: %d", status)
	}

	leder := goalLogin(t, srv.URL, w.leder)
	_, _, page = leder.get(base + "/godkjenning")
	m := goalCaseRe.FindStringSubmatch(page)
	if m == nil || !strings.Contains(page, "KLS-001") {
		t.Fatalf("queue:\n%s", page)
	}
	casePath := base + "/godkjenning/" + m[1]
	_, _, page = leder.get(casePath)
	if !strings.Contains(page, "Trygg og grundig") || !strings.Contains(page, "Godkjenningsgrunnlag") || strings.Contains(page, `data-testid="missing-input"`) {
		t.Fatalf("case page:\n%s", page)
	}
	csrf = csrfFrom(t, page)
	if status, _, page := leder.post(casePath, url.Values{"_csrf": {csrf}, "outcome": {"rejected"}}); status != http.StatusUnprocessableEntity || !strings.Contains(page, "Skriv en kommentar") {
		t.Fatalf("reject without a note: %d\n%s", status, page)
	}
	// Another leder in the same tenant, not this LIS's: 404.
	other := goalUser{}
	other.email, other.password, other.id = member(t, cfg, "Annen", w.tn, "leder")
	ob := goalLogin(t, srv.URL, other)
	if status, _, _ := ob.get(casePath); status != http.StatusNotFound {
		t.Fatalf("another leder reads the case: %d", status)
	}
	_, _, op := ob.get(base + "/godkjenning")
	if status, _, _ := ob.post(casePath, url.Values{"_csrf": {csrfFrom(t, op)}, "outcome": {"approved"}, "confirm": {"1"}}); status != http.StatusNotFound {
		t.Fatalf("another leder decides: %d", status)
	}
	if status, _, page := leder.post(casePath, url.Values{"_csrf": {csrf}, "outcome": {"approved"}}); status != 200 || !strings.Contains(page, `data-testid="decided"`) {
		t.Fatalf("approve: %d\n%s", status, page)
	}
	if status, _, page := leder.post(casePath, url.Values{"_csrf": {csrf}, "outcome": {"rejected"}, "note": {"likevel ikke"}}); status != http.StatusConflict || !strings.Contains(page, "allerede godkjent") {
		t.Fatalf("second decision: %d\n%s", status, page)
	}
	if _, _, page := leder.get(casePath); !strings.Contains(page, `data-testid="frozen"`) {
		t.Fatalf("decided case without its frozen basis:\n%s", page)
	}
	_, _, page = lis.get(base + "/laeringsmaal/KLS-001")
	if !strings.Contains(page, `data-testid="goal-status">Godkjent`) {
		t.Fatalf("LIS after approval:\n%s", page)
	}
	if status, _, page := lis.post(base+"/laeringsmaal/KLS-001/trekk-tilbake", url.Values{"_csrf": {csrfFrom(t, page)}, "progress": {m[1]}}); status != http.StatusConflict || !strings.Contains(page, "kan ikke trekkes tilbake") {
		t.Fatalf("recall after approval: %d\n%s", status, page)
	}

	t.Run("etterregistrering goes to the delegate and back", func(t *testing.T) {
		_, _, page := lis.get(base + "/etterregistrering")
		csrf := csrfFrom(t, page)
		if status, _, page := lis.post(base+"/etterregistrering", url.Values{"_csrf": {csrf}, "code": {"PED-999"}, "completed_on": {"2021-03-01"}, "comment": {"Uppsala"}, "approver": {w.delegate.id.String()}}); status != http.StatusUnprocessableEntity || !strings.Contains(page, "Fant ikke læringsmålet i katalogen") {
			t.Fatalf("unknown code: %d\n%s", status, page)
		}
		if status, _, page := lis.post(base+"/etterregistrering", url.Values{"_csrf": {csrf}, "code": {"PED-077"}, "completed_on": {"2021-03-01"}, "comment": {"Akademiska sjukhuset, Uppsala"}, "approver": {w.delegate.id.String()}}); status != 200 || !strings.Contains(page, `data-testid="prior-sent"`) || !strings.Contains(page, "Kan vurdere et sykt barn") {
			t.Fatalf("prior learning: %d\n%s", status, page)
		}
		del := goalLogin(t, srv.URL, w.delegate)
		// The delegate is no leder, yet the menu leads to the queue; the LIS's does not.
		if _, _, home := del.get(base + "/"); !strings.Contains(home, `<li><a class="ds-link" href="`+base+`/godkjenning"`) {
			t.Fatalf("the delegate's menu has no Godkjenning:\n%s", home)
		}
		if _, _, home := lis.get(base + "/"); strings.Contains(home, `<li><a class="ds-link" href="`+base+`/godkjenning"`) {
			t.Fatal("the LIS's menu has Godkjenning")
		}
		_, _, q := del.get(base + "/godkjenning")
		m := goalCaseRe.FindStringSubmatch(q)
		if m == nil || !strings.Contains(q, "Etterregistrering") {
			t.Fatalf("delegate's queue:\n%s", q)
		}
		_, _, cp := del.get(base + "/godkjenning/" + m[1])
		if status, _, _ := del.post(base+"/godkjenning/"+m[1], url.Values{"_csrf": {csrfFrom(t, cp)}, "outcome": {"returned"}, "note": {"Legg ved attest"}}); status != 200 {
			t.Fatalf("return: %d", status)
		}
		if _, _, page := lis.get(base + "/etterregistrering"); !strings.Contains(page, "Returnert") || !strings.Contains(page, "Legg ved attest") {
			t.Fatalf("LIS after return:\n%s", page)
		}
		// The LIS sends it again with the attest; the delegate opens it from the case.
		_, _, page = lis.get(base + "/dokumenter")
		status, out := rawUpload(t, lis, base+"/dokumenter", csrfFrom(t, page), "Attest Uppsala.png", testPNG(t))
		if status != http.StatusCreated {
			t.Fatalf("upload: %d %v", status, out)
		}
		_, _, page = lis.get(base + "/etterregistrering")
		if !strings.Contains(page, "Attest Uppsala.png") {
			t.Fatalf("the form does not offer the document:\n%s", page)
		}
		if status, _, page := lis.post(base+"/etterregistrering", url.Values{"_csrf": {csrf}, "code": {"PED-077"}, "completed_on": {"2021-03-01"}, "comment": {"Akademiska sjukhuset, Uppsala"},
			"approver": {w.delegate.id.String()}, "document": {out["id"].(string)}}); status != 200 || !strings.Contains(page, `data-testid="prior-sent"`) {
			t.Fatalf("prior learning with the attest: %d\n%s", status, page)
		}
		_, _, cp = del.get(base + "/godkjenning/" + m[1])
		if !strings.Contains(cp, `data-testid="case-document"`) || !strings.Contains(cp, "Attest Uppsala.png") {
			t.Fatalf("the case does not show the attest:\n%s", cp)
		}
		if status, _, _ := del.get(base + "/dokumenter/" + out["id"].(string) + "/vis"); status != 200 {
			t.Fatalf("the delegate opens the attest: %d", status)
		}
	})
}

// The journey in a phone-sized Chromium: the LIS sends a goal, the
// leder's delegate approves it (confirming that input is missing), and the LIS
// sees it approved.
func TestBrowserGoalJourney(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	w := goalSetup(t, cfg, false)
	base := srv.URL + "/t/" + w.tn.Slug
	ctx := chromium(t)
	loginAs := func(u goalUser) steps { return loginSteps(u.email, u.password) }
	logout := logoutSteps
	do := func(name string, ss steps) error { return stepwise(t, ctx, name, ss) }
	err := do("goal-send", seq(
		steps{chromedp.Navigate(base + "/laeringsmaal")},
		loginAs(w.lis),
		steps{chromedp.WaitVisible(chromedp.CSS(`[data-testid="goal-KLS-001"] a`)),
			chromedp.Click(chromedp.CSS(`[data-testid="goal-KLS-001"] a`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="send-form"]`)),
			chromedp.SendKeys(chromedp.CSS(`#comment`), "Tatt opp mange sykehistorier"),
			chromedp.SetValue(chromedp.CSS(`#approver`), w.delegate.id.String()),
			chromedp.Click(chromedp.CSS(`[data-testid="send"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="recall"]`))},
	))
	if err != nil {
		t.Fatalf("LIS sends: %v", err)
	}
	err = do("goal-approve", seq(
		logout,
		steps{chromedp.Navigate(base + "/godkjenning")},
		loginAs(w.delegate),
		steps{chromedp.WaitVisible(chromedp.CSS(`[data-testid="queue"] a`)),
			chromedp.Click(chromedp.CSS(`[data-testid="queue"] a`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="missing-input"]`))},
	))
	if err == nil {
		screenshot(t, ctx, "goal-case") // the godkjenningsgrunnlag with its warning, for a person to look at
		err = do("goal-decide", steps{
			chromedp.Click(chromedp.CSS(`#confirm`)),
			chromedp.Click(chromedp.CSS(`[data-testid="decide"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="decided"]`))})
	}
	if err != nil {
		t.Fatalf("delegate approves: %v", err)
	}
	err = do("goal-approved", seq(
		logout,
		steps{chromedp.Navigate(base + "/laeringsmaal")},
		loginAs(w.lis),
		steps{chromedp.WaitVisible(chromedp.CSS(`[data-testid="goal-KLS-001"]`))},
	))
	var status string
	if err == nil {
		status, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid="goal-KLS-001"] [data-testid="goal-status"]`)))
	}
	if err != nil || status != "Godkjent" {
		screenshot(t, ctx, "goal-approved")
		t.Fatalf("LIS sees %q, %v", status, err)
	}
	screenshot(t, ctx, "goal-journey-done")
}

// A goal of tenant A cannot be read, decided or recalled through tenant B,
// even by A's own leder and LIS who also belong to B.
func TestIsolationGoalHTTP(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	w := goalSetup(t, cfg, false)
	b := testTenant(t, "Helse Annen HF", tenants.KindHF)
	db := testenv.Get(t).App
	for _, m := range []struct {
		id   uuid.UUID
		role string
	}{{w.leder.id, "leder"}, {w.lis.id, "lis"}} {
		if err := tenants.AddMembership(context.Background(), db, b.ID, m.id, m.role); err != nil {
			t.Fatal(err)
		}
	}
	lis := goalLogin(t, srv.URL, w.lis)
	baseA, baseB := "/t/"+w.tn.Slug, "/t/"+b.Slug
	_, _, page := lis.get(baseA + "/laeringsmaal/KLS-001")
	if status, _, _ := lis.post(baseA+"/laeringsmaal/KLS-001/send", url.Values{"_csrf": {csrfFrom(t, page)}, "completed_on": {"2026-01-05"}, "approver": {w.leder.id.String()}}); status != 200 {
		t.Fatalf("send: %d", status)
	}
	leder := goalLogin(t, srv.URL, w.leder)
	_, _, q := leder.get(baseA + "/godkjenning")
	m := goalCaseRe.FindStringSubmatch(q)
	if m == nil {
		t.Fatalf("queue in A:\n%s", q)
	}
	_, _, qb := leder.get(baseB + "/godkjenning")
	if strings.Contains(qb, "KLS-001") {
		t.Fatalf("A's goal in B's queue:\n%s", qb)
	}
	if status, _, _ := leder.get(baseB + "/godkjenning/" + m[1]); status != http.StatusNotFound {
		t.Fatalf("reading A's goal through B: %d", status)
	}
	if status, _, _ := leder.post(baseB+"/godkjenning/"+m[1], url.Values{"_csrf": {csrfFrom(t, qb)}, "outcome": {"approved"}, "confirm": {"1"}}); status != http.StatusNotFound {
		t.Fatalf("deciding A's goal through B: %d", status)
	}
	_, _, lb := lis.get(baseB + "/etterregistrering")
	if status, _, _ := lis.post(baseB+"/etterregistrering/"+m[1]+"/trekk-tilbake", url.Values{"_csrf": {csrfFrom(t, lb)}}); status != http.StatusNotFound {
		t.Fatalf("recalling A's goal through B: %d", status)
	}
	if _, _, page := leder.get(baseA + "/godkjenning/" + m[1]); !strings.Contains(page, `data-testid="case-status">Sendt til godkjenning`) {
		t.Fatalf("A's goal after B's attempts:\n%s", page)
	}
}
