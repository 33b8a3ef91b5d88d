package identity

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"kportal/storage/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// countingTransport counts the requests that reach Kratos' whoami endpoint.
type countingTransport struct {
	next  http.RoundTripper
	calls atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/sessions/whoami") {
		c.calls.Add(1)
	}
	return c.next.RoundTrip(r)
}

// countedSessions returns a session checker on the real Kratos whose calls are
// counted, holding at most max sessions.
func countedSessions(t *testing.T, max int) (*Sessions, *countingTransport) {
	t.Helper()
	k := NewKratos(testenv.KratosPublic, testenv.KratosAdmin)
	ct := &countingTransport{next: http.DefaultTransport}
	k.http.Transport = ct // the generated clients share this http.Client
	s := NewSessions(k, testenv.Get(t).App, nil, time.Minute)
	s.cache = newLRU(max)
	return s, ct
}

// apiSession creates a user and signs in through Kratos' native flow,
// returning the session token an API client would send.
func apiSession(t *testing.T, given string) string {
	t.Helper()
	email, password := testenv.UniqueEmail(given), "riktig-hest-batteri-9"
	k := NewKratos(testenv.KratosPublic, testenv.KratosAdmin)
	if _, err := k.EnsureIdentity(context.Background(), email, given, "Testesen", password); err != nil {
		t.Fatal(err)
	}
	return testenv.SessionToken(t, email, password)
}

// Many requests of one session not yet cached (a page and its htmx requests)
// ask Kratos once between them, and all get the person.
func TestHardeningSessionCheckIsCoalesced(t *testing.T) {
	s, ct := countedSessions(t, 100)
	token := apiSession(t, "Samtidig")
	const n = 24
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	names := make(chan string, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			v, err := s.viewer(context.Background(), "", token)
			if err != nil {
				errs <- err
				return
			}
			if v != nil {
				names <- v.GivenName
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	close(names)
	for err := range errs {
		t.Fatal(err)
	}
	got := 0
	for name := range names {
		if name != "Samtidig" {
			t.Fatalf("a request got %q", name)
		}
		got++
	}
	if got != n {
		t.Fatalf("%d of %d requests got the person", got, n)
	}
	if calls := ct.calls.Load(); calls != 1 {
		t.Fatalf("%d concurrent requests of one session made %d calls to Kratos, want 1", n, calls)
	}
}

// The cache holds at most its size and drops the session used least
// recently: that one asks Kratos again, the others do not.
func TestHardeningSessionCacheIsBoundedLRU(t *testing.T) {
	s, ct := countedSessions(t, 2)
	a, b, c := apiSession(t, "Anna"), apiSession(t, "Bjorn"), apiSession(t, "Cato")
	ask := func(token, want string) {
		t.Helper()
		v, err := s.viewer(context.Background(), "", token)
		if err != nil || v == nil || v.GivenName != want {
			t.Fatalf("viewer: %+v, %v; want %s", v, err, want)
		}
	}
	ask(a, "Anna")
	ask(b, "Bjorn")
	ask(a, "Anna") // cached; now b is the least recently used
	if calls := ct.calls.Load(); calls != 2 {
		t.Fatalf("%d calls to Kratos for two sessions, want 2", calls)
	}
	ask(c, "Cato") // a third session: b goes
	if n := s.cache.len(); n != 2 {
		t.Fatalf("the cache holds %d sessions, want at most 2", n)
	}
	ask(a, "Anna")
	ask(c, "Cato")
	if calls := ct.calls.Load(); calls != 3 {
		t.Fatalf("%d calls to Kratos, want 3: the sessions kept must not ask again", calls)
	}
	ask(b, "Bjorn")
	if calls := ct.calls.Load(); calls != 4 {
		t.Fatalf("%d calls to Kratos, want 4: the session dropped asks again", calls)
	}
	if n := s.cache.len(); n != 2 {
		t.Fatalf("the cache holds %d sessions, want at most 2", n)
	}
	// Many more sessions than fit: the cache stays at its size and never
	// empties itself (the old cache wiped everything when full).
	for range 5 {
		ask(apiSession(t, "Flere"), "Flere")
		if n := s.cache.len(); n != 2 {
			t.Fatalf("the cache holds %d sessions, want 2", n)
		}
	}
}
