package main

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/uptrace/bun"

	"kportal/modules/ratelimit"
	"kportal/storage/testenv"
	"kportal/tenants"
)

// limitedConfig is the test configuration with only the given limits (small
// ones, so a test reaches them at once). The counts live in the package's
// Redis database, shared by every test here: they are cleared before and
// after, so neither these tests nor the others inherit spent limits.
func limitedConfig(t *testing.T, limits map[ratelimit.Kind]string) *config {
	t.Helper()
	cfg := testConfig(t)
	cfg.Limits = map[ratelimit.Kind]ratelimit.Limit{}
	for k, s := range limits {
		l, err := ratelimit.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Limits[k] = l
	}
	clearLimits(t)
	t.Cleanup(func() { clearLimits(t) })
	return cfg
}

func clearLimits(t *testing.T) {
	ctx := context.Background()
	rdb := testenv.Get(t).Redis()
	defer rdb.Close()
	keys, err := rdb.Keys(ctx, "rate:kportal:*").Result()
	if err == nil && len(keys) > 0 {
		err = rdb.Del(ctx, keys...).Err()
	}
	if err != nil {
		t.Error(err)
	}
}

// send posts a form with extra headers and returns the final response (its
// headers included) and body.
func (b *browser) send(path string, form url.Values, header http.Header) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// wantLimited checks a 429 with a Retry-After of at most limit seconds and,
// for a page, the message shown in it.
func wantLimited(t *testing.T, what string, resp *http.Response, body, message string, limit time.Duration) {
	t.Helper()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("%s: %d, want 429\n%s", what, resp.StatusCode, body)
	}
	secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || secs < 1 || time.Duration(secs)*time.Second > limit {
		t.Fatalf("%s: Retry-After %q, want 1..%d seconds", what, resp.Header.Get("Retry-After"), int(limit.Seconds()))
	}
	if !strings.Contains(body, message) {
		t.Fatalf("%s: the page does not say %q:\n%s", what, message, body)
	}
}

func wantJSONLimited(t *testing.T, what string, resp *http.Response, body string) {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string }
	}
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" ||
		json.Unmarshal([]byte(body), &e) != nil || e.Error.Code != "rate_limited" || !strings.Contains(e.Error.Message, "Prøv igjen om") {
		t.Fatalf("%s: %d, Retry-After %q: %s", what, resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
}

var asJSON = http.Header{"Accept": {"application/json"}}

// Password guessing: the fourth attempt for one e-mail within the limit is
// refused, whichever of two kportal instances (one Redis) it reaches, before
// Kratos checks anything (the right password too); the page keeps the e-mail
// typed; another e-mail signs in as before.
func TestHardeningLoginLimitedPerEmailAcrossInstances(t *testing.T) {
	cfg := limitedConfig(t, map[ratelimit.Kind]string{ratelimit.SignIn: "3/1h"})
	_, one := startApp(t, cfg, false)
	_, two := startApp(t, cfg, false)
	email, password := newUser(t, cfg, "Gjett")
	other, otherPassword := newUser(t, cfg, "Annen")
	b1, b2 := newBrowser(t, one.URL), newBrowser(t, two.URL)
	_, _, p1 := b1.get("/logg-inn")
	_, _, p2 := b2.get("/logg-inn")
	guess := func(b *browser, page, identifier string, header http.Header) (*http.Response, string) {
		action, form := formOf(t, page, "password", url.Values{"identifier": {identifier}, "password": {"feil-passord-123"}, "method": {"password"}})
		return b.send(action, form, header)
	}
	for i, b := range []*browser{b1, b2, b1} {
		page := map[*browser]string{b1: p1, b2: p2}[b]
		if resp, body := guess(b, page, email, nil); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("guess %d: %d, want 422\n%s", i+1, resp.StatusCode, body)
		}
	}
	typed := strings.ToUpper(email) // the same address, however it is written
	resp, page := guess(b2, p2, typed, nil)
	wantLimited(t, "fourth guess, other instance", resp, page, "Det har vært for mange forsøk på kort tid. Prøv igjen om", time.Hour)
	if !strings.Contains(page, `value="`+html.EscapeString(typed)+`"`) || !strings.Contains(page, `data-group="password"`) {
		t.Fatalf("the refused login page lost the e-mail typed or its form:\n%s", page)
	}

	t.Run("the right password is refused as well until the wait is over", func(t *testing.T) {
		b := newBrowser(t, one.URL)
		_, _, p := b.get("/logg-inn")
		action, form := formOf(t, p, "password", url.Values{"identifier": {email}, "password": {password}, "method": {"password"}})
		resp, body := b.send(action, form, nil)
		wantLimited(t, "right password", resp, body, "for mange forsøk", time.Hour)
		if _, where, _ := b.get("/"); !strings.HasPrefix(where, "/logg-inn") {
			t.Fatalf("signed in despite the limit: at %s", where)
		}
	})
	t.Run("an API client gets the JSON error", func(t *testing.T) {
		resp, body := guess(b1, p1, email, asJSON)
		wantJSONLimited(t, "API", resp, body)
	})
	t.Run("another e-mail is not affected", func(t *testing.T) {
		if home := login(t, newBrowser(t, two.URL), other, otherPassword); !strings.Contains(home, "Hei, Annen") {
			t.Fatalf("home:\n%s", home)
		}
	})
}

