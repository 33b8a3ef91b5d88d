// Package health serves /healthz (the process is alive) and /readyz (this
// instance can serve pages), probes every dependency for the log and the
// metrics, and counts HTTP requests.
package health

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"kportal/modules"
	"kportal/modules/apperr"
)

// Check is one dependency's probe.
type Check func(ctx context.Context) error

// Dependency is a service kportal talks to. Only a Required one decides
// readiness: without PostgreSQL no page works, while without Redis, MinIO or
// Kratos most still do, and a load balancer would take every instance out at
// once for an outage none of them can fix.
type Dependency struct {
	Name     string
	Check    Check
	Required bool
}

// probeTimeout bounds one dependency's probe.
const probeTimeout = 3 * time.Second

// Module serves health and metrics.
type Module struct {
	deps     []Dependency
	log      *slog.Logger
	registry *prometheus.Registry
	up       *prometheus.GaugeVec

	mu    sync.Mutex
	state map[string]bool // each dependency's last seen state; absent before its first probe
}

// New returns the module; its gauge kportal_dependency_up is registered in registry.
func New(log *slog.Logger, registry *prometheus.Registry, deps ...Dependency) *Module {
	m := &Module{deps: deps, log: log, registry: registry, state: map[string]bool{},
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kportal_dependency_up", Help: "1 when the dependency answered its last probe, 0 when not.",
		}, []string{"dependency"})}
	registry.MustRegister(m.up)
	return m
}

func (m *Module) Info() modules.Info { return modules.Info{ID: "health", Title: "Drift"} }

// Routes puts the probes on the public server (load balancers ask them
// there); metrics are only on the internal one (Metrics).
func (m *Module) Routes(r *modules.Router) {
	r.GET("/healthz", Alive, modules.Public())
	r.GET("/readyz", m.Ready, modules.Public())
}

// IsProbe reports whether a request is for /healthz or /readyz, which must
// answer without a session lookup (it needs Kratos and PostgreSQL).
func IsProbe(c echo.Context) bool {
	p := c.Request().URL.Path
	return p == "/healthz" || p == "/readyz"
}

// Alive answers /healthz: the process serves HTTP.
func Alive(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// Ready answers /readyz: 200 when every required dependency answers, else 503.
// The body never says why (hosts, users and errors go to the log and the
// metrics only): it is public.
func (m *Module) Ready(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), probeTimeout)
	defer cancel()
	for _, d := range m.deps {
		if d.Required && m.probe(ctx, d) != nil {
			return c.JSON(http.StatusServiceUnavailable, map[string]any{
				"status": "unavailable",
				"error":  map[string]string{"code": string(apperr.Unavailable), "message": apperr.DefaultMessage(apperr.Unavailable)},
			})
		}
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// Metrics serves the registry in Prometheus' format.
func (m *Module) Metrics() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Probe checks every dependency at once and records each one's state.
func (m *Module) Probe(ctx context.Context) {
	var wg sync.WaitGroup
	for _, d := range m.deps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, probeTimeout)
			defer cancel()
			_ = m.probe(pctx, d)
		}()
	}
	wg.Wait()
}

// Watch probes every dependency now and then every interval until ctx ends,
// so the gauges and the log follow dependencies nobody's request touched.
func (m *Module) Watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		m.Probe(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// probe runs one check and records its outcome: the gauge always, the log
// only when the state changed (a dependency down for an hour is one line, not
// one per probe).
func (m *Module) probe(ctx context.Context, d Dependency) error {
	err := d.Check(ctx)
	if errors.Is(ctx.Err(), context.Canceled) {
		return err // the caller went away (shutdown, client gone): says nothing about the dependency
	}
	up := err == nil
	if up {
		m.up.WithLabelValues(d.Name).Set(1)
	} else {
		m.up.WithLabelValues(d.Name).Set(0)
	}
	m.mu.Lock()
	was, seen := m.state[d.Name]
	m.state[d.Name] = up
	m.mu.Unlock()
	switch {
	case !up && (!seen || was):
		m.log.Warn("dependency down", "dependency", d.Name, "required", d.Required, "error", err)
	case up && (!seen || !was):
		m.log.Info("dependency up", "dependency", d.Name)
	}
	return err
}

// HTTPMetrics counts requests and their duration by route pattern (not raw
// path, so ids do not explode the label set) and the status actually sent:
// it hands a handler's error to the error handler itself, as echo's request
// logger does with HandleError, so an apperr's status is known before it is
// counted. Placed outside the panic recovery, a panic counts as its 500.
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
			if err := next(c); err != nil {
				c.Error(err)
			}
			route := c.Path()
			if route == "" {
				route = "unmatched"
			}
			requests.WithLabelValues(route, c.Request().Method, strconv.Itoa(c.Response().Status)).Inc()
			duration.WithLabelValues(route, c.Request().Method).Observe(time.Since(start).Seconds())
			return nil
		}
	}
}
