package health_test

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"kportal/modules/health"
	"kportal/storage/testenv"
)

func count(l *testenv.LogBuffer, s string) int { return strings.Count(l.String(), s) }

// gauge is kportal_dependency_up for one dependency; -1 when absent.
func gauge(t *testing.T, reg *prometheus.Registry, dep string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "kportal_dependency_up" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "dependency" && l.GetValue() == dep {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return -1
}

// A dependency's state is in the gauge after every probe, and in the log once
// per change: Redis (the real one, then a closed port, then the real one
// again) probed several times in each state gives three lines, not seven.
func TestHardeningDependencyStateInMetricsAndLoggedOncePerChange(t *testing.T) {
	var addr atomic.Value
	addr.Store(testenv.RedisAddr)
	ping := func(ctx context.Context) error {
		c := redis.NewClient(&redis.Options{Addr: addr.Load().(string)})
		defer c.Close()
		return c.Ping(ctx).Err()
	}
	var logs testenv.LogBuffer
	reg := prometheus.NewRegistry()
	h := health.New(slog.New(slog.NewJSONHandler(&logs, nil)), reg, health.Dependency{Name: "redis", Check: ping})
	ctx := context.Background()

	steps := []struct {
		addr       string
		probes     int
		up         float64
		ups, downs int
	}{
		{testenv.RedisAddr, 2, 1, 1, 0},
		{"127.0.0.1:1", 3, 0, 1, 1},
		{testenv.RedisAddr, 2, 1, 2, 1},
	}
	for i, s := range steps {
		addr.Store(s.addr)
		for range s.probes {
			h.Probe(ctx)
		}
		if g := gauge(t, reg, "redis"); g != s.up {
			t.Errorf("step %d: kportal_dependency_up{dependency=\"redis\"} = %v, want %v", i, g, s.up)
		}
		if ups, downs := count(&logs, `"msg":"dependency up"`), count(&logs, `"msg":"dependency down"`); ups != s.ups || downs != s.downs {
			t.Errorf("step %d: %d up and %d down lines, want %d and %d:\n%s", i, ups, downs, s.ups, s.downs, logs.String())
		}
	}
	if count(&logs, `"dependency":"redis"`) != 3 || count(&logs, "127.0.0.1:1") != 1 {
		t.Errorf("the log should name the dependency and, when down, why:\n%s", logs.String())
	}
}
