package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"kportal/modules/identity"
	"kportal/storage/testenv"
	"kportal/tenants"
)

// An RHF admin onboards a foretak of their own RHF; bad input gets Norwegian
// messages and writes nothing; another RHF's foretak answers 404; the new
// administrator accepts the invitation; suspension closes the door at once.
func TestOnboardingForetak(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, true)
	withRefData(t)
	ctx := context.Background()
	db := testenv.Get(t).App

	rhfEmail, rhfPassword := newUser(t, cfg, "Eva")
	grantPlatform(t, cfg, rhfEmail, tenants.RoleRHFAdmin, "HV")
	nord := &tenants.Tenant{Slug: "unn-" + uuid.NewString()[:6], Name: "Universitetssykehuset Nord-Norge HF", Kind: tenants.KindHF, RHFCode: "HN"}
	if err := tenants.Create(ctx, db, nord); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t, srv.URL)
	if home := login(t, b, rhfEmail, rhfPassword); !strings.Contains(home, `data-testid="platform-work"`) || !strings.Contains(home, `href="/virksomheter"`) || strings.Contains(home, "ikke knyttet til noen virksomhet") {
		t.Fatalf("the RHF admin's home page does not lead to the foretak:\n%s", home)
	}
	status, _, page := b.get("/virksomheter")
	if status != 200 || !strings.Contains(page, "Foretak i Helse Vest RHF") || !strings.Contains(page, "Helse Førde HF") || strings.Contains(page, "Nord-Norge") {
		t.Fatalf("RHF admin's page: %d\n%s", status, page)
	}
	token := csrfFrom(t, page)

	t.Run("bad input gets a Norwegian message and creates nothing", func(t *testing.T) {
		cases := []struct {
			name string
			form url.Values
			want string
		}{
			{"wrong check digit", url.Values{"name": {"Nytt HF"}, "orgnr": {"983974733"}, "admin_email": {"a@b.no"}}, "kontrollsifferet stemmer ikke"},
			{"duplicate slug", url.Values{"registry_id": {registryOrg(t, "983974694")}, "slug": {nord.Slug}, "admin_email": {"a@b.no"}}, "er allerede i bruk"},
			{"another RHF's foretak", url.Values{"registry_id": {registryOrg(t, "983974899")}, "admin_email": {"a@b.no"}}, "Velg en virksomhet fra listen"},
			{"bad e-mail", url.Values{"registry_id": {registryOrg(t, "983974694")}, "admin_email": {"ikke-epost"}}, "ikke en gyldig e-postadresse"},
		}
		before, _ := db.NewSelect().Table("tenants").Count(ctx)
		for _, c := range cases {
			c.form.Set("_csrf", token)
			status, _, page := b.post("/virksomheter", c.form)
			if status != http.StatusUnprocessableEntity || !strings.Contains(page, c.want) {
				t.Errorf("%s: %d, want 422 with %q", c.name, status, c.want)
			}
		}
		if after, _ := db.NewSelect().Table("tenants").Count(ctx); after != before {
			t.Fatalf("refused forms created %d tenants", after-before)
		}
	})

	adminEmail := testenv.UniqueEmail("forde-admin")
	status, where, page := b.post("/virksomheter", url.Values{"_csrf": {token}, "registry_id": {registryOrg(t, "983974732")}, "admin_email": {adminEmail}})
	if status != 200 || !strings.HasPrefix(where, "/virksomheter/") || !strings.Contains(page, "Invitasjonen er sendt til "+adminEmail) || !strings.Contains(page, "Venter på administrator") {
		t.Fatalf("after onboarding: %d at %s\n%s", status, where, page)
	}
	fordeURL := strings.SplitN(where, "?", 2)[0]

	t.Run("someone without a platform role gets 403", func(t *testing.T) {
		e, p := newUser(t, cfg, "Vanlig")
		other := newBrowser(t, srv.URL)
		login(t, other, e, p)
		if status, _, _ := other.get("/virksomheter"); status != http.StatusForbidden {
			t.Fatalf("%d", status)
		}
	})

	invToken := invitationToken(t, adminEmail, 1)
	admin := newBrowser(t, srv.URL)
	status, where, page = admin.get("/invitasjon/" + invToken)
	if status != 200 || where != "/invitasjon" || !strings.Contains(page, "Invitasjon til Helse Førde HF") || !strings.Contains(strings.ToLower(page), "/registrer?return_to=%2finvitasjon\"") ||
		strings.Contains(page, invToken) {
		t.Fatalf("invitation page, signed out: %d at %s\n%s", status, where, page)
	}
	// Someone else signed in with the link is told whose it is and gets nothing.
	frida, fridaPassword := newUser(t, cfg, "Frida")
	login(t, admin, frida, fridaPassword)
	_, _, page = admin.get("/invitasjon")
	if !strings.Contains(page, `data-testid="wrong-address"`) || strings.Contains(page, `data-testid="accept"`) {
		t.Fatalf("the invitation page for someone else:\n%s", page)
	}
	if status, _, _ = admin.post("/invitasjon", url.Values{"_csrf": {csrfFrom(t, page)}}); status != http.StatusForbidden {
		t.Fatalf("someone else accepting: %d", status)
	}
	_, _, page = admin.get("/invitasjon")
	admin.logout(page)
	// The invited administrator, with the address verified.
	adminPassword := "riktig-hest-batteri-9"
	if _, err := identity.NewKratos(cfg.KratosPublic, cfg.KratosAdmin).EnsureIdentity(ctx, adminEmail, "Frøydis", "Førde", adminPassword); err != nil {
		t.Fatal(err)
	}
	login(t, admin, adminEmail, adminPassword)
	_, _, page = admin.get("/invitasjon")
	status, where, page = admin.post("/invitasjon", url.Values{"_csrf": {csrfFrom(t, page)}})
	if status != 200 || where != "/t/helse-forde-hf/" || !strings.Contains(page, "Administrator") {
		t.Fatalf("after accepting: %d at %s\n%s", status, where, page)
	}
	if _, _, page = b.get(fordeURL); !strings.Contains(page, `data-testid="tenant-status">I bruk`) || !strings.Contains(page, "Godtatt") {
		t.Fatalf("the RHF admin does not see the foretak active:\n%s", page)
	}

	t.Run("a used, unknown or revoked link grants nothing and says why", func(t *testing.T) {
		stranger := newBrowser(t, srv.URL)
		e, p := newUser(t, cfg, "Fremmed")
		login(t, stranger, e, p)
		_, _, page := stranger.get("/invitasjon/" + invToken)
		if !strings.Contains(page, "allerede godtatt") {
			t.Fatalf("used link:\n%s", page)
		}
		status, _, page := stranger.post("/invitasjon", url.Values{"_csrf": {csrfFrom(t, page)}})
		if status != http.StatusConflict || !strings.Contains(page, "allerede brukt") {
			t.Fatalf("accepting a used link: %d\n%s", status, page)
		}
		if status, _, page := stranger.get("/invitasjon/finnes-ikke-i-det-hele-tatt-123"); status != 404 || !strings.Contains(page, "Invitasjonen finnes ikke") {
			t.Fatalf("unknown link: %d\n%s", status, page)
		}
		if status, _, _ := stranger.get("/t/helse-forde-hf/"); status != 404 {
			t.Fatalf("a stranger reached the foretak: %d", status)
		}
	})

	t.Run("suspension blocks the foretak's users at once; reopening lets them in", func(t *testing.T) {
		_, _, page := b.get(fordeURL)
		status, _, page := b.post(fordeURL+"/status", url.Values{"_csrf": {csrfFrom(t, page)}, "action": {"suspend"}, "reason": {""}})
		if status != http.StatusUnprocessableEntity || !strings.Contains(page, "Skriv hvorfor") {
			t.Fatalf("suspend without a reason: %d", status)
		}
		status, _, page = b.post(fordeURL+"/status", url.Values{"_csrf": {token}, "action": {"suspend"}, "reason": {"Avtalen er ikke på plass"}})
		if status != 200 || !strings.Contains(page, "Stengt – Avtalen er ikke på plass") {
			t.Fatalf("suspend: %d\n%s", status, page)
		}
		if status, _, page := admin.get("/t/helse-forde-hf/"); status != http.StatusForbidden || !strings.Contains(page, "midlertidig stengt") {
			t.Fatalf("a suspended foretak's admin: %d\n%s", status, page)
		}
		if status, _, _ := b.post(fordeURL+"/status", url.Values{"_csrf": {token}, "action": {"reopen"}}); status != 200 {
			t.Fatalf("reopen: %d", status)
		}
		if status, _, _ := admin.get("/t/helse-forde-hf/"); status != 200 {
			t.Fatalf("after reopening: %d", status)
		}
	})
}

