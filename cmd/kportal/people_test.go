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

	"kportal/storage/testenv"
	"kportal/tenants"
)

// peopleTenant creates a tenant and gives each test user the roles listed.
func peopleTenant(t *testing.T, cfg *config, kind tenants.Kind, roles map[string][]string) *tenants.Tenant {
	t.Helper()
	db := testenv.Get(t).App
	tn := &tenants.Tenant{Slug: "k-" + uuid.NewString()[:8], Name: "Testvik kommune", Kind: kind}
	if err := tenants.Create(context.Background(), db, tn); err != nil {
		t.Fatal(err)
	}
	err := tenants.WithTenantTx(context.Background(), db, tenants.Scope{TenantID: tn.ID}, func(ctx context.Context, tx bun.Tx) error {
		for email, rs := range roles {
			for _, r := range rs {
				if err := tenants.GrantRole(ctx, tx, tn.ID, personFor(t, cfg, email), r, tenants.Actor{Name: "test"}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

// The kommune way in a real browser: a LIS invites a supervisor, who accepts
// from the e-mail link and then appears on the LIS's page.
func TestBrowserLISInvitesSupervisor(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, true)
	lisEmail, lisPassword := newUser(t, cfg, "Lise")
	supEmail, supPassword := newUser(t, cfg, "Sverre")
	tn := peopleTenant(t, cfg, tenants.KindKommune, map[string][]string{lisEmail: {"lis"}})

	ctx := chromium(t)
	loginAs := loginSteps
	page := srv.URL + "/t/" + tn.Slug + "/invitasjoner"
	err := chromedp.Do(ctx, seq(
		steps{chromedp.Navigate(page)},
		loginAs(lisEmail, lisPassword),
		steps{chromedp.WaitVisible(chromedp.CSS(`[data-testid="invite-form"]`)),
			chromedp.SetValue(chromedp.CSS(`#role`), "supervisor"),
			chromedp.SendKeys(chromedp.CSS(`#email`), supEmail),
			chromedp.Click(chromedp.CSS(`[data-testid="invite-form"] button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="invited"]`))},
	)...)
	if err != nil {
		screenshot(t, ctx, "lis-invite")
		t.Fatalf("LIS invites: %v", err)
	}
	token := invitationToken(t, supEmail, 1)
	err = chromedp.Do(ctx, seq(
		steps{chromedp.Click(chromedp.CSS(`form[action="/logg-ut"] button`)),
			chromedp.WaitVisible(chromedp.CSS(`form[data-group="password"]`)),
			chromedp.Navigate(srv.URL + "/logg-inn?return_to=" + url.QueryEscape("/invitasjon/"+token))},
		loginAs(supEmail, supPassword),
		steps{chromedp.WaitVisible(chromedp.CSS(`[data-testid="accept"]`)),
			chromedp.Click(chromedp.CSS(`[data-testid="accept"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="tenant-home"]`)),
			chromedp.Click(chromedp.CSS(`form[action="/logg-ut"] button`)),
			chromedp.WaitVisible(chromedp.CSS(`form[data-group="password"]`)),
			chromedp.Navigate(page)},
		loginAs(lisEmail, lisPassword),
		steps{chromedp.WaitVisible(chromedp.CSS(`[data-testid="relations"]`))},
	)...)
	var relations string
	if err == nil {
		relations, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid="relations"]`)))
	}
	if err != nil || !strings.Contains(relations, "Supervisør") || !strings.Contains(relations, "Sverre Testesen") {
		screenshot(t, ctx, "lis-invite-accepted")
		t.Fatalf("the LIS's page: %q, %v", relations, err)
	}
	screenshot(t, ctx, "lis-invite-done")
}

// Refusals and dead links: a second leder invitation, a revoked link.
func TestLISInvitationRulesAndIsolation(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, true)
	lisEmail, lisPassword := newUser(t, cfg, "Lars")
	tn := peopleTenant(t, cfg, tenants.KindKommune, map[string][]string{lisEmail: {"lis"}})
	b := newBrowser(t, srv.URL)
	login(t, b, lisEmail, lisPassword)
	base := "/t/" + tn.Slug + "/invitasjoner"
	_, _, page := b.get(base)
	csrf := csrfFrom(t, page)
	lederEmail := testenv.UniqueEmail("leder")
	if status, _, page := b.post(base, url.Values{"_csrf": {csrf}, "role": {"leder"}, "email": {lederEmail}}); status != 200 || !strings.Contains(page, "Invitasjonen er sendt") {
		t.Fatalf("first leder invitation: %d\n%s", status, page)
	}
	status, _, page := b.post(base, url.Values{"_csrf": {csrf}, "role": {"leder"}, "email": {testenv.UniqueEmail("leder2")}})
	if status != http.StatusConflict || !strings.Contains(page, "Du har allerede en aktiv invitasjon til leder") {
		t.Fatalf("second leder invitation: %d\n%s", status, page)
	}
	if status, _, page := b.post(base, url.Values{"_csrf": {csrf}, "role": {"supervisor"}, "email": {"ikke-epost"}}); status != http.StatusUnprocessableEntity || !strings.Contains(page, "ikke en gyldig e-postadresse") {
		t.Fatalf("bad e-mail: %d", status)
	}

	token := invitationToken(t, lederEmail, 1)
	invs, _ := tenants.InvitationsFrom(context.Background(), testenv.Get(t).App, tn.ID, personFor(t, cfg, lisEmail))
	if status, _, _ := b.post(base+"/"+invs[0].ID.String()+"/trekk-tilbake", url.Values{"_csrf": {csrf}}); status != 200 {
		t.Fatalf("revoke: %d", status)
	}
	invitee := newBrowser(t, srv.URL)
	email, password := newUser(t, cfg, "Lea")
	login(t, invitee, email, password)
	_, _, page = invitee.get("/invitasjon/" + token)
	if !strings.Contains(page, "trukket tilbake og gir ingen tilgang") || strings.Contains(page, `data-testid="accept"`) {
		t.Fatalf("revoked link page:\n%s", page)
	}
	if status, _, _ := invitee.post("/invitasjon", url.Values{"_csrf": {csrfFrom(t, page)}}); status != http.StatusConflict {
		t.Fatalf("accepting a revoked link: %d", status)
	}
	if ms, _ := tenants.ForPerson(context.Background(), testenv.Get(t).App, personFor(t, cfg, email)); len(ms) != 0 {
		t.Fatalf("a revoked link granted %+v", ms)
	}
	t.Run("an expired link says so and grants nothing", func(t *testing.T) {
		var tok string
		err := tenants.WithTenantTx(context.Background(), testenv.Get(t).App, tenants.Scope{TenantID: tn.ID}, func(ctx context.Context, tx bun.Tx) error {
			inv := tenants.Invitation{TenantID: tn.ID, Email: email, Role: "supervisor", InvitedByName: "Lars", ExpiresAt: time.Now().Add(-time.Hour)}
			var err error
			tok, err = tenants.CreateInvitation(ctx, tx, &inv)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		_, _, page := invitee.get("/invitasjon/" + tok)
		if !strings.Contains(page, "utløpt og gir ingen tilgang") || strings.Contains(page, `data-testid="accept"`) {
			t.Fatalf("expired link page:\n%s", page)
		}
		if status, _, _ := invitee.post("/invitasjon", url.Values{"_csrf": {csrfFrom(t, page)}}); status != http.StatusConflict {
			t.Fatalf("accepting an expired link: %d", status)
		}
		if ms, _ := tenants.ForPerson(context.Background(), testenv.Get(t).App, personFor(t, cfg, email)); len(ms) != 0 {
			t.Fatalf("an expired link granted %+v", ms)
		}
	})
	t.Run("another LIS cannot revoke or resend it", func(t *testing.T) {
		e, p := newUser(t, cfg, "Annen")
		own := peopleTenant(t, cfg, tenants.KindKommune, map[string][]string{e: {"lis"}})
		other := newBrowser(t, srv.URL)
		login(t, other, e, p)
		ownBase := "/t/" + own.Slug + "/invitasjoner"
		_, _, ownPage := other.get(ownBase)
		form := url.Values{"_csrf": {csrfFrom(t, ownPage)}}
		// Not a member of the first tenant: 404. In their own tenant, someone
		// else's invitation id: 404 as well.
		if status, _, _ := other.post(base+"/"+invs[0].ID.String()+"/send-igjen", form); status != http.StatusNotFound {
			t.Fatalf("in the first LIS's tenant: %d", status)
		}
		if status, _, _ := other.post(ownBase+"/"+invs[0].ID.String()+"/send-igjen", form); status != http.StatusNotFound {
			t.Fatalf("through their own tenant: %d", status)
		}
		if n := len(testenv.MailsTo(t, lederEmail)); n != 1 {
			t.Fatalf("the leder got %d mails", n)
		}
	})
}

// A leder delegates approval to a colleague and revokes it; a LIS may not.
func TestDelegationPages(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	lederEmail, lederPassword := newUser(t, cfg, "Leif")
	colEmail, _ := newUser(t, cfg, "Kolle")
	lisEmail, lisPassword := newUser(t, cfg, "Line")
	tn := peopleTenant(t, cfg, tenants.KindHF, map[string][]string{lederEmail: {"leder"}, colEmail: {"supervisor"}, lisEmail: {"lis"}})
	base := "/t/" + tn.Slug + "/delegering"
	b := newBrowser(t, srv.URL)
	login(t, b, lederEmail, lederPassword)
	status, _, page := b.get(base)
	if status != 200 || !strings.Contains(page, "Kolle Testesen") {
		t.Fatalf("delegation page: %d\n%s", status, page)
	}
	csrf := csrfFrom(t, page)
	col := personFor(t, cfg, colEmail)
	if status, _, page := b.post(base, url.Values{"_csrf": {csrf}, "delegate": {col.String()}, "until": {"2020-01-01"}}); status != http.StatusUnprocessableEntity || !strings.Contains(page, "Sluttdatoen kan ikke være passert") {
		t.Fatalf("past date: %d", status)
	}
	status, _, page = b.post(base, url.Values{"_csrf": {csrf}, "delegate": {col.String()}, "reason": {"Ferie i uke 30"}})
	if status != 200 || !strings.Contains(page, `data-testid="delegation-state">Gjelder`) || !strings.Contains(page, "Ferie i uke 30") {
		t.Fatalf("after delegating: %d\n%s", status, page)
	}
	ds, _ := tenants.Delegations(context.Background(), testenv.Get(t).App, tn.ID, personFor(t, cfg, lederEmail))
	if status, _, page = b.post(base+"/"+ds[0].ID.String()+"/trekk-tilbake", url.Values{"_csrf": {csrf}}); status != 200 || !strings.Contains(page, "Trukket tilbake") {
		t.Fatalf("after revoking: %d\n%s", status, page)
	}
	lis := newBrowser(t, srv.URL)
	login(t, lis, lisEmail, lisPassword)
	if status, _, _ := lis.get(base); status != http.StatusForbidden {
		t.Fatalf("a LIS on the delegation page: %d", status)
	}
	log, err := tenants.AuditLog(context.Background(), testenv.Get(t).App, tn.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	entered, actions := 0, map[string]bool{}
	for _, e := range log {
		actions[e.Action] = true
		if e.Action == tenants.AuditTenantEntered && e.ActorName == "Leif Testesen" {
			entered++
		}
	}
	if entered != 1 || !actions[tenants.AuditDelegationGranted] || !actions[tenants.AuditDelegationRevoked] {
		t.Fatalf("audit log after many page views: %d entries of the leder entering; actions %v", entered, actions)
	}
	_, _, mine := b.get("/roller")
	if !strings.Contains(mine, "Testvik kommune") || !strings.Contains(mine, "Leder") {
		t.Fatalf("Mine roller:\n%s", mine)
	}
}

// The leder's delegation journey in a real browser: delegate to a colleague
// until a date, see it in force, revoke it.
func TestBrowserDelegation(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	tn := testTenant(t, "Delegasjon HF", tenants.KindHF)
	lederEmail, lederPassword, _ := member(t, cfg, "Leni", tn, "leder")
	_, _, colleague := member(t, cfg, "Kolbjørn", tn, "supervisor")
	until := time.Now().AddDate(0, 1, 0)
	ctx := chromium(t)
	err := browserLogin(ctx, srv.URL, lederEmail, lederPassword)
	if err == nil {
		err = chromedp.Do(ctx,
			chromedp.Navigate(srv.URL+"/t/"+tn.Slug+"/delegering"),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="delegate-form"]`)),
			chromedp.SetValue(chromedp.CSS(`#delegate`), colleague.String()),
			chromedp.SetValue(chromedp.CSS(`#until`), until.Format("2006-01-02")),
			chromedp.SendKeys(chromedp.CSS(`#reason`), "Permisjon"),
			chromedp.Click(chromedp.CSS(`[data-testid="delegate-form"] button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="delegation-state"]`)),
		)
	}
	var list string
	if err == nil {
		list, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid="delegations"]`)))
	}
	if err != nil || !strings.Contains(list, "Kolbjørn Testesen") || !strings.Contains(list, "til og med "+until.Format("2.1.2006")) || !strings.Contains(list, "Permisjon") {
		screenshot(t, ctx, "delegation")
		t.Fatalf("after delegating: %q, %v", list, err)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`[data-testid="delegations"] form button`)),
		chromedp.WaitNotPresent(chromedp.CSS(`[data-testid="delegation-state"]`)),
	)
	if err == nil {
		list, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid="delegations"]`)))
	}
	if err != nil || !strings.Contains(list, "Trukket tilbake") {
		screenshot(t, ctx, "delegation-revoked")
		t.Fatalf("after revoking: %q, %v", list, err)
	}
}
