package main

import (
	"context"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/chromedp/chromedp"

	"kportal/modules/agreements"
	"kportal/modules/pdfdoc/pdftext"
	"kportal/tenants"
	"kportal/workers"
)

var agrReceiptRe = regexp.MustCompile(`href="(/t/[a-z0-9-]+/databehandleravtale/kvittering/([0-9a-f-]{36}))"`)

// agrDownload fetches a receipt and checks it is the PDF of version.
func agrDownload(t *testing.T, b *browser, href, version string) {
	t.Helper()
	resp, err := b.c.Get(b.base + href)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	pdf, _ := io.ReadAll(resp.Body)
	text, err := pdftext.Text(pdf)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pdf" ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") || err != nil ||
		!strings.Contains(text, "Avtaleversjon") || !strings.Contains(text, version+" (publisert") {
		t.Fatalf("receipt %s: %d %q %q, %d bytes", href, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"), len(pdf))
	}
}

// A kommune's administrator opens the agreement in a phone-sized browser,
// signs it, sees it signed and downloads the receipt.
func TestAgreementBrowserSignAndReceipt(t *testing.T) {
	cfg := testConfig(t)
	a, srv := startApp(t, cfg, false)
	kommune := testTenant(t, "Ås kommune", tenants.KindKommune)
	email, password, _ := member(t, cfg, "Astrid", kommune, "tenant_admin")
	page := "/t/" + kommune.Slug + "/databehandleravtale"

	ctx := chromium(t)
	var nav, status string
	err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/t/"+kommune.Slug+"/"),
		chromedp.WaitVisible(chromedp.CSS(`form[data-group="password"] input[name="identifier"]`)),
		chromedp.SendKeys(chromedp.CSS(`form[data-group="password"] input[name="identifier"]`), email),
		chromedp.SendKeys(chromedp.CSS(`form[data-group="password"] input[name="password"]`), password),
		chromedp.Click(chromedp.CSS(`form[data-group="password"] button[value="password"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.kp-nav a[href="`+page+`"]`)),
	)
	if err == nil {
		// The tenant's home page asks for the signature in the menu.
		nav, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`.kp-nav a[href="`+page+`"]`)))
	}
	if err != nil || nav != "Databehandleravtale – må signeres" {
		screenshot(t, ctx, "agreement-home")
		t.Fatalf("tenant home: menu entry %q, %v", nav, err)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`.kp-nav a[href="`+page+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="agreement-status"][data-state="none"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="agreement-text"]`)),
		chromedp.SendKeys(chromedp.CSS(`#agreement-title`), "Kommunaldirektør"),
		chromedp.Click(chromedp.CSS(`#agreement-confirm`)),
	)
	if err != nil {
		screenshot(t, ctx, "agreement-form")
		t.Fatalf("agreement page: %v", err)
	}
	screenshot(t, ctx, "agreement-form")
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`form[data-group="agreement"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="agreement-notice"]`)),
	)
	if err == nil {
		status, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid="agreement-status"]`)))
	}
	if err == nil {
		nav, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`.kp-nav a[href="`+page+`"]`)))
	}
	var href string
	if err == nil {
		href, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('[data-testid="receipt-link"]').getAttribute('href')`))
	}
	if err != nil || !strings.Contains(status, "Avtalen er signert") || !strings.Contains(status, "Astrid Testesen (Kommunaldirektør)") ||
		nav != "Databehandleravtale" || !strings.HasPrefix(href, page+"/kvittering/") {
		screenshot(t, ctx, "agreement-signed")
		t.Fatalf("after signing: status %q, menu %q, receipt %q, %v", status, nav, href, err)
	}
	screenshot(t, ctx, "agreement-signed")

	// The receipt downloads (HTTP, signed in as the same person).
	b := newBrowser(t, srv.URL)
	login(t, b, email, password)
	agrDownload(t, b, href, "2026-1")
	sig, err := agreements.InForce(context.Background(), a.db, kommune.ID)
	if err != nil || sig == nil || sig.Version != "2026-1" || sig.SignerTitle != "Kommunaldirektør" || !strings.HasSuffix(href, sig.ID.String()) {
		t.Fatalf("in force: %+v %v", sig, err)
	}
}

