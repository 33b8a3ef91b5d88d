// Package ratelimit holds kportal's limits on what costs when abused:
// sign-in attempts (password guessing), e-mails with codes and e-mails a
// person has kportal send (mail-bombing). The counts live in Redis (GCRA,
// github.com/go-redis/redis_rate), so they hold across every kportal instance.
// Only the POSTs that do the work ask; page views never reach Redis.
package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"kportal/modules/apperr"
)

// Kind names what is counted; each has its own limit and its own message.
type Kind string

const (
	// SignIn counts submissions of the login, registration, recovery and
	// verification pages per e-mail address (the identifier typed).
	SignIn Kind = "signin"
	// Code counts requests for an e-mail with a code (login, recovery,
	// verification) per e-mail address.
	Code Kind = "code"
	// Address counts submissions of those pages per client address.
	Address Kind = "addr"
	// Mail counts e-mails a signed-in person has kportal send (invitations,
	// resends, the test e-mail), per person.
	Mail Kind = "mail"
	// APIKey counts requests to /api/v1 per API key (its id).
	APIKey Kind = "apikey"
	// Verify counts look-ups on the public verification page per client
	// address (a code is 64 bits: guessing them is slow, and slower still).
	Verify Kind = "verify"
)

// Limit allows N events per period: spread evenly, with bursts of up to N.
// The zero Limit is no limit.
type Limit struct {
	N   int
	Per time.Duration
}

func (l Limit) String() string {
	if l.N <= 0 {
		return "off"
	}
	return fmt.Sprintf("%d/%s", l.N, l.Per)
}

// Parse reads "10/15m" (ten per fifteen minutes); "off" is no limit.
func Parse(s string) (Limit, error) {
	if s = strings.TrimSpace(s); s == "off" {
		return Limit{}, nil
	}
	n, per, ok := strings.Cut(s, "/")
	count, err := strconv.Atoi(strings.TrimSpace(n))
	if !ok || err != nil || count <= 0 {
		return Limit{}, fmt.Errorf("not a limit like 10/15m or off: %q", s)
	}
	d, err := time.ParseDuration(strings.TrimSpace(per))
	if err != nil || d < time.Second {
		return Limit{}, fmt.Errorf("not a limit like 10/15m or off: %q", s)
	}
	return Limit{N: count, Per: d}, nil
}

// Key is one thing to count: a kind and whose (an e-mail, an address, a person).
type Key struct {
	Kind  Kind
	Value string
}

// Limiter checks keys against their kind's limit. A nil *Limiter allows everything.
type Limiter struct {
	rl     *redis_rate.Limiter
	limits map[Kind]Limit
	log    *slog.Logger
}

// New returns a limiter counting in rdb. rdb should answer fast or not at all
// (short timeouts, no retries): a sign-in waits for it.
func New(rdb *redis.Client, limits map[Kind]Limit, log *slog.Logger) *Limiter {
	return &Limiter{rl: redis_rate.NewLimiter(rdb), limits: limits, log: log}
}

// Check counts one event for each key, in order, and stops at the first that
// is over its kind's limit: that is an apperr.RateLimited error with the
// kind's Norwegian message and how long to wait. Keys with an empty value or a
// kind without a limit are skipped.
//
// When Redis cannot be reached the check fails open (logged): an outage of
// the limiter must not stop people signing in or inviting.
func (l *Limiter) Check(ctx context.Context, keys ...Key) error {
	if l == nil {
		return nil
	}
	for _, k := range keys {
		lim := l.limits[k.Kind]
		if lim.N <= 0 || k.Value == "" {
			continue
		}
		res, err := l.rl.Allow(ctx, redisKey(k), redis_rate.Limit{Rate: lim.N, Burst: lim.N, Period: lim.Per})
		if err != nil {
			l.log.Warn("rate limit not checked: Redis unavailable, allowing", "kind", k.Kind, "error", err)
			return nil
		}
		if res.Allowed == 0 {
			wait := max(res.RetryAfter, time.Second)
			return &apperr.Error{Code: apperr.RateLimited, Message: message(k.Kind, wait), RetryAfter: wait,
				Cause: fmt.Errorf("rate limit %s %s reached", k.Kind, lim)}
		}
	}
	return nil
}

// redisKey keeps e-mail addresses out of Redis: only a hash of the value is stored.
func redisKey(k Key) string {
	sum := sha256.Sum256([]byte(k.Value))
	return "kportal:" + string(k.Kind) + ":" + hex.EncodeToString(sum[:16])
}

// Email is the identifier form of an e-mail address: trimmed and lower-cased,
// so "Kari@X.no" and "kari@x.no " count together.
func Email(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// ClientAddress is the counted form of a client address: an IPv6 address
// counts by its /64, which one client usually holds whole.
func ClientAddress(ip string) string {
	a := net.ParseIP(ip)
	if a == nil {
		return ip
	}
	if a.To4() == nil {
		return a.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return a.String()
}

func message(k Kind, wait time.Duration) string {
	switch k {
	case Mail:
		return "Du har sendt mange e-poster på kort tid. Prøv igjen " + In(wait) + "."
	case APIKey:
		return "Denne API-nøkkelen har gjort for mange forespørsler på kort tid. Prøv igjen " + In(wait) + "."
	case Code:
		return "Det er sendt mange koder til denne e-postadressen på kort tid. Bruk koden du har fått, eller prøv igjen " + In(wait) + "."
	default:
		return "Det har vært for mange forsøk på kort tid. Prøv igjen " + In(wait) + "."
	}
}

// In says a wait in Norwegian, rounded up: "om 40 sekunder", "om 1 minutt", "om 2 timer".
func In(d time.Duration) string {
	unit := func(n int, one, many string) string {
		if n == 1 {
			return "om 1 " + one
		}
		return "om " + strconv.Itoa(n) + " " + many
	}
	switch {
	case d <= time.Minute:
		return unit(max(1, int(math.Ceil(d.Seconds()))), "sekund", "sekunder")
	case d <= time.Hour:
		return unit(int(math.Ceil(d.Minutes())), "minutt", "minutter")
	default:
		return unit(int(math.Ceil(d.Hours())), "time", "timer")
	}
}