// Many e-mails from one client address: the fourth submission is refused.
// X-Forwarded-For is believed only from a configured proxy, and then only
// the address the proxy saw.
func TestHardeningSignInLimitedPerClientAddress(t *testing.T) {
	cfg := limitedConfig(t, map[ratelimit.Kind]string{ratelimit.Address: "3/1h"})
	_, srv := startApp(t, cfg, false)
	try := func(base string, xff string) (*http.Response, string) {
		b := newBrowser(t, base)
		_, _, page := b.get("/logg-inn")
		action, form := formOf(t, page, "password", url.Values{"identifier": {testenv.UniqueEmail("adr")}, "password": {"feil-passord-123"}, "method": {"password"}})
		var h http.Header
		if xff != "" {
			h = http.Header{"X-Forwarded-For": {xff}}
		}
		return b.send(action, form, h)
	}
	// Made-up X-Forwarded-For headers: without a trusted proxy the direct
	// address counts, so they change nothing.
	for i := range 3 {
		if resp, body := try(srv.URL, fmt.Sprintf("203.0.113.%d", i+1)); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("attempt %d: %d\n%s", i+1, resp.StatusCode, body)
		}
	}
	resp, body := try(srv.URL, "203.0.113.99")
	wantLimited(t, "fourth address, direct", resp, body, "for mange forsøk", time.Hour)

	t.Run("behind a trusted proxy each client counts apart", func(t *testing.T) {
		behind := *cfg
		_, loopback, _ := net.ParseCIDR("127.0.0.0/8")
		behind.TrustedProxies = []*net.IPNet{loopback}
		_, lb := startApp(t, &behind, false)
		for i := range 3 {
			if resp, body := try(lb.URL, "198.51.100.7"); resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("client A attempt %d: %d\n%s", i+1, resp.StatusCode, body)
			}
		}
		// The client's own X-Forwarded-For entry before the proxy's does not move it.
		resp, body := try(lb.URL, "192.0.2.1, 198.51.100.7")
		wantLimited(t, "client A, fourth", resp, body, "for mange forsøk", time.Hour)
		if resp, body := try(lb.URL, "198.51.100.8"); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("client B: %d\n%s", resp.StatusCode, body)
		}
	})
}