// Refusals over HTTP: bad input and an outdated version change nothing; the
// same version is not signed twice; other tenants' people get 404; the pages
// do not exist for a helseforetak.
func TestAgreementHTTPRefusalsAndIsolation(t *testing.T) {
	cfg := testConfig(t)
	a, srv := startApp(t, cfg, false)
	ctx := context.Background()
	kommune := testTenant(t, "Vik kommune", tenants.KindKommune)
	other := testTenant(t, "Bø kommune", tenants.KindKommune)
	hf := testTenant(t, "Helse Test HF", tenants.KindHF)
	adminEmail, adminPassword, _ := member(t, cfg, "Vigdis", kommune, "tenant_admin")
	page := "/t/" + kommune.Slug + "/databehandleravtale"
	b := newBrowser(t, srv.URL)
	login(t, b, adminEmail, adminPassword)

	status, _, form := b.get(page)
	if status != 200 || !strings.Contains(form, "Avtalen er ikke signert") || !strings.Contains(form, "Behandlingsansvarlig: Vik kommune, kommunenummer 3218") {
		t.Fatalf("page: %d\n%s", status, form)
	}
	nothingSigned := func(t *testing.T) {
		t.Helper()
		if sig, err := agreements.InForce(ctx, a.db, kommune.ID); sig != nil || err != nil {
			t.Fatalf("a signature was recorded: %+v %v", sig, err)
		}
	}
	fields := url.Values{"title": {"Rådmann"}, "confirm": {"yes"}}
	t.Run("bad input: a Norwegian message, nothing written", func(t *testing.T) {
		cases := []struct {
			name   string
			fields url.Values
			status int
			msg    string
		}{
			{"empty title", url.Values{"title": {" "}, "confirm": {"yes"}}, 422, "Skriv inn tittelen"},
			{"not confirmed", url.Values{"title": {"Rådmann"}}, 422, "Bekreft at du har lest avtalen"},
			{"wrong checksum", url.Values{"title": {"Rådmann"}, "confirm": {"yes"}, "checksum": {strings.Repeat("a", 64)}}, 422, "stemmer ikke"},
			{"made-up version", url.Values{"title": {"Rådmann"}, "confirm": {"yes"}, "version": {"2099-1"}}, 409, "oppdatert til versjon 2026-1"},
		}
		for _, c := range cases {
			status, _, body := b.submit(form, "agreement", c.fields)
			if status != c.status || !strings.Contains(body, c.msg) || !strings.Contains(body, `data-testid="agreement-error"`) {
				t.Errorf("%s: %d\n%s", c.name, status, body)
			}
		}
		nothingSigned(t)
	})

	mod, _ := a.host.Module("agreements")
	store := mod.(*agreements.Module).Store()
	signatures := func(t *testing.T) int {
		t.Helper()
		sigs, err := store.Signatures(ctx, kommune.ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(sigs)
	}
	t.Run("sign, then not again", func(t *testing.T) {
		status, where, body := b.submit(form, "agreement", fields)
		if status != 200 || where != page+"?signert=1" || !strings.Contains(body, "Avtalen er signert") || !strings.Contains(body, "Versjon 2026-1 ble signert") ||
			!strings.Contains(body, ">Databehandleravtale</a>") {
			t.Fatalf("signing: %d at %s\n%s", status, where, body)
		}
		status, _, body = b.submit(form, "agreement", fields)
		if status != 409 || !strings.Contains(body, "har allerede signert versjon 2026-1") || signatures(t) != 1 {
			t.Fatalf("signing twice: %d\n%s", status, body)
		}
	})

	// 2026-2 is published: the kommune is asked to sign it, 2026-1 stays in
	// force, and the form for 2026-1 someone still has open is refused.
	first, err := fs.ReadFile(agreements.EmbeddedVersions(), "2026-1.md")
	if err != nil {
		t.Fatal(err)
	}
	today := time.Now().In(workers.Oslo).Format("2006-01-02")
	second := strings.Replace(string(first), "id: 2026-1\npublished: 2026-11-01", "id: 2026-2\npublished: "+today, 1)
	if err := store.UseVersions(fstest.MapFS{"2026-1.md": {Data: first}, "2026-2.md": {Data: []byte(second)}}); err != nil {
		t.Fatal(err)
	}
	t.Run("a new version is asked for, the old one stays in force", func(t *testing.T) {
		status, _, body := b.get(page)
		if status != 200 || !strings.Contains(body, "Ny versjon må signeres") || !strings.Contains(body, "Dere har signert versjon 2026-1") ||
			!strings.Contains(body, "Databehandleravtale – må signeres") || !strings.Contains(body, "Signer versjon 2026-2") {
			t.Fatalf("page after 2026-2: %d\n%s", status, body)
		}
		if _, _, home := b.get("/t/" + kommune.Slug + "/"); !strings.Contains(home, "Databehandleravtale – må signeres") {
			t.Fatalf("the tenant's home page does not ask for the signature:\n%s", home)
		}
		if sig, err := agreements.InForce(ctx, a.db, kommune.ID); err != nil || sig == nil || sig.Version != "2026-1" {
			t.Fatalf("in force: %+v %v", sig, err)
		}
	})
	t.Run("the outdated version is refused", func(t *testing.T) {
		status, _, body := b.submit(form, "agreement", fields) // the form still says 2026-1
		if status != 409 || !strings.Contains(body, "Databehandleravtalen er oppdatert til versjon 2026-2") || !strings.Contains(body, "Signer versjon 2026-2") ||
			signatures(t) != 1 {
			t.Fatalf("outdated version: %d\n%s", status, body)
		}
	})
	var receipt, receiptID string
	t.Run("sign the new version", func(t *testing.T) {
		_, _, form := b.get(page)
		status, _, body := b.submit(form, "agreement", fields)
		if status != 200 || !strings.Contains(body, "Versjon 2026-2 ble signert") || signatures(t) != 2 {
			t.Fatalf("signing 2026-2: %d\n%s", status, body)
		}
		links := agrReceiptRe.FindAllStringSubmatch(body, -1)
		if len(links) != 2 {
			t.Fatalf("%d receipt links:\n%s", len(links), body)
		}
		receipt, receiptID = links[0][1], links[0][2] // newest first
		agrDownload(t, b, receipt, "2026-2")
		agrDownload(t, b, links[1][1], "2026-1")
		if sig, err := agreements.InForce(ctx, a.db, kommune.ID); err != nil || sig.ID.String() != receiptID {
			t.Fatalf("in force: %+v %v", sig, err)
		}
	})

	t.Run("another tenant's people get 404", func(t *testing.T) {
		email, password, _ := member(t, cfg, "Bjarne", other, "tenant_admin")
		ob := newBrowser(t, srv.URL)
		login(t, ob, email, password)
		for _, path := range []string{receipt, page, "/t/" + other.Slug + "/databehandleravtale/kvittering/" + receiptID} {
			if status, _, _ := ob.get(path); status != http.StatusNotFound {
				t.Errorf("%s: %d, want 404", path, status)
			}
		}
		if status, _, body := ob.get("/t/" + other.Slug + "/databehandleravtale"); status != 200 || !strings.Contains(body, "Avtalen er ikke signert") {
			t.Fatalf("the other kommune's own page: %d", status)
		}
	})
	t.Run("a LIS in the kommune may not read it", func(t *testing.T) {
		email, password, _ := member(t, cfg, "Lise", kommune, "lis")
		lb := newBrowser(t, srv.URL)
		login(t, lb, email, password)
		_, _, home := lb.get("/t/" + kommune.Slug + "/")
		if strings.Contains(home, "Databehandleravtale") {
			t.Error("a LIS sees the agreement in the menu")
		}
		for _, path := range []string{page, receipt} {
			if status, _, _ := lb.get(path); status != http.StatusForbidden {
				t.Errorf("%s as LIS: %d, want 403", path, status)
			}
		}
	})
	t.Run("not applicable to a helseforetak", func(t *testing.T) {
		email, password, _ := member(t, cfg, "Hege", hf, "tenant_admin")
		hb := newBrowser(t, srv.URL)
		login(t, hb, email, password)
		_, _, home := hb.get("/t/" + hf.Slug + "/")
		if strings.Contains(home, "Databehandleravtale") {
			t.Error("a helseforetak's admin sees the agreement in the menu")
		}
		if status, _, _ := hb.get("/t/" + hf.Slug + "/databehandleravtale"); status != http.StatusNotFound {
			t.Errorf("helseforetak page: %d, want 404", status)
		}
		csrf := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindStringSubmatch(home)
		if csrf == nil {
			t.Fatalf("no CSRF token on the home page:\n%s", home)
		}
		if status, _, _ := hb.post("/t/"+hf.Slug+"/databehandleravtale/signer", url.Values{"_csrf": {csrf[1]}, "title": {"X"}, "confirm": {"yes"}}); status != http.StatusNotFound {
			t.Errorf("helseforetak signing: %d, want 404", status)
		}
	})
}
