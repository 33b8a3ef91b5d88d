package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/agreements"
	"kportal/storage/testenv"
	"kportal/tenants"
)

// regFixture is a kommune with a tenant_admin, and a Helsedirektoratet user.
type regFixture struct {
	app                     *app
	base                    string
	kommune                 *tenants.Tenant
	adminID                 uuid.UUID
	adminEmail, adminPass   string
	hdirEmail, hdirPassword string
}

func newRegFixture(t *testing.T) *regFixture {
	t.Helper()
	cfg := testConfig(t)
	a, srv := startApp(t, cfg, false)
	env := testenv.Get(t)
	ctx := context.Background()
	f := &regFixture{app: a, base: srv.URL}
	f.kommune = &tenants.Tenant{Slug: "testvik-" + uuid.NewString()[:6], Name: "Testvik kommune", Kind: tenants.KindKommune, Kommunenummer: "4699"}
	if err := tenants.Create(ctx, env.App, f.kommune); err != nil {
		t.Fatal(err)
	}
	f.adminEmail, f.adminPass = newUser(t, cfg, "Astrid")
	f.adminID = personFor(t, cfg, f.adminEmail)
	if err := tenants.AddMembership(ctx, env.App, f.kommune.ID, f.adminID, "tenant_admin"); err != nil {
		t.Fatal(err)
	}
	f.hdirEmail, f.hdirPassword = newUser(t, cfg, "Hanne")
	if err := tenants.GrantPlatformRole(ctx, env.Owner, personFor(t, cfg, f.hdirEmail), tenants.RoleHdir, ""); err != nil {
		t.Fatal(err)
	}
	return f
}

// sign signs the databehandleravtale for the kommune through the agreements
// module, as its page would.
func (f *regFixture) sign(t *testing.T) {
	t.Helper()
	m, ok := f.app.host.Module("agreements")
	if !ok {
		t.Fatal("the agreements module is not registered")
	}
	st := m.(*agreements.Module).Store()
	cur, err := st.Current(f.kommune)
	if err != nil || cur == nil {
		t.Fatalf("current agreement: %v %v", cur, err)
	}
	if _, err := st.Sign(context.Background(), agreements.SignRequest{Tenant: f.kommune, PersonID: f.adminID, Name: "Astrid Testesen",
		Title: "Kommunedirektør", Version: cur.Version.ID, Checksum: cur.Checksum, Confirmed: true}); err != nil {
		t.Fatal(err)
	}
}

