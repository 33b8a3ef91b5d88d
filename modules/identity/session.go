// Package identity connects kportal to Ory Kratos: the session middleware that
// turns a Kratos session into a Viewer, and the self-service pages (login,
// registration, recovery, verification, settings, logout) that kportal renders
// itself from Kratos' flows, in Norwegian.
package identity

import (
	"container/list"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	kratos "github.com/ory/kratos-client-go"
	"github.com/uptrace/bun"
	"golang.org/x/sync/singleflight"

	"kportal/modules"
	"kportal/tenants"
)

// SessionCookie is the name of Kratos' session cookie (deploy/kratos/kratos.yml).
const SessionCookie = "kportal_session"

// Kratos is the client side of Ory Kratos.
type Kratos struct {
	Public    *kratos.APIClient
	Admin     *kratos.APIClient
	PublicURL string
	http      *http.Client
}

// NewKratos returns clients for Kratos' public and admin APIs.
func NewKratos(publicURL, adminURL string) *Kratos {
	hc := &http.Client{Timeout: 10 * time.Second}
	mk := func(u string) *kratos.APIClient {
		cfg := kratos.NewConfiguration()
		cfg.Servers = kratos.ServerConfigurations{{URL: u}}
		cfg.HTTPClient = hc
		return kratos.NewAPIClient(cfg)
	}
	return &Kratos{Public: mk(publicURL), Admin: mk(adminURL), PublicURL: publicURL, http: hc}
}

// Ping checks that Kratos answers (for /readyz and start-up).
func (k *Kratos) Ping(ctx context.Context) error {
	_, resp, err := k.Admin.MetadataAPI.IsReady(ctx).Execute()
	if err != nil {
		if resp != nil {
			return fmt.Errorf("not ready (HTTP %d)", resp.StatusCode)
		}
		return errors.New("not reachable")
	}
	return nil
}

// Sessions checks Kratos sessions and caches the answer briefly: a page view
// costs no call to Kratos when the same session was checked seconds ago, and
// concurrent requests of one session not yet cached share one call.
type Sessions struct {
	kratos *Kratos
	db     bun.IDB
	log    *slog.Logger
	ttl    time.Duration
	checks singleflight.Group

	mu    sync.Mutex
	cache *lru
}

type cached struct {
	person     *modules.Viewer
	expires    time.Time
	refreshing bool // a background check is under way
}

// NewSessions returns the session checker; ttl is how long an answer is reused.
func NewSessions(k *Kratos, db bun.IDB, log *slog.Logger, ttl time.Duration) *Sessions {
	return &Sessions{kratos: k, db: db, log: log, ttl: ttl, cache: newLRU(maxCached)}
}

// maxCached bounds the cache; past it the least recently used session goes.
const maxCached = 50_000

// Middleware puts the Viewer in the request context when the request carries a
// valid session (cookie or X-Session-Token). Requests without one pass on as
// anonymous; routes that need a person refuse them.
func (s *Sessions) Middleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			token := r.Header.Get("X-Session-Token")
			cookie := ""
			if ck, err := r.Cookie(SessionCookie); err == nil {
				cookie = ck.Value
			}
			if token == "" && cookie == "" {
				return next(c)
			}
			v, err := s.viewer(r.Context(), cookie, token)
			if err != nil {
				return err
			}
			if v == nil {
				return next(c)
			}
			ms, prs, err := tenants.AccessOf(r.Context(), s.db, v.PersonID)
			if err != nil {
				return err
			}
			vv := *v // the cached value is shared between requests
			vv.Memberships, vv.PlatformRoles = ms, prs
			c.SetRequest(r.WithContext(modules.WithViewer(r.Context(), &vv)))
			return next(c)
		}
	}
}

func (s *Sessions) viewer(ctx context.Context, cookie, token string) (*modules.Viewer, error) {
	key := sha256.Sum256([]byte(cookie + "\x00" + token))
	if v, ok := s.cached(key, cookie, token); ok {
		return v, nil
	}
	// One call to Kratos per session however many requests wait for it (a page
	// and its htmx requests arrive together). It runs on its own context, so
	// one caller giving up does not fail the others.
	res, err, _ := s.checks.Do(string(key[:]), func() (any, error) {
		if v, ok := s.cached(key, cookie, token); ok {
			return v, nil // a flight that ended just before this one began
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		v, err := s.check(cctx, cookie, token)
		if err != nil || v == nil {
			return v, err
		}
		s.mu.Lock()
		s.cache.put(key, cached{person: v, expires: time.Now().Add(s.ttl)})
		s.mu.Unlock()
		return v, nil
	})
	v, _ := res.(*modules.Viewer)
	return v, err
}

// cached returns the cached viewer of a session still in its time.
func (s *Sessions) cached(key [32]byte, cookie, token string) (*modules.Viewer, bool) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cache.get(key)
	if !ok {
		return nil, false
	}
	if !now.Before(c.expires) {
		s.cache.remove(key)
		return nil, false
	}
	// A session in use is checked again in the background once half its
	// time is gone, so an active user never waits for Kratos, and a
	// revoked session still stops within the cache time.
	if !c.refreshing && now.After(c.expires.Add(-s.ttl/2)) {
		c.refreshing = true
		s.cache.put(key, c)
		go s.refresh(key, cookie, token)
	}
	return c.person, true
}

