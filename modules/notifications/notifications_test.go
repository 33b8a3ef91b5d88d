package notifications_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/uptrace/bun"

	"kportal/modules/notifications"
	"kportal/storage/testenv"
	"kportal/tenants"
	"kportal/workers"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

const base = "https://kportal.test"

type fixture struct {
	env    *testenv.Env
	redis  asynq.RedisClientOpt
	queue  *asynq.Client
	mod    *notifications.Module
	relay  *workers.Relay
	tenant *tenants.Tenant
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	env := testenv.Get(t)
	f := &fixture{env: env, redis: asynq.RedisClientOpt{Addr: testenv.RedisAddr, DB: env.RedisDB}}
	f.queue = asynq.NewClient(f.redis)
	t.Cleanup(func() { f.queue.Close() })
	mailer, err := workers.NewMailer(testenv.SMTPURL, "kportal <ikke-svar@kportal.localhost>")
	if err != nil {
		t.Fatal(err)
	}
	f.mod = notifications.New(env.App, nil, mailer, f.queue, base)
	f.relay = &workers.Relay{DB: env.App, Queue: f.queue, Log: quiet}
	f.tenant = newTenant(t, env.App, "Varsel HF")
	return f
}

func newTenant(t *testing.T, db bun.IDB, name string) *tenants.Tenant {
	t.Helper()
	return testenv.NewTenant(t, db, &tenants.Tenant{Name: name})
}

type person struct {
	ID    uuid.UUID
	Email string
}

func newPerson(t *testing.T, db bun.IDB, given string) person {
	t.Helper()
	p := person{Email: testenv.UniqueEmail("varsel")}
	if err := db.NewRaw("INSERT INTO people (identity_id, email, given_name, family_name) VALUES (?, ?, ?, 'Test') RETURNING id",
		uuid.New(), p.Email, given).Scan(context.Background(), &p.ID); err != nil {
		t.Fatal(err)
	}
	return p
}

