package testenv

import (
	"encoding/json"
	"net/http"
	"net/smtp"
	"net/url"
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

// SyncMail sends a marker e-mail to the SMTP sink and waits until maildev
// lists it. maildev answers a message before it has stored it, so one handed
// over just before may not be listed yet; it is once the marker, handed over
// after it, is (maildev stores messages in the order it takes them). After
// WaitQueuesDrained it makes every e-mail the jobs sent visible, so a test can
// count them.
func SyncMail(t testing.TB) {
	t.Helper()
	u, err := url.Parse(SMTPURL)
	if err != nil {
		t.Fatalf("SMTP URL %q: %v", SMTPURL, err)
	}
	to := UniqueEmail("synk")
	msg := "From: test@kportal.localhost\r\nTo: " + to + "\r\nSubject: synk\r\n\r\nsynk\r\n"
	if err := smtp.SendMail(u.Host, nil, "test@kportal.localhost", []string{to}, []byte(msg)); err != nil {
		t.Fatalf("marker e-mail to %s: %v", u.Host, err)
	}
	WaitForMails(t, to, 1, 15*time.Second)
}