// An RHF admin of Helse Vest gets 404 for Helse Nord's foretak: the page,
// suspending it, resending its invitation; and does not see it in the list.
func TestIsolationRHFAdminSeesOnlyOwnRegion(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	withRefData(t)
	ctx := context.Background()
	db := testenv.Get(t).App
	nordEmail, _ := newUser(t, cfg, "Nora")
	grantPlatform(t, cfg, nordEmail, tenants.RoleRHFAdmin, "HN")
	nordReach := tenants.ReachOf([]tenants.PlatformRole{{Role: tenants.RoleRHFAdmin, RHF: "HN"}})
	unn, inv, _, err := tenants.Onboard(ctx, db, nordReach, tenants.Actor{PersonID: personFor(t, cfg, nordEmail), Name: "Nora"},
		tenants.Onboarding{RegistryID: registryOrg(t, "983974929"), AdminEmail: testenv.UniqueEmail("helgeland")}) // Helgelandssykehuset HF
	if err != nil {
		t.Fatal(err)
	}
	vestEmail, vestPassword := newUser(t, cfg, "Vera")
	grantPlatform(t, cfg, vestEmail, tenants.RoleRHFAdmin, "HV")
	b := newBrowser(t, srv.URL)
	login(t, b, vestEmail, vestPassword)
	_, _, page := b.get("/virksomheter")
	if strings.Contains(page, "Helgelandssykehuset") {
		t.Fatalf("Helse Vest's admin sees Helse Nord's foretak:\n%s", page)
	}
	form := url.Values{"_csrf": {csrfFrom(t, page)}, "action": {"suspend"}, "reason": {"x"}}
	for _, c := range []struct{ method, path string }{
		{"GET", "/virksomheter/" + unn.ID.String()},
		{"POST", "/virksomheter/" + unn.ID.String() + "/status"},
		{"POST", "/virksomheter/" + unn.ID.String() + "/invitasjoner/" + inv.ID.String() + "/send-igjen"},
	} {
		status := 0
		if c.method == "GET" {
			status, _, _ = b.get(c.path)
		} else {
			status, _, _ = b.post(c.path, form)
		}
		if status != http.StatusNotFound {
			t.Errorf("%s %s: %d, want 404", c.method, c.path, status)
		}
	}
	if got, _ := tenants.BySlug(ctx, db, unn.Slug); got.Status != tenants.StatusPending {
		t.Fatalf("Helse Nord's foretak is now %s", got.Status)
	}
	if invs, _ := tenants.Invitations(ctx, db, unn.ID); len(invs) != 1 || invs[0].RevokedAt != nil {
		t.Fatalf("Helse Nord's invitation was touched: %+v", invs)
	}
}