// refresh checks a cached session again and replaces, or drops, its entry;
// an entry dropped meanwhile (logout) stays dropped.
func (s *Sessions) refresh(key [32]byte, cookie, token string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := s.check(ctx, cookie, token)
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cache.peek(key)
	switch {
	case !ok:
	case err != nil: // Kratos not answering: the entry expires as usual, a later request tries again
		c.refreshing = false
		s.cache.update(key, c)
	case v == nil: // ended or revoked: the next request is anonymous
		s.cache.remove(key)
	default:
		s.cache.update(key, cached{person: v, expires: time.Now().Add(s.ttl)})
	}
}

// check asks Kratos about a session: the viewer, nil for no valid session.
func (s *Sessions) check(ctx context.Context, cookie, token string) (*modules.Viewer, error) {
	req := s.kratos.Public.FrontendAPI.ToSession(ctx)
	if token != "" {
		req = req.XSessionToken(token)
	} else {
		req = req.Cookie(SessionCookie + "=" + cookie)
	}
	sess, resp, err := req.Execute()
	if err != nil {
		if resp != nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
			return nil, nil // no valid session: anonymous
		}
		return nil, unavailable(err)
	}
	if !sess.GetActive() || sess.Identity == nil {
		return nil, nil
	}
	return s.personFor(ctx, sess.Identity)
}

// Forget drops cached answers for a session (after logout).
func (s *Sessions) Forget(cookie, token string) {
	key := sha256.Sum256([]byte(cookie + "\x00" + token))
	s.mu.Lock()
	s.cache.remove(key)
	s.mu.Unlock()
}

// lru is the session cache: at most max entries, the least recently used
// dropped first. Callers hold Sessions.mu.
type lru struct {
	max   int
	order *list.List // of *lruEntry, most recently used first
	items map[[32]byte]*list.Element
}

type lruEntry struct {
	key [32]byte
	val cached
}

func newLRU(max int) *lru {
	return &lru{max: max, order: list.New(), items: map[[32]byte]*list.Element{}}
}

// get returns an entry and marks it used.
func (l *lru) get(k [32]byte) (cached, bool) {
	e, ok := l.items[k]
	if !ok {
		return cached{}, false
	}
	l.order.MoveToFront(e)
	return e.Value.(*lruEntry).val, true
}

// peek returns an entry without marking it used.
func (l *lru) peek(k [32]byte) (cached, bool) {
	if e, ok := l.items[k]; ok {
		return e.Value.(*lruEntry).val, true
	}
	return cached{}, false
}

// put stores an entry as the most recently used, dropping the least
// recently used ones past max.
func (l *lru) put(k [32]byte, v cached) {
	if e, ok := l.items[k]; ok {
		e.Value.(*lruEntry).val = v
		l.order.MoveToFront(e)
		return
	}
	l.items[k] = l.order.PushFront(&lruEntry{key: k, val: v})
	for l.order.Len() > l.max {
		last := l.order.Back()
		l.order.Remove(last)
		delete(l.items, last.Value.(*lruEntry).key)
	}
}

// update replaces an entry that is still there, without marking it used.
func (l *lru) update(k [32]byte, v cached) {
	if e, ok := l.items[k]; ok {
		e.Value.(*lruEntry).val = v
	}
}

func (l *lru) remove(k [32]byte) {
	if e, ok := l.items[k]; ok {
		l.order.Remove(e)
		delete(l.items, k)
	}
}

func (l *lru) len() int { return l.order.Len() }

// Traits are kportal's identity traits (deploy/kratos/identity.schema.json).
type Traits struct {
	Email string `json:"email"`
	Name  struct {
		Given  string `json:"given"`
		Family string `json:"family"`
	} `json:"name"`
}

// TraitsOf decodes an identity's traits.
func TraitsOf(id *kratos.Identity) Traits {
	var t Traits
	if m, ok := id.Traits.(map[string]any); ok {
		t.Email, _ = m["email"].(string)
		if n, ok := m["name"].(map[string]any); ok {
			t.Name.Given, _ = n["given"].(string)
			t.Name.Family, _ = n["family"].(string)
		}
	}
	return t
}

// personFor finds or creates the person for a Kratos identity, keeping e-mail
// and name in step with the identity's traits.
func (s *Sessions) personFor(ctx context.Context, id *kratos.Identity) (*modules.Viewer, error) {
	t := TraitsOf(id)
	identityID, err := uuid.Parse(id.Id)
	if err != nil {
		return nil, fmt.Errorf("kratos identity id %q: %w", id.Id, err)
	}
	personID, err := EnsurePerson(ctx, s.db, identityID, t)
	if err != nil {
		return nil, err
	}
	return &modules.Viewer{PersonID: personID, IdentityID: id.Id, Email: t.Email, GivenName: t.Name.Given, FamilyName: t.Name.Family}, nil
}

// EnsurePerson upserts the person row of an identity and returns its id.
func EnsurePerson(ctx context.Context, db bun.IDB, identityID uuid.UUID, t Traits) (uuid.UUID, error) {
	var id uuid.UUID
	err := db.NewRaw(`INSERT INTO people (identity_id, email, given_name, family_name) VALUES (?, ?, ?, ?)
		ON CONFLICT (identity_id) DO UPDATE SET email = EXCLUDED.email, given_name = EXCLUDED.given_name, family_name = EXCLUDED.family_name
		RETURNING id`, identityID, t.Email, t.Name.Given, t.Name.Family).Scan(ctx, &id)
	return id, err
}