// emit writes an event to the outbox as a business transaction does.
func emit(t *testing.T, db bun.IDB, tenantID uuid.UUID, topic string, to uuid.UUID, payload map[string]any) {
	t.Helper()
	err := tenants.WithTenantTx(context.Background(), db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		return tenants.Emit(ctx, tx, tenants.Event{TenantID: tenantID, Topic: topic, Recipient: to, Payload: payload})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// startWorker runs an asynq server with the module's handlers on the
// fixture's Redis database until the test ends.
func (f *fixture) startWorker(t *testing.T) {
	t.Helper()
	srv := workers.NewServer(f.redis, 4, quiet)
	mux := asynq.NewServeMux()
	f.mod.Tasks(mux)
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
}

// settle waits until every job has run to its end and maildev lists every
// e-mail handed to it, so what a test counts then is all there will be.
func (f *fixture) settle(t *testing.T) {
	t.Helper()
	testenv.WaitQueuesDrained(t, f.redis, 30*time.Second)
	testenv.SyncMail(t)
}

func (f *fixture) relayAll(t *testing.T) {
	t.Helper()
	for {
		n, err := f.relay.Once(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

type delivery struct {
	Type        string     `bun:"type"`
	Title       string     `bun:"title"`
	Link        string     `bun:"link"`
	Home        bool       `bun:"home"`
	Email       bool       `bun:"email"`
	EmailSentAt *time.Time `bun:"email_sent_at"`
	Digest      bool       `bun:"digest"`
	DigestWeek  *string    `bun:"digest_week"`
}

func deliveriesTo(t *testing.T, db bun.IDB, tenantID, person uuid.UUID) []delivery {
	t.Helper()
	var out []delivery
	err := tenants.WithTenantTx(context.Background(), db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewSelect().Table("deliveries").Column("type", "title", "link", "home", "email", "email_sent_at", "digest", "digest_week").
			Where("tenant_id = ? AND recipient_id = ?", tenantID, person).OrderExpr("event_id").Scan(ctx, &out)
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// An approval produces exactly one e-mail, with a link to the goal and one to
// the settings, however often the event is relayed or its task runs.
func TestApprovalSendsExactlyOneEmail(t *testing.T) {
	f := newFixture(t)
	lis := newPerson(t, f.env.App, "Åse")
	f.startWorker(t)
	emit(t, f.env.App, f.tenant.ID, "goal.approved", lis.ID, map[string]any{"goal_code": "KLS-001", "decided_by_name": "Per Leder"})
	f.relayAll(t)
	mails := testenv.WaitForMails(t, lis.Email, 1, 15*time.Second)
	m := mails[0]
	if m.Subject != "Læringsmål KLS-001 er godkjent" {
		t.Fatalf("subject %q", m.Subject)
	}
	for _, want := range []string{"Hei Åse Test", base + "/t/" + f.tenant.Slug + "/laeringsmaal/KLS-001", base + notifications.SettingsPath, f.tenant.Name} {
		if !strings.Contains(m.Text, want) || !strings.Contains(m.HTML, want) {
			t.Errorf("mail lacks %q:\n%s\n%s", want, m.Text, m.HTML)
		}
	}
	// The same event again: relayed again, its task run again by hand.
	var eventID int64
	_ = tenants.WithTenantTx(context.Background(), f.env.App, tenants.Scope{TenantID: f.tenant.ID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw("SELECT id FROM outbox WHERE tenant_id = ? AND recipient_id = ?", f.tenant.ID, lis.ID).Scan(ctx, &eventID)
	})
	f.relayAll(t)
	b, _ := json.Marshal(workers.EventPayload{TenantPayload: workers.TenantPayload{TenantID: f.tenant.ID}, EventID: eventID, Topic: "goal.approved", Recipient: lis.ID})
	if err := f.mod.Deliver(context.Background(), asynq.NewTask(workers.TypeEvent, b)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.queue.Enqueue(asynq.NewTask(workers.TypeEvent, b), asynq.Queue(workers.QueueMail), asynq.TaskID(workers.EventTaskID(eventID))); err == nil {
		t.Fatal("asynq took a second task with the event's id")
	}
	f.settle(t)
	if got := testenv.MailsTo(t, lis.Email); len(got) != 1 {
		t.Fatalf("%d e-mails for one approval", len(got))
	}
	d := deliveriesTo(t, f.env.App, f.tenant.ID, lis.ID)
	if len(d) != 1 || !d[0].Home || d[0].EmailSentAt == nil || d[0].Link != "/t/"+f.tenant.Slug+"/laeringsmaal/KLS-001" {
		t.Fatalf("deliveries %+v", d)
	}
}

// A type turned off by e-mail sends nothing; the notice still comes when the
// home channel stays on, and the person's settings are read, not someone else's.
func TestTypeTurnedOffSendsNoEmail(t *testing.T) {
	f := newFixture(t)
	lis := newPerson(t, f.env.App, "Bjørn")
	other := newPerson(t, f.env.App, "Cecilie")
	s := notifications.NewStore(f.env.App)
	if err := s.SaveSettings(context.Background(), lis.ID, map[string]notifications.Channels{"goal.approved": {Home: true}}); err != nil {
		t.Fatal(err)
	}
	f.startWorker(t)
	emit(t, f.env.App, f.tenant.ID, "goal.approved", lis.ID, map[string]any{"goal_code": "KLS-002"})
	emit(t, f.env.App, f.tenant.ID, "goal.approved", other.ID, map[string]any{"goal_code": "KLS-002"})
	f.relayAll(t)
	testenv.WaitForMails(t, other.Email, 1, 15*time.Second) // the other one still gets theirs
	testenv.WaitFor(t, 10*time.Second, "the notice", func() bool { return len(deliveriesTo(t, f.env.App, f.tenant.ID, lis.ID)) == 1 })
	f.settle(t)
	if got := testenv.MailsTo(t, lis.Email); len(got) != 0 {
		t.Fatalf("%d e-mails for a type turned off", len(got))
	}
	d := deliveriesTo(t, f.env.App, f.tenant.ID, lis.ID)[0]
	if d.Email || !d.Home || d.EmailSentAt != nil {
		t.Fatalf("delivery %+v", d)
	}
	n, err := s.Unread(context.Background(), f.tenant.ID, lis.ID)
	if err != nil || n != 1 {
		t.Fatalf("unread %d %v", n, err)
	}
}

// Security-relevant types cannot be turned off; unknown types are refused;
// choosing the defaults again removes the choice.
func TestSettings(t *testing.T) {
	f := newFixture(t)
	p := newPerson(t, f.env.App, "Dag")
	s := notifications.NewStore(f.env.App)
	ctx := context.Background()
	if err := s.SaveSettings(ctx, p.ID, map[string]notifications.Channels{"invitation.sent": {}, "activity.signed": {Email: true}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveSettings(ctx, p.ID, map[string]notifications.Channels{"no.such": {}}); err == nil {
		t.Fatal("an unknown type was accepted")
	}
	got, err := s.Settings(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, st := range got {
		switch st.Topic {
		case "invitation.sent":
			seen++
			if !st.Email || !st.Locked {
				t.Errorf("invitations: %+v", st.Channels)
			}
		case "activity.signed":
			seen++
			if st.Channels != (notifications.Channels{Email: true}) || !st.Chosen {
				t.Errorf("activity.signed: %+v", st)
			}
		}
	}
	if seen != 2 || len(got) != len(notifications.Types) {
		t.Fatalf("settings: %d types, saw %d", len(got), seen)
	}
	def := notifications.TypeOf("activity.signed").Default
	if err := s.SaveSettings(ctx, p.ID, map[string]notifications.Channels{"activity.signed": def}); err != nil {
		t.Fatal(err)
	}
	var rows int
	_ = tenants.WithTenantTx(ctx, f.env.App, tenants.Scope{PersonID: p.ID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw("SELECT count(*) FROM notification_settings").Scan(ctx, &rows)
	})
	if rows != 0 {
		t.Fatalf("%d setting rows after choosing the defaults", rows)
	}
}

// Every topic the learning core emits, and the ones to come, has a type; the
// notice of each reads as Norwegian and links inside the tenant.
func TestEveryEmittedTopicHasAType(t *testing.T) {
	for _, topic := range []string{"plan.assigned", "activity.signature_requested", "activity.signed", "activity.rejected",
		"goal.sent", "goal.input_requested", "goal.approved", "goal.rejected", "goal.returned", "goal.recalled", "goal.reassess",
		"advisory.planned", "advisory.preparation_due", "agreement.to_sign", "registration.reviewed"} {
		typ := notifications.TypeOf(topic)
		if typ == nil || typ.Notice == nil {
			t.Errorf("%s: no type", topic)
			continue
		}
		title, path := typ.Notice(notifications.Payload{"goal_code": "KLS-001", "lis_name": "Kari", "title": "Appendektomi", "path": "//evil.example"})
		if title == "" || !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "//") {
			t.Errorf("%s: %q %q", topic, title, path)
		}
	}
	if typ := notifications.TypeOf("invitation.sent"); typ == nil || !typ.Locked {
		t.Error("invitations must be a locked type")
	}
}

// The weekly run with a fixed clock sends one summary per person who has
// something, grouped by type, and none to a person with nothing; running it
// twice (two schedulers, a retry) sends nothing more.
func TestWeeklySummaryOnePerPerson(t *testing.T) {
	f := newFixture(t)
	second := newTenant(t, f.env.App, "Varsel kommune")
	lis := newPerson(t, f.env.App, "Eirik")
	sup := newPerson(t, f.env.App, "Frida")
	idle := newPerson(t, f.env.App, "Geir")
	f.startWorker(t)
	emit(t, f.env.App, f.tenant.ID, "activity.signed", lis.ID, map[string]any{"title": "Appendektomi", "supervisor_name": "Frida"})
	emit(t, f.env.App, f.tenant.ID, "activity.signed", lis.ID, map[string]any{"title": "Gipsing", "supervisor_name": "Frida"})
	emit(t, f.env.App, second.ID, "goal.recalled", lis.ID, map[string]any{"goal_code": "KLS-009", "lis_name": "Kari"})
	emit(t, f.env.App, f.tenant.ID, "activity.signature_requested", sup.ID, map[string]any{"title": "Appendektomi", "lis_name": "Eirik"})
	emit(t, f.env.App, f.tenant.ID, "goal.approved", idle.ID, map[string]any{"goal_code": "KLS-003"}) // e-mail, not in the summary
	f.relayAll(t)
	testenv.WaitFor(t, 15*time.Second, "deliveries", func() bool {
		return len(deliveriesTo(t, f.env.App, f.tenant.ID, lis.ID)) == 2 && len(deliveriesTo(t, f.env.App, second.ID, lis.ID)) == 1 &&
			len(deliveriesTo(t, f.env.App, f.tenant.ID, sup.ID)) == 1 && len(deliveriesTo(t, f.env.App, f.tenant.ID, idle.ID)) == 1
	})
	// The first Wednesday 07:00 in Oslo after every event above, as the scheduler would run.
	now := time.Now().In(workers.Oslo)
	wed := time.Date(now.Year(), now.Month(), now.Day(), 7, 0, 0, 0, workers.Oslo)
	for wed.Weekday() != time.Wednesday || !wed.After(now) {
		wed = wed.AddDate(0, 0, 1)
	}
	f.mod.SetClock(func() time.Time { return wed })
	for i := 0; i < 2; i++ {
		n, err := f.mod.RunDigest(context.Background())
		if err != nil || n < 2 {
			t.Fatalf("run %d queued %d summaries: %v", i, n, err)
		}
	}
	got := testenv.WaitForMails(t, lis.Email, 1, 15*time.Second)
	testenv.WaitForMails(t, sup.Email, 1, 15*time.Second)
	f.settle(t)
	if got = testenv.MailsTo(t, lis.Email); len(got) != 1 || len(testenv.MailsTo(t, sup.Email)) != 1 {
		t.Fatalf("summaries: LIS %d, supervisor %d", len(got), len(testenv.MailsTo(t, sup.Email)))
	}
	if n := len(testenv.MailsTo(t, idle.Email)); n != 1 { // only the immediate e-mail
		t.Fatalf("the person with nothing to summarise got %d e-mails", n)
	}
	m := got[0]
	if _, week := wed.ISOWeek(); !strings.HasSuffix(m.Subject, "uke "+strconv.Itoa(week)) {
		t.Errorf("subject %q", m.Subject)
	}
	for _, want := range []string{"Aktivitet signert", "Frida har signert «Appendektomi»", "Frida har signert «Gipsing»", "Læringsmål trukket tilbake", "Varsel kommune", base + notifications.SettingsPath} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("summary lacks %q:\n%s", want, m.Text)
		}
	}
	if strings.Index(m.Text, "Aktivitet signert") > strings.Index(m.Text, "Læringsmål trukket tilbake") {
		t.Error("groups are not in the types' order")
	}
	// Next week: nothing new, nothing sent.
	f.mod.SetClock(func() time.Time { return wed.AddDate(0, 0, 7) })
	if n, err := f.mod.RunDigest(context.Background()); err != nil || n != 0 {
		t.Fatalf("next week queued %d: %v", n, err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startRedis runs a private redis-server on port (the shared one is never stopped).
func startRedis(t *testing.T, port int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Skipf("redis-server: %v", err)
	}
	testenv.WaitFor(t, 10*time.Second, "redis-server", func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return cmd
}

// warnings is a log handler that signals each warning: the relay logs one for
// every attempt that could not reach Redis.
type warnings chan struct{}

func (w warnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w warnings) Handle(context.Context, slog.Record) error {
	select {
	case w <- struct{}{}:
	default:
	}
	return nil
}
func (w warnings) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w warnings) WithGroup(string) slog.Handler      { return w }

// With Redis down the events wait in PostgreSQL; when it is back they go,
// once.
func TestRedisDownEventsWait(t *testing.T) {
	f := newFixture(t)
	lis := newPerson(t, f.env.App, "Hilde")
	port := freePort(t)
	redis := startRedis(t, port)
	opt := asynq.RedisClientOpt{Addr: "127.0.0.1:" + strconv.Itoa(port)}
	q := asynq.NewClient(opt)
	defer q.Close()
	relay := &workers.Relay{DB: f.env.App, Queue: q, Log: quiet}
	_ = redis.Process.Kill()
	_ = redis.Wait()
	emit(t, f.env.App, f.tenant.ID, "goal.approved", lis.ID, map[string]any{"goal_code": "KLS-004"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if n, err := relay.Once(ctx); err == nil || n != 0 {
		t.Fatalf("relay with Redis down: %d relayed, err %v", n, err)
	}
	pending := func() int {
		var n int
		_ = tenants.WithTenantTx(ctx, f.env.App, tenants.Scope{TenantID: f.tenant.ID}, func(ctx context.Context, tx bun.Tx) error {
			return tx.NewRaw("SELECT count(*) FROM outbox WHERE tenant_id = ? AND delivered_at IS NULL", f.tenant.ID).Scan(ctx, &n)
		})
		return n
	}
	if pending() != 1 {
		t.Fatal("the event did not wait in the outbox")
	}
	// The relay as the worker runs it: it keeps trying, and relays once Redis is back.
	relay.Interval = 100 * time.Millisecond
	failed := make(chan struct{}, 64)
	relay.Log = slog.New(warnings(failed))
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { relay.Run(runCtx); close(stopped) }()
	for i := 0; i < 2; i++ { // two of its attempts ended while Redis was away
		select {
		case <-failed:
		case <-ctx.Done():
			t.Fatal("the relay did not try again while Redis was down")
		}
	}
	if pending() != 1 {
		t.Fatal("the event left the outbox while Redis was down")
	}
	back := startRedis(t, port)
	defer func() { _ = back.Process.Kill(); _ = back.Wait() }()
	testenv.WaitFor(t, 15*time.Second, "the relay to send the waiting event", func() bool { return pending() == 0 })
	stop()
	<-stopped
	if n, err := relay.Once(ctx); err != nil || n != 0 {
		t.Fatalf("relay after the event went: %d, %v", n, err)
	}
	in := asynq.NewInspector(opt)
	defer in.Close()
	tasks, err := in.ListPendingTasks(workers.QueueMail)
	if err != nil || len(tasks) != 1 || tasks[0].Type != workers.TypeEvent {
		t.Fatalf("queued: %d tasks, %v", len(tasks), err)
	}
}

// Another tenant's notices and deliveries are invisible and unchangeable, and
// one person's settings and summaries are another's neither.
func TestIsolationNotifications(t *testing.T) {
	f := newFixture(t)
	other := newTenant(t, f.env.App, "Annet HF")
	lis := newPerson(t, f.env.App, "Ingrid")
	nosy := newPerson(t, f.env.App, "Jon")
	ctx := context.Background()
	s := notifications.NewStore(f.env.App)
	if err := s.SaveSettings(ctx, lis.ID, map[string]notifications.Channels{"goal.approved": {Home: true}}); err != nil {
		t.Fatal(err)
	}
	f.startWorker(t)
	emit(t, f.env.App, f.tenant.ID, "goal.approved", lis.ID, map[string]any{"goal_code": "KLS-005"})
	f.relayAll(t)
	testenv.WaitFor(t, 15*time.Second, "the notice", func() bool { return len(deliveriesTo(t, f.env.App, f.tenant.ID, lis.ID)) == 1 })
	var eventID int64
	_ = tenants.WithTenantTx(ctx, f.env.App, tenants.Scope{TenantID: f.tenant.ID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw("SELECT event_id FROM deliveries WHERE tenant_id = ?", f.tenant.ID).Scan(ctx, &eventID)
	})
	// From the other tenant, even naming the right tenant id in the SQL. (The
	// recipient herself reads her own deliveries in every tenant, for the
	// weekly summary; the pages ask for the URL's tenant only, below.)
	err := tenants.WithTenantTx(ctx, f.env.App, tenants.Scope{TenantID: other.ID, PersonID: nosy.ID}, func(ctx context.Context, tx bun.Tx) error {
		var n int
		if err := tx.NewRaw("SELECT count(*) FROM deliveries WHERE tenant_id = ?", f.tenant.ID).Scan(ctx, &n); err != nil || n != 0 {
			t.Errorf("another tenant sees %d deliveries (%v)", n, err)
		}
		res, err := tx.ExecContext(ctx, "UPDATE deliveries SET read_at = now(), title = 'x' WHERE tenant_id = ?", f.tenant.ID)
		if n, _ := res.RowsAffected(); err != nil || n != 0 {
			t.Errorf("another tenant changed %d deliveries (%v)", n, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = tenants.WithTenantTx(ctx, f.env.App, tenants.Scope{TenantID: other.ID, PersonID: nosy.ID}, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO deliveries (tenant_id, event_id, recipient_id, type, title, link, created_at, home, email, digest) VALUES (?, ?, ?, 'goal.approved', 'x', '/', now(), true, false, false)",
			f.tenant.ID, eventID, nosy.ID)
		return err
	})
	if err == nil {
		t.Error("another tenant inserted a delivery")
	}
	if n, err := s.Unread(ctx, other.ID, lis.ID); err != nil || n != 0 {
		t.Errorf("unread in the other tenant: %d %v", n, err)
	}
	if err := s.MarkRead(ctx, other.ID, lis.ID, eventID); err == nil {
		t.Error("marked a notice read through another tenant")
	}
	// Someone else in the same tenant cannot read or mark it either.
	if ns, err := s.Notices(ctx, f.tenant.ID, nosy.ID, false, 10); err != nil || len(ns) != 0 {
		t.Errorf("another person sees %d notices (%v)", len(ns), err)
	}
	if err := s.MarkRead(ctx, f.tenant.ID, nosy.ID, eventID); err == nil {
		t.Error("another person marked the notice read")
	}
	if ns, _ := s.Notices(ctx, f.tenant.ID, lis.ID, true, 10); len(ns) != 1 || ns[0].Title != "Læringsmål KLS-005 er godkjent" {
		t.Fatalf("the owner's notice changed: %+v", ns)
	}
	// Settings and summaries are the person's own.
	err = tenants.WithTenantTx(ctx, f.env.App, tenants.Scope{TenantID: f.tenant.ID, PersonID: nosy.ID}, func(ctx context.Context, tx bun.Tx) error {
		var n int
		if err := tx.NewRaw("SELECT count(*) FROM notification_settings WHERE person_id = ?", lis.ID).Scan(ctx, &n); err != nil || n != 0 {
			t.Errorf("another person sees %d settings (%v)", n, err)
		}
		res, err := tx.ExecContext(ctx, "UPDATE notification_settings SET email = true WHERE person_id = ?", lis.ID)
		if n, _ := res.RowsAffected(); err != nil || n != 0 {
			t.Errorf("another person changed %d settings (%v)", n, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = tenants.WithTenantTx(ctx, f.env.App, tenants.Scope{PersonID: nosy.ID}, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO digests (person_id, week) VALUES (?, '2026-W50')", lis.ID)
		return err
	})
	if err == nil {
		t.Error("another person wrote a summary record")
	}
	// The relay's policy reads pending events only, and writes nothing.
	err = f.env.App.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		_, _ = tx.ExecContext(ctx, "SELECT set_config('app.outbox_relay', 'on', true)")
		var n int
		if err := tx.NewRaw("SELECT count(*) FROM outbox WHERE tenant_id = ?", f.tenant.ID).Scan(ctx, &n); err != nil || n != 0 {
			t.Errorf("the relay flag reads %d relayed events (%v)", n, err)
		}
		res, err := tx.ExecContext(ctx, "UPDATE outbox SET delivered_at = NULL WHERE tenant_id = ?", f.tenant.ID)
		if err == nil {
			if n, _ := res.RowsAffected(); n != 0 {
				t.Errorf("the relay flag changed %d events", n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The module's schedule is the weekly summary on Wednesdays at 07:00 in Oslo,
// also across the change to and from summer time.
func TestDigestScheduledWednesdayMorningInOslo(t *testing.T) {
	f := newFixture(t)
	s := f.mod.Schedules()
	if len(s) != 1 || s[0].Task.Type() != notifications.TypeDigestRun {
		t.Fatalf("schedules: %+v", s)
	}
	sched, err := workers.NewScheduler(f.redis, quiet, s)
	if err != nil {
		t.Fatal(err)
	}
	if err := sched.Start(); err != nil {
		t.Fatal(err)
	}
	defer sched.Shutdown()
	in := asynq.NewInspector(f.redis)
	defer in.Close()
	var entries []*asynq.SchedulerEntry
	testenv.WaitFor(t, 15*time.Second, "the scheduler's entry", func() bool {
		entries, _ = in.SchedulerEntries()
		return len(entries) > 0
	})
	next := entries[0].Next.In(workers.Oslo)
	if entries[0].Task.Type() != notifications.TypeDigestRun || next.Weekday() != time.Wednesday || next.Hour() != 7 || next.Minute() != 0 {
		t.Fatalf("next summary run %s (%s)", next, entries[0].Task.Type())
	}
	if w := notifications.Week(time.Date(2027, 1, 1, 12, 0, 0, 0, workers.Oslo)); w != "2026-W53" {
		t.Fatalf("1 January 2027 is in ISO week %s, want 2026-W53", w)
	}
}
