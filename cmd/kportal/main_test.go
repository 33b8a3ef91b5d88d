package main

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"kportal/modules/identity"
	"kportal/storage/testenv"
)

// TestMain fails the package when a handler panicked (answered as a 500 by
// the recover middleware, which a test reading only the status may miss).
func TestMain(m *testing.M) {
	testenv.Main(m, func() error {
		if n := recoveredPanics.Load(); n > 0 {
			return fmt.Errorf("%d request(s) panicked; see the \"panic\" log lines", n)
		}
		return nil
	})
}

// testConfig is the development configuration pointed at this package's
// share of the services.
func testConfig(t *testing.T) *config {
	t.Helper()
	env := testenv.Get(t)
	cfg, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg.DatabaseURL, cfg.MigrateURL = env.AppDSN, env.OwnerDSN
	cfg.RedisDB = env.RedisDB
	cfg.S3Bucket = env.Bucket
	cfg.LogLevel = "error"
	cfg.Concurrency = 2
	return cfg
}

func setEnv(t *testing.T, cfg *config) {
	t.Setenv("KPORTAL_DATABASE_URL", cfg.DatabaseURL)
	t.Setenv("KPORTAL_MIGRATE_DATABASE_URL", cfg.MigrateURL)
	t.Setenv("KPORTAL_REDIS_DB", fmt.Sprint(cfg.RedisDB))
	t.Setenv("KPORTAL_S3_BUCKET", cfg.S3Bucket)
	t.Setenv("KPORTAL_LOG_LEVEL", "error")
}

// startApp runs kportal's HTTP server (and, when asked, its worker) on the
// real services.
func startApp(t *testing.T, cfg *config, worker bool) (*app, *httptest.Server) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := openApp(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.server())
	done := make(chan struct{})
	if worker {
		go func() { _ = a.work(ctx); close(done) }()
	} else {
		close(done)
	}
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-done
		a.close()
	})
	return a, srv
}

func TestHelpExplainsCommandsAndEnvironment(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--help"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"serve", "worker", "scheduler", "migrate", "seed", "all", "bench", "KPORTAL_DATABASE_URL", "KPORTAL_SMTP_URL"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help does not mention %s", want)
		}
	}
	out.Reset()
	if code := run([]string{"migrate", "--help"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "status") {
		t.Fatalf("migrate --help: exit %d, %q", code, out.String())
	}
	if code := run([]string{"nonsense"}, &out, &errb); code != 2 {
		t.Fatalf("unknown command: exit %d", code)
	}
}

// Bad configuration stops kportal at start with one line naming the problem.
func TestBadConfigurationIsOneClearLine(t *testing.T) {
	cfg := testConfig(t)
	cases := []struct {
		name, key, value, want string
	}{
		{"database unreachable", "KPORTAL_DATABASE_URL", "postgres://kportal_app:kportal_app@127.0.0.1:1/kportal?sslmode=disable", "PostgreSQL at 127.0.0.1:1"},
		{"wrong S3 credentials", "KPORTAL_S3_SECRET_KEY", "not-the-secret", "access key or secret key is wrong"},
		{"Kratos down", "KPORTAL_KRATOS_ADMIN_URL", "http://127.0.0.1:1", "Ory Kratos at http://127.0.0.1:1"},
		{"Redis unreachable", "KPORTAL_REDIS_ADDR", "127.0.0.1:1", "Redis at 127.0.0.1:1"},
		{"bad number", "KPORTAL_DB_MAX_CONNS", "many", "KPORTAL_DB_MAX_CONNS"},
		{"SMTP CA file missing", "KPORTAL_SMTP_CA_FILE", "/nonexistent/smtp-ca.pem", "SMTP CA file /nonexistent/smtp-ca.pem"},
		{"SMTP credentials in clear", "KPORTAL_SMTP_URL", "smtp://u:hemmelig@127.0.0.1:1025/?disable_starttls=true", "credentials are never sent without TLS"},
		{"base URL not http(s)", "KPORTAL_BASE_URL", "htps://kportal.example.no", "KPORTAL_BASE_URL: must be an http:// or https:// URL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			setEnv(t, cfg)
			t.Setenv(c.key, c.value)
			var out, errb bytes.Buffer
			code := run([]string{"serve"}, &out, &errb)
			msg := errb.String()
			if code != 1 || !strings.Contains(msg, c.want) || strings.Count(strings.TrimSpace(msg), "\n") != 0 || strings.Contains(msg, "panic") {
				t.Fatalf("exit %d, stderr %q; want one line containing %q", code, msg, c.want)
			}
		})
	}
}

