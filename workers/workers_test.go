package workers_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/uptrace/bun"

	"kportal/storage/testenv"
	"kportal/tenants"
	"kportal/workers"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestMailerSendsTextAndHTML(t *testing.T) {
	m, err := workers.NewMailer(testenv.SMTPURL, "kportal <ikke-svar@kportal.localhost>")
	if err != nil {
		t.Fatal(err)
	}
	to := testenv.UniqueEmail("mottaker")
	err = m.Send(context.Background(), workers.Mail{To: to, Subject: "Læringsmål godkjent – KLS-001", Text: "Hei Åse,\nmålet er godkjent.", HTML: "<p>Hei Åse,</p><p>målet er godkjent.</p>"})
	if err != nil {
		t.Fatal(err)
	}
	got := testenv.WaitForMails(t, to, 1, 10*time.Second)[0]
	if got.Subject != "Læringsmål godkjent – KLS-001" || !strings.Contains(got.Text, "Hei Åse") || !strings.Contains(got.HTML, "<p>Hei Åse,</p>") {
		t.Fatalf("got %+v", got)
	}
	if _, err := workers.NewSendMailTask(workers.Mail{To: "ikke en adresse"}, workers.QueueMail); err == nil {
		t.Fatal("a task to a non-address was accepted")
	}
	if _, err := workers.NewMailer("http://x", "a@b.no"); err == nil {
		t.Fatal("a non-SMTP URL was accepted")
	}
}

type countPayload struct {
	workers.TenantPayload
	Want int `json:"want"`
}

// Jobs run inside WithTenantTx for their own tenant: they see its rows only.
func TestInTenantHandlerSeesOnlyItsTenant(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	a := &tenants.Tenant{Slug: "jobb-a-" + uuid.NewString()[:6], Name: "A", Kind: tenants.KindKommune}
	b := &tenants.Tenant{Slug: "jobb-b-" + uuid.NewString()[:6], Name: "B", Kind: tenants.KindKommune}
	for _, tn := range []*tenants.Tenant{a, b} {
		if err := tenants.Create(ctx, env.App, tn); err != nil {
			t.Fatal(err)
		}
	}
	var person uuid.UUID
	if err := env.App.NewRaw("INSERT INTO people (identity_id, email) VALUES (?, ?) RETURNING id", uuid.New(), testenv.UniqueEmail("jobb")).Scan(ctx, &person); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"lis", "leder"} {
		if err := tenants.AddMembership(ctx, env.App, a.ID, person, r); err != nil {
			t.Fatal(err)
		}
	}
	var seen int
	h := workers.InTenant(env.App, func(ctx context.Context, tx bun.Tx, p countPayload) error {
		return tx.NewRaw("SELECT count(*) FROM memberships").Scan(ctx, &seen)
	})
	run := func(p countPayload) error {
		b, _ := json.Marshal(p)
		return h.ProcessTask(ctx, asynq.NewTask("test:count", b))
	}
	if err := run(countPayload{TenantPayload: workers.TenantPayload{TenantID: a.ID}}); err != nil || seen != 2 {
		t.Fatalf("tenant A job saw %d rows (%v), want 2", seen, err)
	}
	if err := run(countPayload{TenantPayload: workers.TenantPayload{TenantID: b.ID}}); err != nil || seen != 0 {
		t.Fatalf("tenant B job saw %d rows (%v), want 0", seen, err)
	}
	if err := run(countPayload{}); !errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("a job without tenant must fail for good, got %v", err)
	}
}

// Schedules are in Oslo time: "Wednesdays 07:00" is 07:00 in Oslo.
func TestSchedulerRegistersInOsloTime(t *testing.T) {
	env := testenv.Get(t)
	redis := asynq.RedisClientOpt{Addr: testenv.RedisAddr, DB: env.RedisDB}
	s, err := workers.NewScheduler(redis, quiet, []workers.Schedule{{Cron: "0 7 * * 3", Task: asynq.NewTask("test:weekly", nil), Opts: []asynq.Option{asynq.Queue(workers.QueueBulk)}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	in := asynq.NewInspector(redis)
	defer in.Close()
	var entries []*asynq.SchedulerEntry
	for i := 0; i < 150 && len(entries) == 0; i++ { // written by the heartbeat, every 5 s
		entries, _ = in.SchedulerEntries()
		time.Sleep(100 * time.Millisecond)
	}
	if len(entries) != 1 {
		t.Fatalf("scheduler entries: %d", len(entries))
	}
	next := entries[0].Next.In(workers.Oslo)
	if next.Weekday() != time.Wednesday || next.Hour() != 7 || next.Minute() != 0 {
		t.Fatalf("next run %s, want a Wednesday 07:00 in Oslo", next)
	}
	if _, err := workers.NewScheduler(redis, quiet, []workers.Schedule{{Cron: "not cron", Task: asynq.NewTask("x", nil)}}); err == nil {
		t.Fatal("a bad cron spec was accepted")
	}
}
