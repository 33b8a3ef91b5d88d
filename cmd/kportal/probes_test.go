package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"kportal/modules/apperr"
	"kportal/modules/identity"
	"kportal/storage"
	"kportal/storage/testenv"
)

// closedAddr is a loopback port nothing listens on.
const closedAddr = "127.0.0.1:1"

// scrape reads the internal listener's /metrics.
func scrape(t *testing.T, internal string) string {
	t.Helper()
	resp, err := http.Get(internal + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if resp.StatusCode != 200 {
		t.Fatalf("internal /metrics: %d", resp.StatusCode)
	}
	return body
}

// grepLines is the lines of text that contain s.
func grepLines(text, s string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// Every request is counted with the status actually sent: errors returned as
// apperr (404, 422) or plain (500) once the error handler has answered them,
// and a panic as the 500 the recovery sends.
func TestHardeningHTTPMetricsCountTheStatusSent(t *testing.T) {
	cfg := testConfig(t)
	a, err := openApp(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	e := a.server()
	e.GET("/m/ok", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	e.GET("/m/not-found", func(echo.Context) error { return apperr.New(apperr.NotFound, "Fant ikke målingen.") })
	e.GET("/m/invalid", func(echo.Context) error { return apperr.New(apperr.Invalid, "Ugyldig måling.") })
	e.GET("/m/failed", func(echo.Context) error { return errors.New("internal failure") })
	e.GET("/m/panic", func(echo.Context) error { panic("provoked by the test") })
	srv := httptest.NewServer(e)
	defer srv.Close()
	internal := httptest.NewServer(a.internalServer())
	defer internal.Close()
	defer recoveredPanics.Add(-1) // provoked here, not a failure of the package

	for _, c := range []struct {
		path   string
		status int
	}{{"/m/ok", 200}, {"/m/not-found", 404}, {"/m/invalid", 422}, {"/m/failed", 500}, {"/m/panic", 500}} {
		resp, err := http.Get(srv.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		// The whole response is read: it ends when the handler chain has returned.
		if readAll(t, resp); resp.StatusCode != c.status {
			t.Fatalf("%s answered %d, want %d", c.path, resp.StatusCode, c.status)
		}
		metrics := scrape(t, internal.URL)
		want := `kportal_http_requests_total{method="GET",route="` + c.path + `",status="` + strconv.Itoa(c.status) + `"} 1`
		if !strings.Contains(metrics, want) {
			t.Errorf("%s: no %s in the metrics:\n%s", c.path, want, grepLines(metrics, `route="`+c.path+`",status`))
		}
		if c.status != 200 && strings.Contains(metrics, `route="`+c.path+`",status="200"`) {
			t.Errorf("%s counted as 200:\n%s", c.path, grepLines(metrics, `route="`+c.path+`",status`))
		}
	}
}

// /readyz answers 200 while Redis, MinIO and Kratos are down (pages work
// without them; the gauges say they are down), and 503 only when PostgreSQL is,
// always as JSON naming no host, user or error, also for a request with a
// session cookie (the probes skip the session lookup) or one asking for HTML.
func TestHardeningReadyzFailsOnlyWithoutPostgreSQL(t *testing.T) {
	cfg := testConfig(t)
	a, srv := startApp(t, cfg, false)
	internal := httptest.NewServer(a.internalServer())
	defer internal.Close()
	email, password := newUser(t, cfg, "Klar")
	b := newBrowser(t, srv.URL)
	login(t, b, email, password)

	a.redis.Addr = closedAddr
	a.kratos = identity.NewKratos("http://"+closedAddr, "http://"+closedAddr)
	objects, err := storage.NewObjects(storage.ObjectConfig{Endpoint: closedAddr, AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey, Bucket: cfg.S3Bucket})
	if err != nil {
		t.Fatal(err)
	}
	a.objects = objects
	ready := func(b *browser, accept string) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/readyz", nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		return resp.StatusCode, resp.Header.Get("Content-Type"), body
	}
	anonymous := newBrowser(t, srv.URL)
	for _, who := range []*browser{anonymous, b} {
		if status, ctype, body := ready(who, ""); status != 200 || !strings.HasPrefix(ctype, "application/json") || strings.TrimSpace(body) != `{"status":"ok"}` {
			t.Fatalf("readyz with Redis, MinIO and Kratos down: %d %s %s", status, ctype, body)
		}
	}
	a.health.Probe(context.Background())
	metrics := scrape(t, internal.URL)
	for dep, up := range map[string]string{"postgres": "1", "redis": "0", "minio": "0", "kratos": "0"} {
		if want := `kportal_dependency_up{dependency="` + dep + `"} ` + up; !strings.Contains(metrics, want) {
			t.Errorf("no %s in the metrics:\n%s", want, grepLines(metrics, "kportal_dependency_up"))
		}
	}

	a.db.Close() // PostgreSQL unreachable
	for _, who := range []*browser{anonymous, b} {
		for _, accept := range []string{"", "text/html"} {
			status, ctype, body := ready(who, accept)
			var res struct {
				Status string
				Error  struct{ Code, Message string }
			}
			_ = json.Unmarshal([]byte(body), &res)
			if status != 503 || !strings.HasPrefix(ctype, "application/json") || res.Status != "unavailable" || res.Error.Code != "unavailable" || res.Error.Message == "" {
				t.Fatalf("readyz without PostgreSQL (session cookie %v, Accept %q): %d %s %s", who == b, accept, status, ctype, body)
			}
			for _, secret := range []string{"127.0.0.1", "5432", "kportal_app", "postgres", "sql", "closed", testenv.Get(t).DBName} {
				if strings.Contains(strings.ToLower(body), strings.ToLower(secret)) {
					t.Fatalf("readyz tells %q: %s", secret, body)
				}
			}
		}
		resp, err := who.c.Get(srv.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		if body := readAll(t, resp); resp.StatusCode != 200 {
			t.Fatalf("healthz without PostgreSQL: %d %s", resp.StatusCode, body)
		}
	}
	if metrics := scrape(t, internal.URL); !strings.Contains(metrics, `kportal_dependency_up{dependency="postgres"} 0`) {
		t.Errorf("PostgreSQL down is not in the metrics:\n%s", grepLines(metrics, "kportal_dependency_up"))
	}
}

// /metrics is not on the public server; the internal listener serves it and
// the probes. serve starts both listeners and drains both when stopped.
func TestHardeningMetricsOnlyOnTheInternalListener(t *testing.T) {
	cfg := testConfig(t)
	a, srv := startApp(t, cfg, false)
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp); resp.StatusCode != 404 || strings.Contains(body, "go_goroutines") {
		t.Fatalf("public /metrics: %d", resp.StatusCode)
	}
	internal := httptest.NewServer(a.internalServer())
	defer internal.Close()
	metrics := scrape(t, internal.URL)
	for _, want := range []string{"kportal_http_requests_total", "go_sql_max_open_connections", "go_goroutines"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(internal.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		if body := readAll(t, resp); resp.StatusCode != 200 {
			t.Fatalf("internal %s: %d %s", path, resp.StatusCode, body)
		}
	}

	// serve: both listeners answer, and both stop when the context ends.
	served := *cfg
	served.Addr, served.InternalAddr = freeAddr(t), freeAddr(t)
	s, err := openApp(context.Background(), &served)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.serveHTTP(ctx) }()
	defer cancel()
	get := func(addr, path string) (int, error) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err
		}
		readAll(t, resp)
		return resp.StatusCode, nil
	}
	testenv.WaitFor(t, 10*time.Second, "both listeners", func() bool {
		s1, err1 := get(served.Addr, "/healthz")
		s2, err2 := get(served.InternalAddr, "/metrics")
		return err1 == nil && err2 == nil && s1 == 200 && s2 == 200
	})
	if s, _ := get(served.Addr, "/metrics"); s != 404 {
		t.Errorf("public /metrics under serve: %d", s)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve stopped with %v", err)
		}
	case <-time.After(served.ShutdownPeriod + 5*time.Second):
		t.Fatal("serve did not stop")
	}
	for _, addr := range []string{served.Addr, served.InternalAddr} {
		if _, err := get(addr, "/healthz"); err == nil {
			t.Errorf("%s still answers after serve stopped", addr)
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