// Who may reach the registration pages, and what the pages refuse.
func TestRegistrationHTTPAccessAndIsolation(t *testing.T) {
	f := newRegFixture(t)
	cfg := testConfig(t)
	ctx := context.Background()
	env := testenv.Get(t)
	page := "/t/" + f.kommune.Slug + "/utdanningsvirksomhet"

	admin := newBrowser(t, f.base)
	login(t, admin, f.adminEmail, f.adminPass)

	t.Run("a user who is not Helsedirektoratet gets 403 on the review queue", func(t *testing.T) {
		if status, _, _ := admin.get("/hdir/registreringer"); status != http.StatusForbidden {
			t.Fatalf("tenant admin on /hdir/registreringer: %d", status)
		}
		status, _, _ := admin.post("/hdir/registreringer/"+f.kommune.Slug+"/"+uuid.NewString()+"/beslutning", url.Values{})
		if status != http.StatusForbidden {
			t.Fatalf("tenant admin deciding: %d", status)
		}
	})

	t.Run("a user of another tenant gets 404 for the kommune's page", func(t *testing.T) {
		other := &tenants.Tenant{Slug: "annenvik-" + uuid.NewString()[:6], Name: "Annenvik kommune", Kind: tenants.KindKommune}
		if err := tenants.Create(ctx, env.App, other); err != nil {
			t.Fatal(err)
		}
		email, pass := newUser(t, cfg, "Olav")
		if err := tenants.AddMembership(ctx, env.App, other.ID, personFor(t, cfg, email), "tenant_admin"); err != nil {
			t.Fatal(err)
		}
		b := newBrowser(t, f.base)
		login(t, b, email, pass)
		if status, _, _ := b.get(page); status != http.StatusNotFound {
			t.Fatalf("another kommune's admin: %d", status)
		}
		if status, _, _ := b.get("/t/" + other.Slug + "/utdanningsvirksomhet"); status != http.StatusOK {
			t.Fatalf("own page: %d", status)
		}
	})

	t.Run("helseforetak have no registration page; a LIS may not read it", func(t *testing.T) {
		hf := &tenants.Tenant{Slug: "hf-" + uuid.NewString()[:6], Name: "Test HF", Kind: tenants.KindHF}
		if err := tenants.Create(ctx, env.App, hf); err != nil {
			t.Fatal(err)
		}
		email, pass := newUser(t, cfg, "Hedda")
		person := personFor(t, cfg, email)
		if err := tenants.AddMembership(ctx, env.App, hf.ID, person, "tenant_admin"); err != nil {
			t.Fatal(err)
		}
		if err := tenants.AddMembership(ctx, env.App, f.kommune.ID, person, "lis"); err != nil {
			t.Fatal(err)
		}
		b := newBrowser(t, f.base)
		home := login(t, b, email, pass)
		if status, _, _ := b.get("/t/" + hf.Slug + "/utdanningsvirksomhet"); status != http.StatusNotFound {
			t.Fatalf("helseforetak page: %d", status)
		}
		if status, _, _ := b.get(page); status != http.StatusForbidden {
			t.Fatalf("LIS of the kommune: %d", status)
		}
		if strings.Contains(home, "Utdanningsvirksomhet") || strings.Contains(home, "Registreringer") {
			t.Fatal("the menu offers registration pages to someone who cannot use them")
		}
	})

	_, _, body := admin.get(page)
	token := csrfFrom(t, body)
	form := func(extra url.Values) url.Values {
		v := url.Values{"_csrf": {token}, "specialty": {"LIS1"}, "arena_count": {"1"}, "arena-0-name": {"Legesenteret"},
			"supervision": {"Ukentlig veiledning"}, "contact_name": {"Kari"}, "contact_email": {"kari@testvik.no"}}
		for k, vs := range extra {
			v[k] = vs
		}
		return v
	}

	t.Run("before the databehandleravtale is signed: step 1, and saving or sending is refused", func(t *testing.T) {
		if !strings.Contains(body, "Ikke signert") || !strings.Contains(body, `href="/t/`+f.kommune.Slug+`/databehandleravtale"`) ||
			strings.Contains(body, `data-testid="registration-form"`) {
			t.Fatalf("page before signing:\n%s", body)
		}
		for _, path := range []string{page, page + "/send"} {
			status, _, resp := admin.post(path, form(nil))
			if status != http.StatusConflict || !strings.Contains(resp, "må signere databehandleravtalen") {
				t.Fatalf("POST %s before signing: %d\n%s", path, status, resp)
			}
		}
	})

	f.sign(t)

	t.Run("sending without arenas: 422 with the message by the field, nothing saved", func(t *testing.T) {
		status, _, resp := admin.post(page+"/send", form(url.Values{"arena-0-name": {""}}))
		if status != http.StatusUnprocessableEntity || !strings.Contains(resp, "Du må legge inn minst én læringsarena.") ||
			!strings.Contains(resp, `href="#f-arenas"`) {
			t.Fatalf("send without arenas: %d\n%s", status, resp)
		}
		_, _, after := admin.get(page)
		if !strings.Contains(after, "Ikke påbegynt") {
			t.Fatalf("a refused submission stored something:\n%s", after)
		}
	})

	t.Run("a bad e-mail is shown next to its field; the draft saved before stays", func(t *testing.T) {
		if status, where, _ := admin.post(page, form(nil)); status != http.StatusOK || !strings.Contains(where, "lagret=1") {
			t.Fatalf("saving a draft: %d at %s", status, where)
		}
		status, _, resp := admin.post(page+"/send", form(url.Values{"contact_email": {"kari@"}, "supervision": {"Endret tekst"}}))
		if status != http.StatusUnprocessableEntity || !regexp.MustCompile(`(?s)id="f-contact_email".*?Skriv en gyldig e-postadresse`).MatchString(resp) {
			t.Fatalf("bad e-mail: %d\n%s", status, resp)
		}
		_, _, after := admin.get(page)
		if !strings.Contains(after, ">Ukentlig veiledning</textarea>") || !strings.Contains(after, "kari@testvik.no") || !strings.Contains(after, ">Utkast<") {
			t.Fatalf("the saved draft changed:\n%s", after)
		}
	})

	hdir := newBrowser(t, f.base)
	login(t, hdir, f.hdirEmail, f.hdirPassword)

	t.Run("Helsedirektoratet does not see drafts", func(t *testing.T) {
		_, _, queue := hdir.get("/hdir/registreringer")
		if strings.Contains(queue, "Testvik kommune") {
			t.Fatalf("the queue shows a draft:\n%s", queue)
		}
		var id uuid.UUID
		err := tenants.WithTenantTx(ctx, env.App, tenants.Scope{TenantID: f.kommune.ID}, func(ctx context.Context, tx bun.Tx) error {
			return tx.NewSelect().Table("registrations").Column("id").Where("tenant_id = ?", f.kommune.ID).Scan(ctx, &id)
		})
		if err != nil {
			t.Fatal(err)
		}
		if status, _, _ := hdir.get("/hdir/registreringer/" + f.kommune.Slug + "/" + id.String()); status != http.StatusNotFound {
			t.Fatalf("a draft's review page: %d", status)
		}
	})

	t.Run("deciding on a registration that is not sent is refused as a conflict", func(t *testing.T) {
		if status, _, _ := admin.post(page+"/send", form(nil)); status != http.StatusOK {
			t.Fatalf("sending: %d", status)
		}
		_, _, queue := hdir.get("/hdir/registreringer")
		m := regexp.MustCompile(`href="(/hdir/registreringer/` + f.kommune.Slug + `/[0-9a-f-]{36})"`).FindStringSubmatch(queue)
		if m == nil {
			t.Fatalf("the queue lacks the kommune:\n%s", queue)
		}
		_, _, detail := hdir.get(m[1])
		tok := csrfFrom(t, detail)
		status, _, resp := hdir.post(m[1]+"/beslutning", url.Values{"_csrf": {tok}, "decision": {"reject"}})
		if status != http.StatusUnprocessableEntity || !strings.Contains(resp, "Skriv en kommentar til virksomheten") {
			t.Fatalf("rejecting without a comment: %d\n%s", status, resp)
		}
		if status, _, _ := hdir.post(m[1]+"/beslutning", url.Values{"_csrf": {tok}, "decision": {"approve"}}); status != http.StatusOK {
			t.Fatalf("approving: %d", status)
		}
		status, _, resp = hdir.post(m[1]+"/beslutning", url.Values{"_csrf": {tok}, "decision": {"request_changes"}, "comment": {"For sent"}})
		if status != http.StatusConflict || !strings.Contains(resp, "«Godkjent»") {
			t.Fatalf("deciding again: %d\n%s", status, resp)
		}
		status, _, resp = admin.post(page, form(nil))
		if status != http.StatusConflict || !strings.Contains(resp, "godkjent og kan ikke endres") {
			t.Fatalf("changing an approved registration: %d\n%s", status, resp)
		}
	})
}

