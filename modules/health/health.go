// Package health serves /healthz (the process is alive), /readyz (every service
// kportal needs answers; 503 naming what is down) and Prometheus metrics.
package health

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"kportal/modules"
)

// Check is one dependency's probe.
type Check func(ctx context.Context) error

// Module serves health and metrics.
type Module struct {
	checks   map[string]Check
	registry *prometheus.Registry
}

// New returns the module; checks are keyed by the name shown when one fails.
func New(checks map[string]Check, registry *prometheus.Registry) *Module {
	return &Module{checks: checks, registry: registry}
}

func (m *Module) Info() modules.Info { return modules.Info{ID: "health", Title: "Drift"} }

func (m *Module) Routes(r *modules.Router) {
	r.GET("/healthz", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "ok"}) }, modules.Public())
	r.GET("/readyz", m.ready, modules.Public())
	r.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})), modules.Public())
}

// Result is each dependency's state.
type Result struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
	Down   []string          `json:"down,omitempty"`
}

// Run probes every dependency at once, each with a short deadline.
func (m *Module) Run(ctx context.Context) Result {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	res := Result{Status: "ok", Checks: map[string]string{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, check := range m.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			state := "ok"
			if err := check(ctx); err != nil {
				state = err.Error()
			}
			mu.Lock()
			res.Checks[name] = state
			if state != "ok" {
				res.Down = append(res.Down, name)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	sort.Strings(res.Down)
	if len(res.Down) > 0 {
		res.Status = "unavailable"
	}
	return res
}

func (m *Module) ready(c echo.Context) error {
	res := m.Run(c.Request().Context())
	status := http.StatusOK
	if len(res.Down) > 0 {
		status = http.StatusServiceUnavailable
	}
	return c.JSON(status, res)
}

// HTTPMetrics counts requests and their duration by route pattern (not raw
// path, so ids do not explode the label set).
func HTTPMetrics(reg prometheus.Registerer) echo.MiddlewareFunc {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kportal_http_requests_total", Help: "HTTP requests by route, method and status.",
	}, []string{"route", "method", "status"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "kportal_http_request_duration_seconds", Help: "HTTP request duration by route.",
		Buckets: []float64{.002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"route", "method"})
	reg.MustRegister(requests, duration)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			status := c.Response().Status
			if err != nil {
				if he, ok := err.(*echo.HTTPError); ok {
					status = he.Code
				}
			}
			route := c.Path()
			if route == "" {
				route = "unmatched"
			}
			requests.WithLabelValues(route, c.Request().Method, strconv.Itoa(status)).Inc()
			duration.WithLabelValues(route, c.Request().Method).Observe(time.Since(start).Seconds())
			return err
		}
	}
}
