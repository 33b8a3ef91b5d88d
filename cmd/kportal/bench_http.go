package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/labstack/echo/v4"
)

func init() { scenarios["http"] = bench{run: benchHTTP} }

// benchHTTP measures what kportal's middleware stack (request id, logging,
// metrics, security headers, CSRF, session lookup, route guard, error
// handling) costs: /healthz through kportal against the same answer from a
// bare Echo handler, in the same run on the same machine.
func benchHTTP(ctx context.Context, cfg *config) ([][2]string, error) {
	cfg.LogLevel = "error"
	a, err := openApp(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer a.close()
	a.log = newLogger("error")
	full := httptest.NewServer(a.server())
	defer full.Close()
	bare := echo.New()
	bare.GET("/healthz", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "ok"}) })
	raw := httptest.NewServer(bare)
	defer raw.Close()

	const concurrency, limit = 16, 200_000
	d := 5 * time.Second
	load(ctx, full.URL+"/healthz", concurrency, time.Second, limit, nil) // warm up
	base := load(ctx, raw.URL+"/healthz", concurrency, d, limit, nil)
	got := load(ctx, full.URL+"/healthz", concurrency, d, limit, nil)
	if got.Errors > 0 || got.Requests == 0 {
		return nil, fmt.Errorf("%d of %d requests failed", got.Errors, got.Errors+got.Requests)
	}
	return [][2]string{
		{"p50_ms", ms(got.P50)}, {"p99_ms", ms(got.P99)},
		{"rps", fmt.Sprintf("%.0f", got.RPS)}, {"baseline_rps", fmt.Sprintf("%.0f", base.RPS)},
		{"ratio", fmt.Sprintf("%.2f", got.RPS/base.RPS)}, {"concurrency", fmt.Sprint(concurrency)},
	}, nil
}