// The RHF admin's journey in a real browser: onboard a foretak, and its new
// administrator registers from the e-mail link and lands in the foretak.
func TestBrowserOnboardingForetak(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, true)
	withRefData(t)
	rhfEmail, rhfPassword := newUser(t, cfg, "Rita")
	grantPlatform(t, cfg, rhfEmail, tenants.RoleRHFAdmin, "HV")
	adminEmail := testenv.UniqueEmail("stavanger-admin")

	ctx := chromium(t)
	err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/virksomheter"),
		chromedp.WaitVisible(chromedp.CSS(`form[data-group="password"] input[name="identifier"]`)),
		chromedp.SendKeys(chromedp.CSS(`form[data-group="password"] input[name="identifier"]`), rhfEmail),
		chromedp.SendKeys(chromedp.CSS(`form[data-group="password"] input[name="password"]`), rhfPassword),
		chromedp.Click(chromedp.CSS(`form[data-group="password"] button[value="password"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="onboard-form"]`)),
		chromedp.SetValue(chromedp.CSS(`#registry_id`), registryOrg(t, "983974678")), // Helse Stavanger HF
		chromedp.SendKeys(chromedp.CSS(`#admin_email`), adminEmail),
		chromedp.Click(chromedp.CSS(`[data-testid="onboard-form"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="invited"]`)),
	)
	if err != nil {
		screenshot(t, ctx, "onboarding-rhf")
		t.Fatalf("RHF admin: %v", err)
	}
	screenshot(t, ctx, "onboarding-rhf-done")
	token := invitationToken(t, adminEmail, 1)

	// The invitee, in the same browser after the RHF admin signs out.
	var heading string
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`form[action="/logg-ut"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`form[data-group="password"]`)),
		chromedp.Navigate(srv.URL+"/invitasjon/"+token),
		chromedp.Click(chromedp.CSS(`[data-testid="register"]`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name="traits.name.given"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="traits.email"]`), adminEmail),
		chromedp.SendKeys(chromedp.CSS(`input[name="traits.name.given"]`), "Siv"),
		chromedp.SendKeys(chromedp.CSS(`input[name="traits.name.family"]`), "Stavang"),
		chromedp.Click(chromedp.CSS(`form[data-group="profile"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[data-group="password"] input[name="password"]`)),
		chromedp.SendKeys(chromedp.CSS(`form[data-group="password"] input[name="password"]`), "et-langt-nok-passord-42"),
		chromedp.Click(chromedp.CSS(`form[data-group="password"] button[type="submit"]`)),
		// The new address is verified with the code Kratos mails, before accepting.
		chromedp.WaitVisible(chromedp.CSS(`form[data-group="code"] input[name="code"]`)),
	)
	if err == nil {
		err = chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS(`form[data-group="code"] input[name="code"]`), verificationCode(t, adminEmail, 2)),
			chromedp.Click(chromedp.CSS(`form[data-group="code"] button[value="code"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="continue"]`)),
			chromedp.Click(chromedp.CSS(`[data-testid="continue"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="accept"]`)),
			chromedp.Click(chromedp.CSS(`[data-testid="accept"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="tenant-home"]`)),
		)
	}
	if err == nil {
		heading, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`h1`)))
	}
	if err != nil || heading != "Helse Stavanger HF" {
		screenshot(t, ctx, "onboarding-invitee")
		t.Fatalf("invitee: heading %q, %v", heading, err)
	}
	screenshot(t, ctx, "onboarding-invitee-done")
}
