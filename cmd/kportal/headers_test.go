package main

import (
	"net/http"
	"strings"
	"testing"
)

// Security headers on every response; HSTS and Secure cookies exactly when
// the base URL is https (TLS ended in front of kportal), never over plain
// HTTP whatever X-Forwarded-Proto claims.
func TestSecurityHeadersAndCookiesFollowTheBaseURL(t *testing.T) {
	for _, base := range []string{"http://localhost:8080", "https://kportal.example.no"} {
		t.Run(base, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.BaseURL = base
			https := strings.HasPrefix(base, "https:")
			_, srv := startApp(t, cfg, false)
			// Pages kportal answers itself (the login pages also pass on
			// Kratos' cookies, which Kratos' configuration makes Secure).
			for _, path := range []string{"/hjelp", "/finnes-ikke", "/api/finnes-ikke"} {
				req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
				req.Header.Set("X-Forwarded-Proto", "https")
				resp, err := http.DefaultTransport.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				readAll(t, resp)
				for h, want := range map[string]string{
					"Content-Security-Policy": "frame-ancestors 'none'",
					"X-Frame-Options":         "DENY",
					"X-Content-Type-Options":  "nosniff",
					"Referrer-Policy":         "same-origin",
				} {
					if got := resp.Header.Get(h); !strings.Contains(got, want) {
						t.Errorf("%s: %s is %q, want %q", path, h, got, want)
					}
				}
				if hsts := resp.Header.Get("Strict-Transport-Security"); https != strings.HasPrefix(hsts, "max-age=63072000") || !https && hsts != "" {
					t.Errorf("%s: Strict-Transport-Security %q with base URL %s", path, hsts, base)
				}
				var csrf *http.Cookie
				for _, c := range resp.Cookies() {
					if c.Name == "kportal_csrf" {
						csrf = c
					}
					if c.Secure != https {
						t.Errorf("%s: cookie %s Secure=%v with base URL %s", path, c.Name, c.Secure, base)
					}
				}
				if csrf == nil || !csrf.HttpOnly || csrf.SameSite != http.SameSiteLaxMode {
					t.Errorf("%s: CSRF cookie %+v", path, csrf)
				}
			}
		})
	}
}
