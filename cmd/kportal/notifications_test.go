package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/uptrace/bun"

	"kportal/modules/notifications"
	"kportal/storage/testenv"
	"kportal/tenants"
)

// emitTo writes an event to the outbox as the learning core does.
func emitTo(t *testing.T, tenantID uuid.UUID, topic string, to uuid.UUID, payload map[string]any) {
	t.Helper()
	err := tenants.WithTenantTx(context.Background(), testenv.Get(t).App, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		return tenants.Emit(ctx, tx, tenants.Event{TenantID: tenantID, Topic: topic, Recipient: to, Payload: payload})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// countIn counts rows of a query run with a tenant in force.
func countIn(t *testing.T, tenantID uuid.UUID, query string, args ...any) int {
	t.Helper()
	var n int
	err := tenants.WithTenantTx(context.Background(), testenv.Get(t).App, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw(query, args...).Scan(ctx, &n)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// jobQueues is the Redis database of cfg's job queues.
func jobQueues(cfg *config) asynq.RedisClientOpt {
	return asynq.RedisClientOpt{Addr: cfg.RedisAddr, DB: cfg.RedisDB}
}

// settle waits until the tenant's events are relayed, every job has run to
// its end and maildev lists every e-mail handed to it: what a test counts
// then is all there will be.
func settle(t *testing.T, cfg *config, tenantID uuid.UUID) {
	t.Helper()
	testenv.WaitFor(t, 30*time.Second, "the outbox to be relayed", func() bool {
		return countIn(t, tenantID, "SELECT count(*) FROM outbox WHERE tenant_id = ? AND delivered_at IS NULL", tenantID) == 0
	})
	testenv.WaitQueuesDrained(t, jobQueues(cfg), 30*time.Second)
	testenv.SyncMail(t)
}

// mailCounts reads maildev once and counts the e-mails to each of addresses.
func mailCounts(t *testing.T, addresses map[string]bool) map[string]int {
	t.Helper()
	resp, err := http.Get(testenv.MaildevURL + "/email")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var all []testenv.Mail
	if err := json.NewDecoder(resp.Body).Decode(&all); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, m := range all {
		for _, to := range m.To {
			if a := strings.ToLower(to.Address); addresses[a] {
				out[a]++
			}
		}
	}
	return out
}

// TestChildWorker is the worker process TestWorkerKilledMidBatch starts and
// kills; run alone it does nothing.
func TestChildWorker(t *testing.T) {
	if os.Getenv("KPORTAL_CHILD_WORKER") != "1" {
		t.Skip("started by TestWorkerKilledMidBatch")
	}
	os.Exit(run([]string{"worker"}, os.Stdout, os.Stderr))
}

// Killing the worker process (SIGKILL) in the middle of a batch of approvals
// and starting it again sends no e-mail twice and loses none but those the
// killed worker was handing over at that moment (see the end). asynq hands the
// tasks the dead worker held to the new one when their lease runs out (about
// a minute), so this test takes that long.
func TestWorkerKilledMidBatch(t *testing.T) {
	cfg := testConfig(t)
	db := testenv.Get(t).App
	tn := testTenant(t, "Drept arbeider HF", tenants.KindHF)
	const n = 300
	addresses := map[string]bool{}
	for i := 0; i < n; i++ {
		email := testenv.UniqueEmail(fmt.Sprintf("drept%d", i))
		var id uuid.UUID
		if err := db.NewRaw("INSERT INTO people (identity_id, email, given_name) VALUES (?, ?, 'LIS') RETURNING id", uuid.New(), email).Scan(context.Background(), &id); err != nil {
			t.Fatal(err)
		}
		addresses[email] = true
		emitTo(t, tn.ID, "goal.approved", id, map[string]any{"goal_code": fmt.Sprintf("KLS-%03d", i%45+1)})
	}
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestChildWorker$", "-test.count=1")
		cmd.Env = append(os.Environ(), "KPORTAL_CHILD_WORKER=1",
			"KPORTAL_DATABASE_URL="+cfg.DatabaseURL, "KPORTAL_MIGRATE_DATABASE_URL="+cfg.MigrateURL,
			fmt.Sprintf("KPORTAL_REDIS_DB=%d", cfg.RedisDB), "KPORTAL_S3_BUCKET="+cfg.S3Bucket,
			"KPORTAL_LOG_LEVEL=error", "KPORTAL_WORKER_CONCURRENCY=4")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	total := func() int {
		s := 0
		for _, c := range mailCounts(t, addresses) {
			s += c
		}
		return s
	}
	worker := start()
	deadline := time.Now().Add(60 * time.Second)
	for total() < 20 {
		if time.Now().After(deadline) {
			_ = worker.Process.Kill()
			t.Fatalf("the worker sent %d e-mails in a minute", total())
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = worker.Process.Signal(syscall.SIGKILL)
	_ = worker.Wait()
	testenv.SyncMail(t) // what the killed worker handed over is listed now
	atKill := total()
	if atKill >= n {
		t.Fatalf("the batch was done (%d e-mails) before the kill: make it larger", atKill)
	}
	t.Logf("killed after %d of %d e-mails", atKill, n)

	worker = start()
	defer func() { _ = worker.Process.Signal(syscall.SIGTERM); _ = worker.Wait() }()
	// Done when every delivery is recorded as sent and every event relayed.
	deadline = time.Now().Add(4 * time.Minute)
	for countIn(t, tn.ID, "SELECT count(*) FROM deliveries WHERE tenant_id = ? AND email_sent_at IS NOT NULL", tn.ID) < n ||
		countIn(t, tn.ID, "SELECT count(*) FROM outbox WHERE tenant_id = ? AND delivered_at IS NULL", tn.ID) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after the restart %d of %d people have their e-mail", len(mailCounts(t, addresses)), n)
		}
		time.Sleep(time.Second)
	}
	// The tasks the killed worker held run again once their lease runs out, and
	// must find their e-mail sent: wait for them and for what they might send.
	testenv.WaitQueuesDrained(t, jobQueues(cfg), 3*time.Minute)
	testenv.SyncMail(t)
	counts := mailCounts(t, addresses)
	for a, c := range counts {
		if c != 1 {
			t.Errorf("%s got %d e-mails", a, c)
		}
	}
	// A delivery is recorded as sent just before the line that ends its
	// message; a worker killed after that has handed the message over, but
	// maildev drops a message whose client is gone before it answers. So only
	// the messages in flight at the kill (at most one per worker slot) may be
	// missing; every other one must have arrived exactly once.
	if lost := n - len(counts); lost > 4 {
		t.Errorf("%d people have no e-mail; at most the 4 in flight at the kill may be missing", lost)
	} else if lost > 0 {
		t.Logf("%d message(s) in flight at the kill were dropped by maildev after their record", lost)
	}
}

// In the browser: the notices on the home page with their unread count, mark
// one read; the settings page reached from the account page turns a type's
// e-mail off, and the next such event sends none.
func TestBrowserNotificationSettings(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, true)
	tn := testTenant(t, "Varsel sykehus HF", tenants.KindHF)
	email, password, person := member(t, cfg, "Liv", tn, "lis")
	emitTo(t, tn.ID, "goal.approved", person, map[string]any{"goal_code": "KLS-010"})
	emitTo(t, tn.ID, "activity.signed", person, map[string]any{"title": "Appendektomi", "supervisor_name": "Ola Hansen"})
	deliveries := func() int {
		return countIn(t, tn.ID, "SELECT count(*) FROM deliveries WHERE tenant_id = ? AND recipient_id = ?", tn.ID, person)
	}
	testenv.WaitFor(t, 20*time.Second, "two notices", func() bool { return deliveries() == 2 })
	testenv.WaitForMails(t, email, 1, 15*time.Second)

	ctx := chromium(t)
	text := func(sel string) string {
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			return ""
		}
		return strings.TrimSpace(s)
	}
	fail := func(name string, format string, args ...any) {
		t.Helper()
		screenshot(t, ctx, name)
		t.Fatalf(format, args...)
	}
	if err := browserLogin(ctx, srv.URL, email, password); err != nil {
		fail("notices-login", "login: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/t/"+tn.Slug+"/"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="notices"] [data-testid="notice"]`))); err != nil {
		fail("notices-home", "home: %v", err)
	}
	if got := text(`[data-testid="notices"] [data-testid="unread-count"]`); got != "2" {
		fail("notices-count", "unread count %q, want 2", got)
	}
	screenshot(t, ctx, "notices-home")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`[data-testid="notices"] [data-testid="mark-read"]`))); err != nil {
		fail("notices-read", "mark read: %v", err)
	}
	testenv.WaitFor(t, 10*time.Second, "the count to fall to 1", func() bool { return text(`[data-testid="notices"] [data-testid="unread-count"]`) == "1" })

	box := `[id="goal.approved.email"]`
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/innstillinger"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="notification-settings-link"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="notification-settings-link"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="notification-settings"]`)),
	); err != nil {
		fail("settings-open", "opening the settings: %v", err)
	}
	checked, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('[id="goal.approved.email"]').checked`))
	lockedBox, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!document.querySelector('[data-testid="type-invitation.sent"] input[type=checkbox]')`))
	if !checked || lockedBox {
		fail("settings-defaults", "e-mail for approvals ticked %v (want true); invitations have a box: %v", checked, lockedBox)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(box)),
		chromedp.Click(chromedp.CSS(`[data-testid="save-settings"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="saved"]`)),
	); err != nil {
		fail("settings-save", "saving: %v", err)
	}
	checked, _ = chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('[id="goal.approved.email"]').checked`))
	if checked {
		fail("settings-saved", "e-mail for approvals still ticked after saving")
	}
	screenshot(t, ctx, "notification-settings")
	s, err := notifications.NewStore(testenv.Get(t).App).Settings(context.Background(), person)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range s {
		if st.Topic == "goal.approved" && (st.Email || !st.Home) {
			t.Fatalf("saved %+v", st.Channels)
		}
	}
	emitTo(t, tn.ID, "goal.approved", person, map[string]any{"goal_code": "KLS-011"})
	testenv.WaitFor(t, 20*time.Second, "the third notice", func() bool { return deliveries() == 3 })
	settle(t, cfg, tn.ID)
	if got := testenv.MailsTo(t, email); len(got) != 1 {
		t.Fatalf("%d e-mails; the second approval was sent although turned off", len(got))
	}
}

// Through kportal's own pages: a leder's approval mails the LIS exactly once,
// with a link to the goal; after the LIS turns that e-mail off on the
// settings page, the next approval mails nothing but shows on her home page.
func TestGoalApprovalMailsOnce(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, true)
	w := goalSetup(t, cfg, false)
	base := "/t/" + w.tn.Slug
	lis := goalLogin(t, srv.URL, w.lis)
	leder := goalLogin(t, srv.URL, w.leder)
	approve := func(code string) {
		t.Helper()
		_, _, page := lis.get(base + "/laeringsmaal/" + code)
		form := url.Values{"_csrf": {csrfFrom(t, page)}, "completed_on": {time.Now().Format("2006-01-02")}, "comment": {"Gjort"}, "approver": {w.leder.id.String()}}
		if status, _, page := lis.post(base+"/laeringsmaal/"+code+"/send", form); status != 200 {
			t.Fatalf("send %s: %d\n%s", code, status, page)
		}
		_, _, page = leder.get(base + "/godkjenning")
		m := goalCaseRe.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("queue:\n%s", page)
		}
		_, _, page = leder.get(base + "/godkjenning/" + m[1])
		if status, _, page := leder.post(base+"/godkjenning/"+m[1], url.Values{"_csrf": {csrfFrom(t, page)}, "outcome": {"approved"}, "confirm": {"1"}}); status != 200 {
			t.Fatalf("approve %s: %d\n%s", code, status, page)
		}
	}
	approve("KLS-001")
	mails := testenv.WaitForMails(t, w.lis.email, 1, 20*time.Second)
	testenv.WaitForMails(t, w.leder.email, 1, 20*time.Second) // goal.sent: e-mail by default
	settle(t, cfg, w.tn.ID)
	if mails = testenv.MailsTo(t, w.lis.email); len(mails) != 1 {
		t.Fatalf("%d e-mails to the LIS for one approval", len(mails))
	}
	if m := mails[0]; m.Subject != "Læringsmål KLS-001 er godkjent" || !strings.Contains(m.Text, cfg.BaseURL+base+"/laeringsmaal/KLS-001") || !strings.Contains(m.Text, cfg.BaseURL+"/varsler/innstillinger") {
		t.Fatalf("mail %q:\n%s", m.Subject, m.Text)
	}

	_, _, page := lis.get("/varsler/innstillinger")
	form := url.Values{"_csrf": {csrfFrom(t, page)}, "type": {"goal.approved"}, "goal.approved.home": {"on"}}
	if status, where, _ := lis.post("/varsler/innstillinger", form); status != 200 || !strings.Contains(where, "lagret") {
		t.Fatalf("saving settings: %d %s", status, where)
	}
	approve("KLS-002")
	testenv.WaitFor(t, 20*time.Second, "the second notice", func() bool {
		return countIn(t, w.tn.ID, "SELECT count(*) FROM deliveries WHERE tenant_id = ? AND recipient_id = ? AND type = 'goal.approved'", w.tn.ID, w.lis.id) == 2
	})
	settle(t, cfg, w.tn.ID)
	if n := len(testenv.MailsTo(t, w.lis.email)); n != 1 {
		t.Fatalf("%d e-mails to the LIS after turning approvals off", n)
	}
	if _, _, page := lis.get(base + "/varsler"); !strings.Contains(page, "Læringsmål KLS-002 er godkjent") || !strings.Contains(page, "Læringsmål KLS-001 er godkjent") {
		t.Fatalf("notices page:\n%s", page)
	}
}

// Over HTTP a notice of tenant A cannot be read or marked read through tenant
// B, even by its own recipient who belongs to both, nor by a colleague in A;
// the settings page shows and saves only the signed-in person's own choices.
func TestIsolationNoticesHTTP(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, true)
	a := testTenant(t, "Varsel A HF", tenants.KindHF)
	b := testTenant(t, "Varsel B kommune", tenants.KindKommune)
	email, password, person := member(t, cfg, "Mona", a, "lis")
	if err := tenants.AddMembership(context.Background(), testenv.Get(t).App, b.ID, person, "lis"); err != nil {
		t.Fatal(err)
	}
	colleagueEmail, colleaguePassword, _ := member(t, cfg, "Nora", a, "lis")
	emitTo(t, a.ID, "goal.returned", person, map[string]any{"goal_code": "KLS-020"})
	var eventID int64
	testenv.WaitFor(t, 20*time.Second, "the notice", func() bool {
		_ = tenants.WithTenantTx(context.Background(), testenv.Get(t).App, tenants.Scope{TenantID: a.ID}, func(ctx context.Context, tx bun.Tx) error {
			return tx.NewRaw("SELECT coalesce(max(event_id), 0) FROM deliveries WHERE tenant_id = ?", a.ID).Scan(ctx, &eventID)
		})
		return eventID != 0
	})
	mona := newBrowser(t, srv.URL)
	login(t, mona, email, password)
	if _, _, page := mona.get("/t/" + b.Slug + "/varsler"); strings.Contains(page, "KLS-020") {
		t.Fatal("tenant B's notices page shows tenant A's notice")
	}
	_, _, page := mona.get("/t/" + b.Slug + "/varsler")
	if status, _, _ := mona.post(fmt.Sprintf("/t/%s/varsler/%d/lest", b.Slug, eventID), url.Values{"_csrf": {csrfFrom(t, page)}}); status != http.StatusNotFound {
		t.Fatalf("marking A's notice read through B: %d", status)
	}
	nora := newBrowser(t, srv.URL)
	login(t, nora, colleagueEmail, colleaguePassword)
	_, _, page = nora.get("/t/" + a.Slug + "/varsler")
	if strings.Contains(page, "KLS-020") {
		t.Fatal("a colleague sees the notice")
	}
	if status, _, _ := nora.post(fmt.Sprintf("/t/%s/varsler/%d/lest", a.Slug, eventID), url.Values{"_csrf": {csrfFrom(t, page)}}); status != http.StatusNotFound {
		t.Fatalf("a colleague marking it read: %d", status)
	}
	_, _, page = nora.get("/varsler/innstillinger")
	if status, _, _ := nora.post("/varsler/innstillinger", url.Values{"_csrf": {csrfFrom(t, page)}, "type": {"goal.returned"}}); status != 200 {
		t.Fatalf("the colleague saving her own settings: %d", status)
	}
	if _, _, page := mona.get("/t/" + a.Slug + "/varsler/nye"); !strings.Contains(page, "KLS-020") || !strings.Contains(page, `data-testid="unread-count">1<`) {
		t.Fatalf("the recipient's own notice, unread:\n%s", page)
	}
	s, _ := notifications.NewStore(testenv.Get(t).App).Settings(context.Background(), person)
	for _, st := range s {
		if st.Chosen {
			t.Fatalf("the colleague's choice reached the recipient: %+v", st)
		}
	}
}
