package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/labstack/echo/v4"

	"kportal/storage/testenv"
	"kportal/workers"
)

// A job enqueued by a request is processed by the worker: the test e-mail
// reaches the SMTP sink.
func TestEnqueuedMailIsSentByWorker(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, true)
	email, password := newUser(t, cfg, "Mona")
	b := newBrowser(t, srv.URL)
	login(t, b, email, password)
	_, _, settings := b.get("/innstillinger")
	m := regexp.MustCompile(`action="/innstillinger/test-epost" class="kp-form">\s*<input type="hidden" name="_csrf" value="([^"]+)"`).FindStringSubmatch(settings)
	if m == nil {
		t.Fatalf("no test e-mail form:\n%s", settings)
	}
	status, where, page := b.post("/innstillinger/test-epost", url.Values{"_csrf": {m[1]}})
	if status != 200 || !strings.Contains(where, "sendt=1") || !strings.Contains(page, "Vi har sendt en test-e-post") {
		t.Fatalf("after asking for a test e-mail: %d at %s", status, where)
	}
	mails := testenv.WaitForMails(t, email, 1, 20*time.Second)
	if mails[0].Subject != "Test av e-post fra kportal" || !strings.Contains(mails[0].Text, "Hei Mona Testesen") || !strings.Contains(mails[0].HTML, "<p>Hei Mona Testesen") {
		t.Fatalf("mail: %+v", mails[0])
	}
}

func TestFormsWithoutCSRFTokenAreRefused(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	email, password := newUser(t, cfg, "Nora")
	b := newBrowser(t, srv.URL)
	login(t, b, email, password)
	status, _, page := b.post("/innstillinger/test-epost", url.Values{})
	if status == http.StatusOK || !strings.Contains(page, "Last siden på nytt") {
		t.Fatalf("status %d:\n%s", status, page)
	}
	if len(testenv.MailsTo(t, email)) != 0 {
		t.Fatal("a forged form sent mail")
	}
}

func TestErrorPagesAndJSONErrors(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	resp, err := http.Get(srv.URL + "/finnes-ikke")
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if resp.StatusCode != 404 || !strings.Contains(body, "Fant ikke siden") || !strings.Contains(body, "Vi fant ikke det du lette etter") {
		t.Fatalf("404 page: %d\n%s", resp.StatusCode, body)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/api/finnes-ikke", nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || resp.StatusCode != 404 || e.Error.Code != "not_found" || e.Error.Message == "" {
		t.Fatalf("API 404: %d %+v %v", resp.StatusCode, e, err)
	}
	resp.Body.Close()
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("missing security header %s", h)
		}
	}
	b := newBrowser(t, srv.URL)
	if _, where, _ := b.get("/t/ukjent/"); !strings.HasPrefix(where, "/logg-inn?flow=") || !strings.Contains(where, "return_to=%2Ft%2Fukjent%2F") {
		t.Fatalf("anonymous tenant page should go to login and back, got %s", where)
	}
	// A client that keeps no cookies gets a clear page, not a redirect loop.
	resp, err = http.Get(srv.URL + "/logg-inn")
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "informasjonskapsler") {
		t.Fatalf("cookie-less login: %d\n%s", resp.StatusCode, body)
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = io.Copy(&b, resp.Body)
	return b.String()
}

