package workers_test

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kportal/workers"
	"kportal/workers/smtptest"
)

const sender = "kportal <ikke-svar@kportal.localhost>"

func send(t *testing.T, m *workers.Mailer, to string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return m.Send(ctx, workers.Mail{To: to, Subject: "Invitasjon til kportal", Text: "Hei,\nvelkommen."})
}

// Every real server offers STARTTLS: the message goes encrypted, the
// certificate checked against the host name in the URL, and the credentials
// only after TLS. A second message reuses the connection.
func TestSecurityMailArrivesOverSTARTTLS(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Mode: smtptest.StartTLS, User: "kportal", Password: "hemmelig"})
	m, err := workers.NewMailer("smtp://kportal:hemmelig@localhost:"+srv.Port, sender, workers.WithCAFile(srv.CAFile),
		workers.WithHelloName("kportal.example.no"))
	if err != nil {
		t.Fatal(err)
	}
	for _, to := range []string{"en@example.no", "to@example.no"} {
		if err := send(t, m, to); err != nil {
			t.Fatal(err)
		}
		got := srv.Wait(t, to, 10*time.Second)
		if !got.TLS || got.User != "kportal" || !strings.Contains(got.Data, "velkommen") || got.Helo != "kportal.example.no" {
			t.Fatalf("got %+v", got)
		}
	}
	if srv.PlainTextAuths() != 0 || srv.Connections() != 1 {
		t.Fatalf("%d AUTH in clear, %d connections", srv.PlainTextAuths(), srv.Connections())
	}
}

// smtps:// is TLS from the first byte (port 465).
func TestSecurityMailArrivesOverImplicitTLS(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Mode: smtptest.Implicit, User: "kportal", Password: "hemmelig"})
	m, err := workers.NewMailer("smtps://kportal:hemmelig@127.0.0.1:"+srv.Port, sender, workers.WithCAFile(srv.CAFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := send(t, m, "lis@example.no"); err != nil {
		t.Fatal(err)
	}
	if got := srv.Wait(t, "lis@example.no", 10*time.Second); !got.TLS || got.User != "kportal" {
		t.Fatalf("got %+v", got)
	}
}

// A server that offers no STARTTLS gets nothing for smtp:// (an attacker
// can strip the offer); only a URL that says so sends in clear, to a sink.
func TestSecurityMailRefusesServerWithoutSTARTTLS(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Mode: smtptest.Plain})
	m, err := workers.NewMailer("smtp://127.0.0.1:"+srv.Port, sender)
	if err != nil {
		t.Fatal(err)
	}
	err = send(t, m, "lis@example.no")
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("sent without TLS: %v", err)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("the server got %d message(s) in clear", n)
	}
	sink, err := workers.NewMailer("smtp://127.0.0.1:"+srv.Port+"/?disable_starttls=true", sender)
	if err != nil {
		t.Fatal(err)
	}
	if err := send(t, sink, "lis@example.no"); err != nil {
		t.Fatal(err)
	}
	if got := srv.Wait(t, "lis@example.no", 10*time.Second); got.TLS {
		t.Fatalf("got %+v", got)
	}
}

// Credentials never cross the network in clear: not to a server that offers
// AUTH without TLS (net/smtp would allow it to 127.0.0.1), and a URL that
// asks for it is refused at start.
func TestSecurityMailNeverSendsCredentialsInClear(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Mode: smtptest.Plain, User: "kportal", Password: "hemmelig"})
	m, err := workers.NewMailer("smtp://kportal:hemmelig@127.0.0.1:"+srv.Port, sender)
	if err != nil {
		t.Fatal(err)
	}
	if err := send(t, m, "lis@example.no"); err == nil {
		t.Fatal("sent")
	}
	if n := srv.PlainTextAuths(); n != 0 {
		t.Fatalf("%d AUTH command(s) sent in clear", n)
	}
	for _, u := range []string{
		"smtp://kportal:hemmelig@127.0.0.1:" + srv.Port + "/?disable_starttls=true",
		"smtp://kportal@127.0.0.1:" + srv.Port + "?disable_starttls=1",
	} {
		_, err := workers.NewMailer(u, sender)
		if err == nil || !strings.Contains(err.Error(), "credentials") || strings.Contains(err.Error(), "hemmelig") {
			t.Errorf("%s: %v", u, err)
		}
	}
}