// regStatus runs steps that load a page and returns the page's HTTP status.
func regStatus(ctx context.Context, steps ...chromedp.Action[chromedp.Void]) (int64, error) {
	resp, err := chromedp.RunResponse(ctx, steps...)
	if err != nil {
		return 0, err
	}
	return resp.Status, nil
}

func regMain(ctx context.Context) (string, error) {
	return chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("main")))
}

// The kommune's onboarding wizard and Helsedirektoratet's review, in a phone-
// sized browser: the kommune admin fills in a draft and sends it; Hdir asks
// for changes with a comment; the admin sees the comment and sends again;
// Hdir approves; the admin sees "Godkjent".
func TestRegistrationJourneyInBrowser(t *testing.T) {
	f := newRegFixture(t)
	f.sign(t)
	page := f.base + "/t/" + f.kommune.Slug + "/utdanningsvirksomhet"

	adm := chromium(t)
	step := func(ctx context.Context, name string, err error) {
		t.Helper()
		if err != nil {
			screenshot(t, ctx, "registration-"+strings.ReplaceAll(name, " ", "-"))
			t.Fatalf("%s: %v", name, err)
		}
	}
	expect := func(ctx context.Context, name string, status, want int64, wants ...string) {
		t.Helper()
		html, err := regMain(ctx)
		step(ctx, name, err)
		if status != want {
			step(ctx, name, fmt.Errorf("status %d, want %d\n%s", status, want, html))
		}
		for _, w := range wants {
			if !strings.Contains(html, w) {
				step(ctx, name, fmt.Errorf("page lacks %q:\n%s", w, html))
			}
		}
	}

	step(adm, "admin login", browserLogin(adm, f.base, f.adminEmail, f.adminPass))
	status, err := regStatus(adm, chromedp.Navigate(page))
	step(adm, "open the page", err)
	expect(adm, "open the page", status, 200, "Signert", "Ikke påbegynt", `data-testid="registration-form"`)
	nav, err := chromedp.Run(adm, chromedp.OuterHTML(chromedp.CSS("nav.kp-nav")))
	step(adm, "menu", err)
	if !strings.Contains(nav, `href="/t/`+f.kommune.Slug+`/utdanningsvirksomhet"`) {
		step(adm, "menu", fmt.Errorf("no Utdanningsvirksomhet entry: %s", nav))
	}

	step(adm, "fill in the first arena", chromedp.Do(adm,
		chromedp.Click(chromedp.ID("f-specialty-LIS1")),
		chromedp.Click(chromedp.ID("f-specialty-ALM")),
		chromedp.SendKeys(chromedp.ID("f-arena-0-name"), "Sentrum legesenter"),
		chromedp.SendKeys(chromedp.ID("f-arena-0-description"), "Fastlegekontor med seks leger"),
		chromedp.Click(chromedp.CSS(`#f-arena-0-lis1 > summary`)),
	))
	for _, code := range []string{"KLK-001", "KLK-002"} {
		box := `input[name="arena-0-lis1"][value="` + code + `"]`
		// The list opens with an animation; a box is focusable once it ends.
		step(adm, "tick "+code, untilDone(adm, 3*time.Second, chromedp.SendKeys(chromedp.CSS(box), " ")))
		step(adm, "tick "+code, chromedp.Do(adm, chromedp.WaitVisible(chromedp.CSS(box+":checked"))))
	}
	step(adm, "fill in the first arena", chromedp.Do(adm, chromedp.SendKeys(chromedp.ID("f-arena-0-goals"), "ALM-001")))
	screenshot(t, adm, "registration-form")
	status, err = regStatus(adm, chromedp.Click(chromedp.CSS(`[data-testid="add-arena"]`)))
	step(adm, "add an arena", err)
	expect(adm, "add an arena", status, 200, `id="f-arena-1-name"`, `value="Sentrum legesenter"`, "(2 valgt)", ">Utkast<")

	step(adm, "fill in the rest", chromedp.Do(adm,
		chromedp.SendKeys(chromedp.ID("f-arena-1-name"), "Legevakten"),
		chromedp.SendKeys(chromedp.ID("f-supervision"), "Ukentlig individuell veiledning og gruppeveiledning annenhver uke."),
		chromedp.SendKeys(chromedp.ID("f-partner_agreements"), "Helse Bergen HF: sykehusdelen av LIS1"),
		chromedp.SendKeys(chromedp.ID("f-contact_name"), "Kari Kontakt"),
		chromedp.SendKeys(chromedp.ID("f-contact_email"), "kari@testvik"),
		chromedp.SendKeys(chromedp.ID("f-contact_phone"), "55 55 55 55"),
	))
	status, err = regStatus(adm, chromedp.Click(chromedp.CSS(`[data-testid="submit"]`)))
	step(adm, "send with a bad e-mail", err)
	expect(adm, "send with a bad e-mail", status, 422, `data-testid="error-summary"`, "Skriv en gyldig e-postadresse", `value="Legevakten"`)
	screenshot(t, adm, "registration-refused")

	step(adm, "fix the e-mail", chromedp.Do(adm, chromedp.SetValue(chromedp.ID("f-contact_email"), "kari@testvik.kommune.no")))
	status, err = regStatus(adm, chromedp.Click(chromedp.CSS(`[data-testid="submit"]`)))
	step(adm, "send", err)
	expect(adm, "send", status, 200, "Registreringen er sendt til Helsedirektoratet", "Sendt til Helsedirektoratet", "Sentrum legesenter", "KLK-001, KLK-002, ALM-001")
	registeredOn, err := chromedp.Run(adm, chromedp.Text(chromedp.CSS(`[data-testid="registered-on"]`)))
	step(adm, "registration date", err)
	screenshot(t, adm, "registration-sent")

	hd := chromium(t)
	step(hd, "hdir login", browserLogin(hd, f.base, f.hdirEmail, f.hdirPassword))
	status, err = regStatus(hd, chromedp.Navigate(f.base+"/hdir/registreringer"))
	step(hd, "queue", err)
	expect(hd, "queue", status, 200, "Testvik kommune", "Kommune", registeredOn)
	status, err = regStatus(hd, chromedp.Click(chromedp.CSS(`a[href^="/hdir/registreringer/`+f.kommune.Slug+`/"]`)))
	step(hd, "open the registration", err)
	expect(hd, "open the registration", status, 200, "Sentrum legesenter", "Legevakten", "KLK-001, KLK-002", "Helse Bergen HF", "kari@testvik.kommune.no")
	step(hd, "write a comment", chromedp.Do(hd, chromedp.SendKeys(chromedp.ID("f-comment"), "Beskriv legevakten nærmere.")))
	status, err = regStatus(hd, chromedp.Click(chromedp.CSS(`[data-testid="request-changes"]`)))
	step(hd, "ask for changes", err)
	expect(hd, "ask for changes", status, 200, "sendt tilbake til virksomheten", "Endringer ønsket", "Beskriv legevakten nærmere.")
	reviewURL, err := chromedp.Run(hd, chromedp.Location())
	step(hd, "location", err)

	status, err = regStatus(adm, chromedp.Navigate(page))
	step(adm, "see the comment", err)
	expect(adm, "see the comment", status, 200, `data-testid="feedback"`, "Beskriv legevakten nærmere.", "Endringer ønsket", "Send på nytt")
	step(adm, "describe the arena", chromedp.Do(adm, chromedp.SendKeys(chromedp.ID("f-arena-1-description"), "Interkommunal legevakt, døgnåpen")))
	status, err = regStatus(adm, chromedp.Click(chromedp.CSS(`[data-testid="submit"]`)))
	step(adm, "send again", err)
	expect(adm, "send again", status, 200, "Sendt til Helsedirektoratet", "Sendt på nytt til Helsedirektoratet", registeredOn)

	status, err = regStatus(hd, chromedp.Navigate(strings.SplitN(reviewURL, "?", 2)[0]))
	step(hd, "open again", err)
	expect(hd, "open again", status, 200, "Interkommunal legevakt, døgnåpen")
	status, err = regStatus(hd, chromedp.Click(chromedp.CSS(`[data-testid="approve"]`)))
	step(hd, "approve", err)
	expect(hd, "approve", status, 200, "Registreringen er godkjent.", ">Godkjent<")

	status, err = regStatus(adm, chromedp.Navigate(page))
	step(adm, "see the approval", err)
	expect(adm, "see the approval", status, 200, ">Godkjent<", "Godkjent av Helsedirektoratet", "Hanne Testesen (Helsedirektoratet)", registeredOn)
	html, _ := regMain(adm)
	if strings.Contains(html, `data-testid="registration-form"`) || strings.Count(html, `data-testid="history-entry"`) != 4 {
		step(adm, "approved page", fmt.Errorf("an approved registration is editable or its history is wrong:\n%s", html))
	}
	screenshot(t, adm, "registration-approved")
}
