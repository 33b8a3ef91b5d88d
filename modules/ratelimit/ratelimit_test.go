package ratelimit

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"kportal/modules/apperr"
	"kportal/storage/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestHardeningLimitParse(t *testing.T) {
	for in, want := range map[string]Limit{"10/15m": {10, 15 * time.Minute}, " 5 / 1h ": {5, time.Hour}, "off": {}} {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "10", "0/1m", "-1/1m", "ti/1m", "10/kvarter", "10/10ms"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

func TestHardeningWaitInNorwegian(t *testing.T) {
	for d, want := range map[time.Duration]string{
		300 * time.Millisecond: "om 1 sekund", 40 * time.Second: "om 40 sekunder", 61 * time.Second: "om 2 minutter",
		time.Hour: "om 60 minutter", 90 * time.Minute: "om 2 timer",
	} {
		if got := In(d); got != want {
			t.Errorf("In(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestHardeningClientAddressCountsIPv6ByPrefix(t *testing.T) {
	if a, b := ClientAddress("2001:db8:1:2:aaaa::1"), ClientAddress("2001:db8:1:2:bbbb::9"); a != b || a != "2001:db8:1:2::/64" {
		t.Fatalf("one /64 counted as %q and %q", a, b)
	}
	if a := ClientAddress("192.0.2.7"); a != "192.0.2.7" {
		t.Fatalf("IPv4 counted as %q", a)
	}
}

// Two limiters on the same Redis (two kportal instances) share the count; the
// refusal says when to retry; another key is not affected.
func TestHardeningLimiterCountsAcrossInstances(t *testing.T) {
	env := testenv.Get(t)
	limits := map[Kind]Limit{SignIn: {N: 2, Per: time.Hour}}
	one, two := env.Redis(), env.Redis()
	defer one.Close()
	defer two.Close()
	a, b := New(one, limits, slog.Default()), New(two, limits, slog.Default())
	ctx := context.Background()
	email := uuid.NewString() + "@example.no"
	for i, l := range []*Limiter{a, b} {
		if err := l.Check(ctx, Key{SignIn, email}); err != nil {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	err := a.Check(ctx, Key{SignIn, email})
	if !apperr.Is(err, apperr.RateLimited) {
		t.Fatalf("third attempt: %v, want rate_limited", err)
	}
	if d := apperr.RetryAfterOf(err); d < 29*time.Minute || d > 30*time.Minute {
		t.Fatalf("retry after %s, want about 30 minutes (2 per hour)", d)
	}
	if msg := apperr.MessageOf(err); !strings.Contains(msg, "for mange forsøk") || !strings.Contains(msg, "om 30 minutter") {
		t.Fatalf("message %q", msg)
	}
	if err := b.Check(ctx, Key{SignIn, "annen-" + email}); err != nil {
		t.Fatalf("another e-mail: %v", err)
	}
	if err := b.Check(ctx, Key{Mail, email}); err != nil {
		t.Fatalf("a kind without a limit: %v", err)
	}
	if err := (*Limiter)(nil).Check(ctx, Key{SignIn, email}); err != nil {
		t.Fatalf("no limiter: %v", err)
	}
}

// Redis down: the check lets the request through and says so in the log.
func TestHardeningLimiterFailsOpenWithoutRedis(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer rdb.Close()
	var logs bytes.Buffer
	l := New(rdb, map[Kind]Limit{SignIn: {N: 1, Per: time.Hour}}, slog.New(slog.NewTextHandler(&logs, nil)))
	for range 3 {
		if err := l.Check(context.Background(), Key{SignIn, "kari@example.no"}); err != nil {
			t.Fatalf("with Redis down: %v, want allowed", err)
		}
	}
	if !strings.Contains(logs.String(), "Redis unavailable") {
		t.Fatalf("nothing logged: %q", logs.String())
	}
}