// The certificate is checked: against the CA file when one is given, else
// against the system's CAs; a wrong one is a clear error naming the server.
func TestSecurityMailWrongCAFails(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Mode: smtptest.StartTLS})
	other := smtptest.Start(t, smtptest.Options{Mode: smtptest.Implicit})
	tls := smtptest.Start(t, smtptest.Options{Mode: smtptest.Implicit})
	cases := map[string][]workers.MailerOption{"another CA": {workers.WithCAFile(other.CAFile)}, "system CAs": nil}
	for name, opts := range cases {
		for _, u := range []string{"smtp://localhost:" + srv.Port, "smtps://localhost:" + tls.Port} {
			m, err := workers.NewMailer(u, sender, opts...)
			if err != nil {
				t.Fatal(err)
			}
			err = send(t, m, "lis@example.no")
			var unknown x509.UnknownAuthorityError
			if !errors.As(err, &unknown) || !strings.Contains(err.Error(), "localhost:") || !strings.Contains(err.Error(), "not trusted") {
				t.Errorf("%s, %s: %v", name, u, err)
			}
		}
	}
	if n := len(srv.Messages()) + len(tls.Messages()); n != 0 {
		t.Fatalf("%d message(s) sent to an untrusted server", n)
	}
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{notPEM, filepath.Join(t.TempDir(), "missing.pem")} {
		if _, err := workers.NewMailer("smtp://localhost:"+srv.Port, sender, workers.WithCAFile(f)); err == nil || !strings.Contains(err.Error(), f) {
			t.Errorf("CA file %s: %v", f, err)
		}
	}
}

// The URL forms: default ports, and mistakes are refused without echoing
// the password.
func TestSecurityMailURL(t *testing.T) {
	for u, addr := range map[string]string{
		"smtp://smtp.example.no":                       "smtp.example.no:587",
		"smtps://u:p@smtp.example.no":                  "smtp.example.no:465",
		"smtp://127.0.0.1:1025/?disable_starttls=true": "127.0.0.1:1025",
	} {
		m, err := workers.NewMailer(u, sender)
		if err != nil || m.Addr != addr {
			t.Errorf("%s: %v, %v", u, m, err)
		}
	}
	for _, u := range []string{
		"http://smtp.example.no",
		"smtp://u:hemmelig@smtp.example.no/?skip_ssl_verify=true",
		"smtps://u:hemmelig@smtp.example.no/?disable_starttls=true",
		"smtp://u:hemmelig@smtp.example.no/?disable_starttls=kanskje",
		"smtp://u:hemmelig@:587",
	} {
		if _, err := workers.NewMailer(u, sender); err == nil || strings.Contains(err.Error(), "hemmelig") {
			t.Errorf("%s: %v", u, err)
		}
	}
}

// A pooled connection that the network dropped without a word fails within
// the mailer's timeout, and the message goes over a new connection instead
// of holding the worker forever.
func TestHardeningMailDroppedConnectionDoesNotHang(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Mode: smtptest.StartTLS})
	m, err := workers.NewMailer("smtp://localhost:"+srv.Port, sender, workers.WithCAFile(srv.CAFile))
	if err != nil {
		t.Fatal(err)
	}
	m.Timeout = 500 * time.Millisecond
	if err := send(t, m, "en@example.no"); err != nil {
		t.Fatal(err)
	}
	srv.Stall() // the kept connection stops answering
	done := make(chan error, 1)
	go func() {
		done <- m.Send(context.Background(), workers.Mail{To: "to@example.no", Subject: "x", Text: "y"})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Send still waits for a connection that no longer answers")
	}
	srv.Wait(t, "to@example.no", 10*time.Second)
	if n := srv.Connections(); n != 2 {
		t.Fatalf("%d connections, want 2", n)
	}
	// A server that takes the connection and never greets is given up too.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, silent, until the test ends
		}
	}()
	mute, err := workers.NewMailer("smtp://"+ln.Addr().String(), sender)
	if err != nil {
		t.Fatal(err)
	}
	mute.Timeout = 500 * time.Millisecond
	go func() {
		done <- mute.Send(context.Background(), workers.Mail{To: "fire@example.no", Subject: "x", Text: "y"})
	}()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("silent server: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Send still waits for a greeting that never comes")
	}

	// A cancelled context stops a conversation at once, whatever the timeout.
	m.Timeout = time.Hour
	srv.Stall()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- m.Send(ctx, workers.Mail{To: "tre@example.no", Subject: "x", Text: "y"}) }()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled send: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a cancelled Send still waits")
	}
}
