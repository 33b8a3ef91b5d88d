package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"kportal/storage/testenv"
	"kportal/tenants"
)

// noFollow is the browser's client without following redirects, so a test
// sees where kportal would send it.
func (b *browser) noFollow() *http.Client {
	return &http.Client{Jar: b.c.Jar, Timeout: b.c.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// After signing in, kportal sends the person back only to a page of its own:
// the known bypasses of a prefix check all go home.
func TestSecurityLoginReturnToStaysOnSite(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	email, password := newUser(t, cfg, "Retur")
	bypasses := []string{"/%09/evil.example", "/%0a/evil.example", "/\\evil.example", "/%2F/evil.example", "/%5Cevil.example",
		"https://evil.example", "HTTPS://evil.example", "//evil.example", "https:evil.example"}

	t.Run("signing in with the form", func(t *testing.T) {
		b := newBrowser(t, srv.URL)
		_, where, page := b.get("/logg-inn?return_to=" + url.QueryEscape(bypasses[0]))
		if strings.Contains(where, "evil") || strings.Contains(page, "evil") {
			t.Fatalf("the login page keeps the address: at %s", where)
		}
		status, where, _ := b.submit(page, "password", url.Values{"identifier": {email}, "password": {password}, "method": {"password"}})
		if status != 200 || where != "/" {
			t.Fatalf("after login: %d at %s", status, where)
		}
	})
	t.Run("already signed in", func(t *testing.T) {
		b := newBrowser(t, srv.URL)
		login(t, b, email, password)
		for _, p := range bypasses {
			resp, err := b.noFollow().Get(srv.URL + "/logg-inn?return_to=" + url.QueryEscape(p))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/" {
				t.Errorf("return_to %q: %d to %q, want 303 to /", p, resp.StatusCode, loc)
			}
		}
		resp, err := b.noFollow().Get(srv.URL + "/logg-inn?return_to=" + url.QueryEscape("/roller"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); loc != "/roller" {
			t.Fatalf("a page of kportal's own: to %q", loc)
		}
	})
}

// lisInvitation makes a LIS in a new kommune invite someone as leder and
// returns the tenant, the LIS and the link's token.
func lisInvitation(t *testing.T, cfg *config, email string) (*tenants.Tenant, tenants.Actor, string) {
	t.Helper()
	lisEmail, _ := newUser(t, cfg, "Lisbet")
	tn := peopleTenant(t, cfg, tenants.KindKommune, map[string][]string{lisEmail: {"lis"}})
	lis := tenants.Actor{PersonID: personFor(t, cfg, lisEmail), Name: "Lisbet Testesen"}
	_, token, err := tenants.InviteForLIS(context.Background(), testenv.Get(t).App, tn.ID, lis, email, "leder")
	if err != nil {
		t.Fatal(err)
	}
	return tn, lis, token
}

// unchanged fails the test when the invitation was used or gave the person
// anything.
func unchanged(t *testing.T, token string, person uuid.UUID) {
	t.Helper()
	db := testenv.Get(t).App
	inv, _, err := tenants.InvitationByToken(context.Background(), db, token)
	if err != nil || inv.State(time.Now()) != tenants.InvitationPending {
		t.Fatalf("the invitation after a refusal: %+v %v", inv, err)
	}
	if ms, _ := tenants.ForPerson(context.Background(), db, person); len(ms) != 0 {
		t.Fatalf("a refusal granted %+v", ms)
	}
	if rs, _ := tenants.RelationsOf(context.Background(), db, person); len(rs) != 0 {
		t.Fatalf("a refusal made relations %+v", rs)
	}
}

// An invitation link is not a bearer token: someone signed in with another
// address, or with the invited address unverified, is told which address it
// is for and gets nothing; once the invited address is verified (here by a
// newcomer who registered from the link, in another letter case), accepting
// works.
func TestSecurityInvitationNeedsTheVerifiedInvitedAddress(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	invited := testenv.UniqueEmail("ny-leder")
	tn, lis, token := lisInvitation(t, cfg, invited)

	t.Run("signed in with another address", func(t *testing.T) {
		email, password := newUser(t, cfg, "Videresendt")
		b := newBrowser(t, srv.URL)
		login(t, b, email, password)
		status, where, page := b.get("/invitasjon/" + token)
		masked := invited[:1] + "•••@test.kportal.no"
		if status != 200 || where != "/invitasjon" || !strings.Contains(page, `data-testid="wrong-address"`) || !strings.Contains(page, masked) ||
			strings.Contains(page, invited) || strings.Contains(page, `data-testid="accept"`) {
			t.Fatalf("the page for another address: %d at %s\n%s", status, where, page)
		}
		status, _, page = b.post("/invitasjon", url.Values{"_csrf": {csrfFrom(t, page)}})
		if status != http.StatusForbidden || !strings.Contains(page, "Invitasjonen gjelder "+masked) {
			t.Fatalf("accepting with another address: %d\n%s", status, page)
		}
		unchanged(t, token, personFor(t, cfg, email))
		// "Logg ut og bytt bruker" leads to signing in, and back here.
		_, where, _ = b.post("/logg-ut", url.Values{"_csrf": {csrfFrom(t, page)}, "return_to": {"/invitasjon"}})
		if !strings.HasPrefix(where, "/logg-inn?") || !strings.Contains(where, "return_to=%2Finvitasjon") {
			t.Fatalf("after switching user: at %s", where)
		}
	})

	// A newcomer registers from the link with the invited address, typed in
	// another case, and does not verify it at first.
	b := newBrowser(t, srv.URL)
	_, _, page := b.get("/invitasjon/" + token)
	_, where, page := b.get("/registrer?return_to=" + url.QueryEscape("/invitasjon"))
	if !strings.HasPrefix(where, "/registrer?") {
		t.Fatalf("registration: at %s", where)
	}
	typed := strings.ToUpper(invited[:1]) + invited[1:]
	_, _, page = b.submit(page, "profile", url.Values{"traits.email": {typed}, "traits.name.given": {"Nora"}, "traits.name.family": {"Nyleder"}, "method": {"profile"}})
	status, where, _ := b.submit(page, "password", url.Values{"password": {"et-langt-nok-passord-42"}, "method": {"password"}})
	if status != 200 || !strings.HasPrefix(where, "/bekreft-epost?") || !strings.Contains(where, "return_to=%2Finvitasjon") {
		t.Fatalf("after registering: %d at %s", status, where)
	}
	verificationCode(t, invited, 1) // mailed; not used yet
	newcomer := personFor(t, cfg, invited)

	t.Run("signed in with the invited address not verified", func(t *testing.T) {
		_, _, page := b.get("/invitasjon")
		if !strings.Contains(page, `data-testid="must-verify"`) || !strings.Contains(strings.ToLower(page), `href="/bekreft-epost?return_to=%2finvitasjon"`) || strings.Contains(page, `data-testid="accept"`) {
			t.Fatalf("the page for an unverified address:\n%s", page)
		}
		status, _, _ := b.post("/invitasjon", url.Values{"_csrf": {csrfFrom(t, page)}})
		if status != http.StatusForbidden {
			t.Fatalf("accepting unverified: %d", status)
		}
		unchanged(t, token, newcomer)
	})

	// Verifying from the invitation page: a code by e-mail, then back.
	_, where, page = b.get("/bekreft-epost?return_to=" + url.QueryEscape("/invitasjon"))
	status, _, page = b.submit(page, "code", url.Values{"email": {typed}, "method": {"code"}})
	if status != 200 || !strings.Contains(page, "Skriv den inn for å bekrefte adressen") {
		t.Fatalf("asking for a verification code (from %s): %d\n%s", where, status, page)
	}
	status, _, page = b.submit(page, "code", url.Values{"code": {verificationCode(t, invited, 2)}, "method": {"code"}})
	if status != 200 || !strings.Contains(page, "E-postadressen din er bekreftet") || !strings.Contains(page, `href="/invitasjon" data-testid="continue"`) {
		t.Fatalf("after the code: %d\n%s", status, page)
	}
	_, _, page = b.get("/invitasjon")
	status, where, _ = b.post("/invitasjon", url.Values{"_csrf": {csrfFrom(t, page)}})
	if status != 200 || where != "/t/"+tn.Slug+"/" {
		t.Fatalf("accepting with the verified address: %d at %s\n%s", status, where, page)
	}
	rs, _ := tenants.RelationsOf(context.Background(), testenv.Get(t).App, newcomer)
	if len(rs) != 1 || rs[0].LisID != lis.PersonID || rs[0].Kind != "leder" {
		t.Fatalf("relations after accepting: %+v", rs)
	}
}

// An invitation link's token is a secret: the request log shows the route
// pattern, and the token leaves the address bar at once, so it travels in no
// return_to and no later URL.
func TestSecurityInvitationTokenStaysOutOfLogsAndURLs(t *testing.T) {
	cfg := testConfig(t)
	a, err := openApp(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	logs := &testenv.LogBuffer{}
	a.log = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := httptest.NewServer(a.server())
	t.Cleanup(func() { srv.Close(); a.close() })
	_, _, token := lisInvitation(t, cfg, testenv.UniqueEmail("logg"))

	b := newBrowser(t, srv.URL)
	var visited []string
	b.c.CheckRedirect = func(r *http.Request, _ []*http.Request) error {
		visited = append(visited, r.URL.RequestURI())
		return nil
	}
	status, where, page := b.get("/invitasjon/" + token)
	if status != 200 || where != "/invitasjon" || strings.Contains(page, token) {
		t.Fatalf("opening the link: %d at %s (token on the page: %v)", status, where, strings.Contains(page, token))
	}
	for _, link := range []string{"/registrer?return_to=%2finvitasjon", "/logg-inn?return_to=%2finvitasjon"} {
		if !strings.Contains(strings.ToLower(page), `href="`+link+`"`) {
			t.Fatalf("no link to %s on the page:\n%s", link, page)
		}
		b.get(link)
	}
	b.get("/invitasjon/ukjent-" + token[:10])
	for _, u := range visited {
		if strings.Contains(u, token) {
			t.Errorf("the token travels in %s", u)
		}
	}
	out := logs.String()
	if strings.Contains(out, token) || strings.Contains(out, token[:10]) {
		t.Fatalf("the token is in the log:\n%s", out)
	}
	if !strings.Contains(out, `"path":"/invitasjon/:token"`) {
		t.Fatalf("the request log does not show the route:\n%s", out)
	}
}
