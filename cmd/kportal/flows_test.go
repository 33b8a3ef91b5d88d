package main

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"kportal/storage/testenv"
)

// A newcomer registers on kportal's own page: name and e-mail first, then a
// password; they are signed in at once.
func TestRegistrationThroughKratosFlow(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	b := newBrowser(t, srv.URL)
	email := testenv.UniqueEmail("ny")
	status, where, page := b.get("/registrer")
	if status != 200 || !strings.HasPrefix(where, "/registrer?flow=") || !strings.Contains(page, "Fornavn") {
		t.Fatalf("registration page: %d at %s\n%s", status, where, page)
	}
	status, _, page = b.submit(page, "profile", url.Values{"traits.email": {email}, "traits.name.given": {"Åse"}, "traits.name.family": {"Ødegård"}, "method": {"profile"}})
	if status != 200 || !strings.Contains(page, `data-group="password"`) {
		t.Fatalf("after the profile step: %d\n%s", status, page)
	}
	t.Run("a too short password gets a Norwegian message", func(t *testing.T) {
		status, _, again := b.submit(page, "password", url.Values{"password": {"kort"}, "method": {"password"}})
		if status != http.StatusUnprocessableEntity || !strings.Contains(again, "Passordet må ha minst 10 tegn") {
			t.Fatalf("%d\n%s", status, again)
		}
		page = again
	})
	// Registered and signed in; Kratos has mailed a code, and the next page asks for it.
	status, where, page = b.submit(page, "password", url.Values{"password": {"et-langt-nok-passord-42"}, "method": {"password"}})
	if status != 200 || !strings.HasPrefix(where, "/bekreft-epost?flow=") || !strings.Contains(page, "Skriv den inn for å bekrefte adressen") {
		t.Fatalf("after registering: %d at %s\n%s", status, where, page)
	}
	status, _, page = b.submit(page, "code", url.Values{"code": {verificationCode(t, email, 1)}, "method": {"code"}})
	if status != 200 || !strings.Contains(page, "E-postadressen din er bekreftet") || !strings.Contains(page, `href="/" data-testid="continue"`) {
		t.Fatalf("after the verification code: %d\n%s", status, page)
	}
	if _, where, home := b.get("/"); where != "/" || !strings.Contains(home, "Hei, Åse") {
		t.Fatalf("home after registering: at %s\n%s", where, home)
	}
	t.Run("the same e-mail cannot register twice", func(t *testing.T) {
		other := newBrowser(t, srv.URL)
		_, _, p := other.get("/registrer")
		status, _, p = other.submit(p, "profile", url.Values{"traits.email": {email}, "traits.name.given": {"Å"}, "traits.name.family": {"Ø"}, "method": {"profile"}})
		if status == 200 && strings.Contains(p, `data-group="password"`) {
			status, _, p = other.submit(p, "password", url.Values{"password": {"et-annet-passord-99"}, "method": {"password"}})
		}
		if status != http.StatusUnprocessableEntity || !strings.Contains(p, "Det finnes allerede en bruker med denne e-postadressen") {
			t.Fatalf("%d\n%s", status, p)
		}
	})
}

var codeRe = regexp.MustCompile(`Koden din er: (\d{6})`)

// verificationCode waits for the n-th mail to address asking to verify it and
// returns its code.
func verificationCode(t *testing.T, address string, n int) string {
	t.Helper()
	mail := testenv.WaitForMails(t, address, n, 20*time.Second)[n-1]
	m := codeRe.FindStringSubmatch(mail.Text)
	if mail.Subject != "Bekreft e-postadressen din i kportal" || m == nil {
		t.Fatalf("verification mail: %q\n%s", mail.Subject, mail.Text)
	}
	return m[1]
}

// codeJourney starts the flow at path as a new user, asks for an e-mail code
// with fields, checks the page's notice and the mail's subject, and submits
// the code. It returns the browser, the user's e-mail and where it ended.
func codeJourney(t *testing.T, given, path string, fields func(email string) url.Values, notice, subject string) (b *browser, email string, status int, where, page string) {
	t.Helper()
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	email, _ = newUser(t, cfg, given)
	b = newBrowser(t, srv.URL)
	_, _, page = b.get(path)
	status, _, page = b.submit(page, "code", fields(email))
	if status != 200 || !strings.Contains(page, notice) {
		t.Fatalf("after asking for a code: %d\n%s", status, page)
	}
	mail := testenv.WaitForMails(t, email, 1, 20*time.Second)[0]
	m := codeRe.FindStringSubmatch(mail.Text)
	if mail.Subject != subject || m == nil {
		t.Fatalf("mail: %q\n%s", mail.Subject, mail.Text)
	}
	status, where, page = b.submit(page, "code", url.Values{"code": {m[1]}, "method": {"code"}})
	return b, email, status, where, page
}

// A person who forgot the password gets a code by e-mail, is signed in by it,
// sets a new password, and signs in with that.
func TestRecoveryByEmailCode(t *testing.T) {
	b, email, status, where, page := codeJourney(t, "Glemsk", "/glemt-passord",
		func(email string) url.Values { return url.Values{"email": {email}, "method": {"code"}} },
		"Vi har sendt en kode", "Kode for å tilbakestille passordet i kportal")
	if status != 200 || !strings.HasPrefix(where, "/innstillinger?flow=") || !strings.Contains(page, "Endre passord") {
		t.Fatalf("after the code: %d at %s\n%s", status, where, page)
	}
	status, _, page = b.submit(page, "password", url.Values{"password": {"nytt-og-bedre-passord-7"}, "method": {"password"}})
	if status != 200 || !strings.Contains(page, "Endringene er lagret") {
		t.Fatalf("after the new password: %d\n%s", status, page)
	}
	fresh := newBrowser(t, b.base)
	if home := login(t, fresh, email, "nytt-og-bedre-passord-7"); !strings.Contains(home, "Hei, Glemsk") {
		t.Fatalf("login with the new password:\n%s", home)
	}
}

// Signing in with a one-time code sent by e-mail, no password.
func TestLoginByEmailCode(t *testing.T) {
	_, _, status, where, home := codeJourney(t, "Kode", "/logg-inn",
		func(email string) url.Values { return url.Values{"identifier": {email}, "method": {"code"}} },
		"Vi har sendt en engangskode", "Innloggingskode for kportal")
	if status != 200 || where != "/" || !strings.Contains(home, "Hei, Kode") {
		t.Fatalf("after the code: %d at %s\n%s", status, where, home)
	}
}
