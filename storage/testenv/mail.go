package testenv

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Mail is an e-mail as maildev's REST API shows it.
type Mail struct {
	ID      string `json:"id"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
	HTML    string `json:"html"`
	To      []struct {
		Address string `json:"address"`
	} `json:"to"`
}

// MailsTo returns the e-mails maildev holds for address.
func MailsTo(t testing.TB, address string) []Mail {
	t.Helper()
	resp, err := http.Get(MaildevURL + "/email")
	if err != nil {
		t.Fatalf("maildev at %s: %v", MaildevURL, err)
	}
	defer resp.Body.Close()
	var all []Mail
	if err := json.NewDecoder(resp.Body).Decode(&all); err != nil {
		t.Fatalf("maildev answer: %v", err)
	}
	var out []Mail
	for _, m := range all {
		for _, to := range m.To {
			if strings.EqualFold(to.Address, address) {
				out = append(out, m)
			}
		}
	}
	return out
}

// WaitForMails waits until maildev holds at least n e-mails for address, and
// returns them; it fails the test after timeout.
func WaitForMails(t testing.TB, address string, n int, timeout time.Duration) []Mail {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ms := MailsTo(t, address)
		if len(ms) >= n {
			return ms
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %d e-mail(s) to %s, got %d", timeout, n, address, len(ms))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// WaitFor polls cond every 100 ms until it holds; it fails the test after limit.
func WaitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