var (
	formRe   = regexp.MustCompile(`(?s)<form method="post" action="([^"]+)" class="kp-form" data-group="([a-z]+)">(.*?)</form>`)
	hiddenRe = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

// browser is an HTTP client with cookies, like a browser without JavaScript.
type browser struct {
	t    *testing.T
	c    *http.Client
	base string
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar, Timeout: 20 * time.Second}, base: base}
}

func (b *browser) get(path string) (int, string, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Request.URL.RequestURI(), string(body)
}

func (b *browser) post(path string, form url.Values) (int, string, string) {
	b.t.Helper()
	resp, err := b.c.PostForm(b.base+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Request.URL.RequestURI(), string(body)
}

// formOf returns the action and the values of a page's form of one method
// group, with fields filled in.
func formOf(t *testing.T, page, group string, fields url.Values) (string, url.Values) {
	t.Helper()
	for _, m := range formRe.FindAllStringSubmatch(page, -1) {
		if m[2] != group {
			continue
		}
		form := url.Values{}
		for _, h := range hiddenRe.FindAllStringSubmatch(m[3], -1) {
			form.Set(h[1], html.UnescapeString(h[2]))
		}
		for k, v := range fields {
			form[k] = v
		}
		return strings.ReplaceAll(m[1], "&amp;", "&"), form
	}
	t.Fatalf("no %q form on page:\n%s", group, page)
	return "", nil
}

// submit fills the form of one method group on a page and posts it.
func (b *browser) submit(page, group string, fields url.Values) (int, string, string) {
	b.t.Helper()
	action, form := formOf(b.t, page, group, fields)
	return b.post(action, form)
}

func newUser(t *testing.T, cfg *config, given string) (email, password string) {
	t.Helper()
	email, password = testenv.UniqueEmail(given), "riktig-hest-batteri-9"
	k := identity.NewKratos(cfg.KratosPublic, cfg.KratosAdmin)
	if _, err := k.EnsureIdentity(context.Background(), email, given, "Testesen", password); err != nil {
		t.Fatal(err)
	}
	return email, password
}

func login(t *testing.T, b *browser, email, password string) string {
	t.Helper()
	status, where, page := b.get("/logg-inn")
	if status != 200 || !strings.HasPrefix(where, "/logg-inn?flow=") {
		t.Fatalf("login page: %d at %s", status, where)
	}
	status, where, page = b.submit(page, "password", url.Values{"identifier": {email}, "password": {password}, "method": {"password"}})
	if status != 200 || where != "/" {
		t.Fatalf("after login: %d at %s:\n%s", status, where, page)
	}
	return page
}

// The login page is kportal's own, rendered from the real Kratos flow.
func TestLoginThroughKratosFlow(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	email, password := newUser(t, cfg, "Liv")
	b := newBrowser(t, srv.URL)

	status, where, _ := b.get("/")
	if status != 200 || !strings.HasPrefix(where, "/logg-inn") {
		t.Fatalf("anonymous home: %d at %s, want the login page", status, where)
	}
	_, _, page := b.get("/logg-inn")
	if !strings.Contains(page, "Logg inn") || !strings.Contains(page, "Passord") || !strings.Contains(page, `lang="nb"`) {
		t.Fatalf("login page is not kportal's Norwegian page:\n%s", page)
	}
	t.Run("wrong password shows a Norwegian message", func(t *testing.T) {
		status, _, page := b.submit(page, "password", url.Values{"identifier": {email}, "password": {"feil-passord-123"}, "method": {"password"}})
		if status != http.StatusUnprocessableEntity || !strings.Contains(page, "E-postadressen eller passordet er feil") {
			t.Fatalf("status %d:\n%s", status, page)
		}
	})
	home := login(t, b, email, password)
	if !strings.Contains(home, "Hei, Liv") {
		t.Fatalf("home page does not greet the user:\n%s", home)
	}
	status, _, settings := b.get("/innstillinger")
	if status != 200 || !strings.Contains(settings, "Kontoinnstillinger") || !strings.Contains(settings, `data-group="password"`) {
		t.Fatalf("settings: %d\n%s", status, settings)
	}
	status, where = b.logout(home)
	if status != 200 || !strings.HasPrefix(where, "/logg-inn") {
		t.Fatalf("logout: %d at %s", status, where)
	}
	if _, where, _ := b.get("/"); !strings.HasPrefix(where, "/logg-inn") {
		t.Fatalf("still signed in after logout: at %s", where)
	}
}

func (b *browser) logout(page string) (int, string) {
	b.t.Helper()
	m := regexp.MustCompile(`action="/logg-ut"[^>]*>\s*<input type="hidden" name="_csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("no logout form:\n%s", page)
	}
	status, where, _ := b.post("/logg-ut", url.Values{"_csrf": {m[1]}})
	return status, where
}
