package workers_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"kportal/storage/testenv"
	"kportal/workers"
)

// A message whose record fails is never completed, so the server discards
// it; one whose record holds arrives once, recorded before it was complete.
func TestSendRecordedCompletesOnlyRecordedMail(t *testing.T) {
	m, err := workers.NewMailer(testenv.SMTPURL, "kportal <ikke-svar@kportal.localhost>")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	lost := testenv.UniqueEmail("uregistrert")
	boom := errors.New("the record could not be written")
	if err := m.SendRecorded(ctx, workers.Mail{To: lost, Subject: "Skal ikke fram", Text: "x"}, func() error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("send with a failing record: %v", err)
	}
	kept := testenv.UniqueEmail("registrert")
	recorded := false
	if err := m.SendRecorded(ctx, workers.Mail{To: kept, Subject: "Skal fram", Text: "y"}, func() error { recorded = true; return nil }); err != nil || !recorded {
		t.Fatalf("send: %v (recorded %v)", err, recorded)
	}
	testenv.WaitForMails(t, kept, 1, 10*time.Second)
	testenv.SyncMail(t) // had the server taken the first one, it would be listed now
	if n := len(testenv.MailsTo(t, lost)); n != 0 {
		t.Fatalf("the server kept %d message(s) whose DATA never ended", n)
	}
}