// Mail-bombing through the code pages: codes for one address (login code and
// recovery share the count) stop at the limit; another address still gets one.
func TestHardeningCodeEmailsLimitedPerAddress(t *testing.T) {
	cfg := limitedConfig(t, map[ratelimit.Kind]string{ratelimit.Code: "2/1h"})
	_, srv := startApp(t, cfg, false)
	email, _ := newUser(t, cfg, "Kodet")
	ask := func(path, field, email string) (*http.Response, string) {
		b := newBrowser(t, srv.URL)
		_, _, page := b.get(path)
		action, form := formOf(t, page, "code", url.Values{field: {email}, "method": {"code"}})
		return b.send(action, form, nil)
	}
	if resp, body := ask("/logg-inn", "identifier", email); resp.StatusCode != 200 || !strings.Contains(body, "Vi har sendt en engangskode") {
		t.Fatalf("login code: %d\n%s", resp.StatusCode, body)
	}
	if resp, body := ask("/glemt-passord", "email", email); resp.StatusCode != 200 || !strings.Contains(body, "Vi har sendt en kode") {
		t.Fatalf("recovery code: %d\n%s", resp.StatusCode, body)
	}
	resp, page := ask("/glemt-passord", "email", email)
	wantLimited(t, "third code", resp, page, "Det er sendt mange koder til denne e-postadressen på kort tid", time.Hour)
	if !strings.Contains(page, `value="`+email+`"`) {
		t.Fatalf("the refused recovery page lost the e-mail typed:\n%s", page)
	}
	testenv.WaitForMails(t, email, 2, 20*time.Second) // the two allowed were sent
	if resp, body := ask("/glemt-passord", "email", testenv.UniqueEmail("annen")); resp.StatusCode != 200 {
		t.Fatalf("another address: %d\n%s", resp.StatusCode, body)
	}
}