// API clients authenticate with a Kratos session token (native login flow).
func TestAPIWithSessionToken(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	email, password := newUser(t, cfg, "Api")
	token := sessionToken(t, cfg, email, password)
	me := func(token string) (int, map[string]any) {
		req, _ := http.NewRequest("GET", srv.URL+"/api/me", nil)
		req.Header.Set("X-Session-Token", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	status, out := me(token)
	if status != 200 || out["email"] != email || out["given_name"] != "Api" {
		t.Fatalf("/api/me: %d %v", status, out)
	}
	status, out = me("not-a-token")
	if errObj, _ := out["error"].(map[string]any); status != 401 || errObj["code"] != "unauthorized" {
		t.Fatalf("/api/me with a bad token: %d %v", status, out)
	}
}

// A failure inside kportal gives a Norwegian page and logs the details; the
// user sees no stack trace or internal message.
func TestInternalErrorsShowNoDetails(t *testing.T) {
	cfg := testConfig(t)
	a, err := openApp(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	e := a.server()
	e.GET("/boom", func(echo.Context) error { panic("secret internal detail") })
	e.GET("/api/boom", func(echo.Context) error { return errors.New("pq: secret table missing") })
	srv := httptest.NewServer(e)
	defer srv.Close()
	before := recoveredPanics.Load()
	defer recoveredPanics.Add(-1) // provoked here, not a failure of the package
	resp, err := http.Get(srv.URL + "/boom")
	if err != nil {
		t.Fatal(err)
	}
	if recoveredPanics.Load() != before+1 {
		t.Error("the panic was not counted")
	}
	page := readAll(t, resp)
	if resp.StatusCode != 500 || !strings.Contains(page, "Noe gikk galt hos oss") || strings.Contains(page, "secret") || strings.Contains(page, "goroutine") {
		t.Fatalf("500 page: %d\n%s", resp.StatusCode, page)
	}
	resp, err = http.Get(srv.URL + "/api/boom")
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if resp.StatusCode != 500 || !strings.Contains(body, `"code":"internal"`) || strings.Contains(body, "secret") {
		t.Fatalf("API 500: %d %s", resp.StatusCode, body)
	}
}

// The worker and the scheduler load no authorization policy (a load and a
// LISTEN connection per process at national size); the web server does.
func TestOnlyTheWebServerLoadsThePolicy(t *testing.T) {
	cfg := testConfig(t)
	jobs, err := open(context.Background(), cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	defer jobs.close()
	if jobs.enforcer != nil {
		t.Fatal("the worker's app opened the policy enforcer")
	}
	if _, pattern := jobs.jobMux().Handler(asynq.NewTask(workers.TypeSendMail, nil)); pattern != workers.TypeSendMail {
		t.Fatalf("the worker's app has no handler for %s", workers.TypeSendMail)
	}
	web, err := openApp(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer web.close()
	if web.enforcer == nil {
		t.Fatal("the web server's app has no policy enforcer")
	}
}

// A session in use is checked again in the background; revoked in Kratos
// (logged out elsewhere), it stops working within the cache time even while
// requests keep coming.
func TestRevokedSessionStopsWithinTheCacheTime(t *testing.T) {
	cfg := testConfig(t)
	cfg.SessionCache = 2 * time.Second
	_, srv := startApp(t, cfg, false)
	email, password := newUser(t, cfg, "Tilbakekalt")
	token := sessionToken(t, cfg, email, password)
	status := func() int {
		req, _ := http.NewRequest("GET", srv.URL+"/api/me", nil)
		req.Header.Set("X-Session-Token", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if s := status(); s != 200 {
			t.Fatalf("a live session in use answered %d", s)
		}
	}
	body := strings.NewReader(`{"session_token":"` + token + `"}`)
	req, _ := http.NewRequest(http.MethodDelete, cfg.KratosPublic+"/self-service/logout/api", body)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("revoking the session in Kratos: %v %v", resp, err)
	}
	resp.Body.Close()
	revoked := time.Now()
	for status() == 200 {
		if time.Since(revoked) > cfg.SessionCache+time.Second {
			t.Fatalf("the revoked session still works %s later", time.Since(revoked).Round(time.Millisecond))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// countingReader is an endless body that counts what was read of it.
type countingReader struct{ n atomic.Int64 }

func (r *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	r.n.Add(int64(len(p)))
	return len(p), nil
}

// A multipart post without a CSRF token in its header or URL is refused
// before its body is read: the token is never looked for in a multipart
// body, which would read an upload of any size from anyone (the upload
// route has no general body limit).
func TestMultipartWithoutTokenIsRefusedUnread(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	for _, path := range []string{"/t/finnes-ikke/dokumenter", "/katalog"} {
		body := &countingReader{}
		part := strings.NewReader("--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n\r\n")
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, io.MultiReader(part, io.LimitReader(body, 1<<30)))
		req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		if err == nil && resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s: %d, want 403", path, resp.StatusCode)
		}
		if read := body.n.Load(); read > 8<<20 {
			t.Errorf("POST %s: %d MB of the body were read before the refusal", path, read>>20)
		}
	}
}
