package main

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"kportal/workers"
	"kportal/workers/smtptest"
)

// The README's "A real SMTP server" section, tried: each KPORTAL_SMTP_URL it
// shows for smtp.example.no, with KPORTAL_SMTP_CA_FILE, read by kportal's
// configuration and mailer and sent through a server that speaks that URL's
// TLS with its own certificate (the host and port swapped for the server's).
func TestHardeningSMTPAsInREADME(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(readme)
	if i := strings.Index(section, "### A real SMTP server"); i >= 0 {
		section = section[i:]
		section = section[:strings.Index(section[4:], "\n### ")+4]
	} else {
		t.Fatal("the README has no section \"A real SMTP server\"")
	}
	urls := regexp.MustCompile("`KPORTAL_SMTP_URL=([^`]+)`").FindAllStringSubmatch(section, -1)
	ca := regexp.MustCompile("`KPORTAL_SMTP_CA_FILE=([^`]+)`").FindStringSubmatch(section)
	if len(urls) < 2 || ca == nil {
		t.Fatalf("the section shows %d SMTP URL(s) and CA file %v", len(urls), ca)
	}
	for _, m := range urls {
		readmeURL := m[1]
		t.Run(readmeURL, func(t *testing.T) {
			mode := smtptest.StartTLS
			if strings.HasPrefix(readmeURL, "smtps://") {
				mode = smtptest.Implicit
			}
			srv := smtptest.Start(t, smtptest.Options{Mode: mode, User: "user", Password: "password"})
			u := regexp.MustCompile(`smtp\.example\.no:\d+`).ReplaceAllString(readmeURL, "localhost:"+srv.Port)
			if u == readmeURL {
				t.Fatalf("%s does not name smtp.example.no with a port", readmeURL)
			}
			t.Setenv("KPORTAL_SMTP_URL", u)
			t.Setenv("KPORTAL_SMTP_CA_FILE", srv.CAFile) // instead of the README's path
			t.Setenv("KPORTAL_MAIL_FROM", "kportal <ikke-svar@example.no>")
			t.Setenv("KPORTAL_BASE_URL", "https://kportal.example.no") // the name kportal gives in EHLO
			cfg, err := loadConfig()
			if err != nil {
				t.Fatal(err)
			}
			mailer, err := newMailer(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := mailer.Send(ctx, workers.Mail{To: "lis@example.no", Subject: "Invitasjon", Text: "Velkommen"}); err != nil {
				t.Fatal(err)
			}
			if got := srv.Wait(t, "lis@example.no", 10*time.Second); !got.TLS || got.User != "user" || srv.PlainTextAuths() != 0 || got.Helo != "kportal.example.no" {
				t.Fatalf("got %+v, %d AUTH in clear", got, srv.PlainTextAuths())
			}
		})
	}
	// The local sink's URL is the development default, and kportal starts with it.
	sink := "smtp://127.0.0.1:1025/?disable_starttls=true"
	if !strings.Contains(section, "`"+sink+"`") {
		t.Fatalf("the section does not show %s", sink)
	}
	for _, k := range []string{"KPORTAL_SMTP_URL", "KPORTAL_SMTP_CA_FILE"} {
		t.Setenv(k, "") // restored after the test
		os.Unsetenv(k)
	}
	cfg, err := loadConfig()
	if err != nil || cfg.SMTPURL != sink {
		t.Fatalf("default %q, %v", cfg.SMTPURL, err)
	}
	if _, err := newMailer(cfg); err != nil {
		t.Fatal(err)
	}
}