// Invitations, their resends and the test e-mail share one count per person;
// past it each answers 429 in its own page, keeping what was typed; another
// person is not affected.
func TestHardeningInvitationsAndTestMailLimitedPerPerson(t *testing.T) {
	cfg := limitedConfig(t, map[ratelimit.Kind]string{ratelimit.Mail: "3/1h"})
	_, srv := startApp(t, cfg, false)
	lisEmail, lisPassword := newUser(t, cfg, "Lise")
	otherEmail, otherPassword := newUser(t, cfg, "Lone")
	tn := peopleTenant(t, cfg, tenants.KindKommune, map[string][]string{lisEmail: {"lis"}, otherEmail: {"lis"}})
	b := newBrowser(t, srv.URL)
	login(t, b, lisEmail, lisPassword)
	base := "/t/" + tn.Slug + "/invitasjoner"
	_, _, page := b.get(base)
	csrf := csrfFrom(t, page)
	supervisor := testenv.UniqueEmail("sup")
	if status, _, page := b.post(base, url.Values{"_csrf": {csrf}, "role": {"supervisor"}, "email": {supervisor}}); status != 200 || !strings.Contains(page, "Invitasjonen er sendt") {
		t.Fatalf("invitation: %d\n%s", status, page)
	}
	invs, err := tenants.InvitationsFrom(context.Background(), testenv.Get(t).App, tn.ID, personFor(t, cfg, lisEmail))
	if err != nil || len(invs) != 1 {
		t.Fatalf("invitations: %v %v", invs, err)
	}
	resend := base + "/" + invs[0].ID.String() + "/send-igjen"
	if status, _, page := b.post(resend, url.Values{"_csrf": {csrf}}); status != 200 || !strings.Contains(page, "Invitasjonen er sendt") {
		t.Fatalf("resend: %d\n%s", status, page)
	}
	if status, where, _ := b.post("/innstillinger/test-epost", url.Values{"_csrf": {csrf}}); status != 200 || !strings.Contains(where, "sendt=1") {
		t.Fatalf("test e-mail: %d at %s", status, where)
	}

	resp, body := b.send(resend, url.Values{"_csrf": {csrf}}, nil)
	wantLimited(t, "fourth e-mail: resend", resp, body, "Du har sendt mange e-poster på kort tid. Prøv igjen om", time.Hour)
	if !strings.Contains(body, "Mine veiledere og ledere") {
		t.Fatalf("the refusal is not shown in the invitations page:\n%s", body)
	}
	typed := testenv.UniqueEmail("veil")
	resp, body = b.send(base, url.Values{"_csrf": {csrf}, "role": {"veileder"}, "email": {typed}}, nil)
	wantLimited(t, "new invitation", resp, body, "Du har sendt mange e-poster", time.Hour)
	if !strings.Contains(body, `value="`+typed+`"`) || !strings.Contains(body, `value="veileder" selected`) {
		t.Fatalf("the refused form lost what was typed:\n%s", body)
	}
	resp, body = b.send("/innstillinger/test-epost", url.Values{"_csrf": {csrf}}, nil)
	wantLimited(t, "test e-mail", resp, body, "Du har sendt mange e-poster", time.Hour)
	resp, body = b.send(resend, url.Values{"_csrf": {csrf}}, asJSON)
	wantJSONLimited(t, "resend, API", resp, body)
	resp, body = b.send(resend, url.Values{"_csrf": {csrf}}, http.Header{"Hx-Request": {"true"}})
	wantJSONLimited(t, "resend, htmx", resp, body)
	if n, _ := tenants.InvitationsFrom(context.Background(), testenv.Get(t).App, tn.ID, personFor(t, cfg, lisEmail)); len(n) != 2 {
		t.Fatalf("refused sends changed the invitations: %d, want 2 (the first, revoked, and its resend)", len(n))
	}

	t.Run("another person is not affected", func(t *testing.T) {
		o := newBrowser(t, srv.URL)
		login(t, o, otherEmail, otherPassword)
		_, _, page := o.get(base)
		if status, _, page := o.post(base, url.Values{"_csrf": {csrfFrom(t, page)}, "role": {"leder"}, "email": {testenv.UniqueEmail("leder")}}); status != 200 || !strings.Contains(page, "Invitasjonen er sendt") {
			t.Fatalf("%d\n%s", status, page)
		}
	})

	t.Run("an RHF admin's resends of a foretak's invitation", func(t *testing.T) {
		withRefData(t)
		ctx := context.Background()
		db := testenv.Get(t).App
		rhfEmail, rhfPassword := newUser(t, cfg, "Rhf")
		grantPlatform(t, cfg, rhfEmail, tenants.RoleRHFAdmin, "HV")
		hf := &tenants.Tenant{Slug: "hf-" + uuid.NewString()[:8], Name: "Testfjord HF", Kind: tenants.KindHF, RHFCode: "HV"}
		if err := tenants.Create(ctx, db, hf); err != nil {
			t.Fatal(err)
		}
		inv := tenants.Invitation{TenantID: hf.ID, Email: testenv.UniqueEmail("hfadmin"), Role: "tenant_admin", InvitedByName: "Rhf", ExpiresAt: time.Now().Add(24 * time.Hour)}
		if err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: hf.ID}, func(ctx context.Context, tx bun.Tx) error {
			_, err := tenants.CreateInvitation(ctx, tx, &inv)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		a := newBrowser(t, srv.URL)
		login(t, a, rhfEmail, rhfPassword)
		detail := "/virksomheter/" + hf.ID.String()
		_, _, page := a.get(detail)
		form := url.Values{"_csrf": {csrfFrom(t, page)}}
		for i := range 3 {
			if status, _, page := a.post(detail+"/invitasjoner/"+inv.ID.String()+"/send-igjen", form); status != 200 || !strings.Contains(page, "Invitasjonen er sendt") {
				t.Fatalf("resend %d: %d\n%s", i+1, status, page)
			}
		}
		resp, body := a.send(detail+"/invitasjoner/"+inv.ID.String()+"/send-igjen", form, nil)
		wantLimited(t, "fourth resend", resp, body, "Du har sendt mange e-poster", time.Hour)
		if !strings.Contains(body, "Testfjord HF") {
			t.Fatalf("the refusal is not shown in the foretak's page:\n%s", body)
		}
		// Onboarding another foretak mails its first administrator: refused too, nothing created.
		before, _ := db.NewSelect().Table("tenants").Count(ctx)
		admin := testenv.UniqueEmail("forste")
		resp, body = a.send("/virksomheter", url.Values{"_csrf": form["_csrf"], "name": {"Nytt HF"}, "orgnr": {"983974732"}, "admin_email": {admin}}, nil)
		wantLimited(t, "onboarding", resp, body, "Du har sendt mange e-poster", time.Hour)
		if !strings.Contains(body, `value="`+admin+`"`) {
			t.Fatalf("the refused onboarding form lost the e-mail typed:\n%s", body)
		}
		if after, _ := db.NewSelect().Table("tenants").Count(ctx); after != before || before == 0 {
			t.Fatalf("a refused onboarding created %d tenants", after-before)
		}
	})
}

// countingHook counts every command (and connection) a Redis client makes.
type countingHook struct{ n atomic.Int64 }

func (h *countingHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		h.n.Add(1)
		return next(ctx, network, addr)
	}
}

func (h *countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h *countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// Page views cost nothing: the limiter's Redis is asked only by the POSTs
// that do the work.
func TestHardeningPageViewsMakeNoRateLimitCall(t *testing.T) {
	cfg := testConfig(t)
	a, srv := startApp(t, cfg, false)
	hook := &countingHook{}
	a.limitRedis.AddHook(hook)
	email, password := newUser(t, cfg, "Leser")
	b := newBrowser(t, srv.URL)
	for _, p := range []string{"/logg-inn", "/glemt-passord", "/registrer", "/hjelp"} {
		if status, _, _ := b.get(p); status != 200 {
			t.Fatalf("%s: %d", p, status)
		}
	}
	if n := hook.n.Load(); n != 0 {
		t.Fatalf("anonymous page views made %d rate-limit Redis calls", n)
	}
	login(t, b, email, password)
	if hook.n.Load() == 0 {
		t.Fatal("the sign-in made no rate-limit call: the hook does not see the limiter")
	}
	hook.n.Store(0)
	for _, p := range []string{"/", "/innstillinger", "/varsler/innstillinger"} {
		if status, _, _ := b.get(p); status != 200 {
			t.Fatalf("%s: %d", p, status)
		}
	}
	if n := hook.n.Load(); n != 0 {
		t.Fatalf("signed-in page views made %d rate-limit Redis calls", n)
	}
}

// Redis gone after start: sign-in still works (the limiter fails open).
func TestHardeningSignInWorksWithLimiterRedisDown(t *testing.T) {
	cfg := testConfig(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting a Redis of the test's own: %v", err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}
	t.Cleanup(stop)
	own := redis.NewClient(&redis.Options{Addr: addr})
	defer own.Close()
	testenv.WaitFor(t, 10*time.Second, "own Redis up", func() bool { return own.Ping(context.Background()).Err() == nil })
	cfg.RedisAddr, cfg.RedisDB = addr, 0
	_, srv := startApp(t, cfg, false)
	email, password := newUser(t, cfg, "Uten")
	b := newBrowser(t, srv.URL)
	_, _, page := b.get("/logg-inn")
	stop()
	if err := own.Ping(context.Background()).Err(); err == nil {
		t.Fatal("own Redis still answers")
	}
	status, where, home := b.submit(page, "password", url.Values{"identifier": {email}, "password": {password}, "method": {"password"}})
	if status != 200 || where != "/" || !strings.Contains(home, "Hei, Uten") {
		t.Fatalf("sign-in with Redis down: %d at %s\n%s", status, where, home)
	}
}

// A bad limit or proxy setting stops kportal with one line naming it.
func TestHardeningLimitSettingsAreChecked(t *testing.T) {
	for key, value := range map[string]string{"KPORTAL_LIMIT_SIGNIN": "mange", "KPORTAL_LIMIT_MAIL": "0/1h", "KPORTAL_TRUSTED_PROXIES": "10.0.0.1, lastbalansereren"} {
		t.Run(key, func(t *testing.T) {
			t.Setenv(key, value)
			if _, err := loadConfig(); err == nil || !strings.HasPrefix(err.Error(), key+": ") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("%s=%q: %v", key, value, err)
			}
		})
	}
	t.Setenv("KPORTAL_TRUSTED_PROXIES", "10.0.0.1, 192.168.0.0/16,2001:db8::1")
	t.Setenv("KPORTAL_LIMIT_CODE", "off")
	cfg, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range cfg.TrustedProxies {
		got = append(got, n.String())
	}
	if strings.Join(got, " ") != "10.0.0.1/32 192.168.0.0/16 2001:db8::1/128" || cfg.Limits[ratelimit.Code].N != 0 || cfg.Limits[ratelimit.SignIn].N != 10 {
		t.Fatalf("proxies %v, limits %v", got, cfg.Limits)
	}
}
