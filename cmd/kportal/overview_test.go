package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"kportal/storage/testenv"
	"kportal/tenants"
)

// The LIS's home: progress per plan, what waits, search across own goals and
// activities, the læringsarena filter remembered; the approver's and
// supervisor's queues on theirs.
func TestOverviewHomes(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	w := goalSetup(t, cfg, true)
	ctx := context.Background()
	db := testenv.Get(t).App
	err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: w.tn.ID}, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO goal_progress (tenant_id, lis_id, goal_code, version_id, status, decided_by, decided_at)
			SELECT tenant_id, lis_id, 'KLS-002', version_id, 'approved', ?, now() FROM plan_assignments WHERE tenant_id = ? AND lis_id = ?`, w.leder.id, w.tn.ID, w.lis.id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO goal_progress (tenant_id, lis_id, goal_code, version_id, status, sent_to, sent_at)
			SELECT tenant_id, lis_id, 'KLS-001', version_id, 'sent', ?, now() FROM plan_assignments WHERE tenant_id = ? AND lis_id = ?`, w.leder.id, w.tn.ID, w.lis.id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO activities (tenant_id, lis_id, kind, title, done_on, goal_codes, status, supervisor_id, requested_at)
			VALUES (?, ?, 'course', 'Kurs i akuttmedisin', ?, '{KLS-001}', 'requested', ?, now()),
			       (?, ?, 'elearning', 'E-læring i smittevern', ?, '{}', 'registered', NULL, NULL)`,
			w.tn.ID, w.lis.id, time.Now().Format("2006-01-02"), w.sup.id, w.tn.ID, w.lis.id, time.Now().Format("2006-01-02"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	home := "/t/" + w.tn.Slug + "/"
	lis := goalLogin(t, srv.URL, w.lis)
	_, _, page := lis.get(home)
	for _, want := range []string{"LIS1 sykehus", "<strong>1</strong> av 3 godkjent", "1 venter på godkjenning", `data-testid="signatures-waiting"`, "<strong>1</strong> aktivitet<"} {
		if !strings.Contains(page, want) {
			t.Fatalf("LIS home lacks %q:\n%s", want, page)
		}
	}
	t.Run("search finds own goals and activities", func(t *testing.T) {
		_, _, page := lis.get(home + "?q=akutt")
		if !strings.Contains(page, "Kurs i akuttmedisin") || strings.Contains(page, "E-læring i smittevern") {
			t.Fatalf("activity search:\n%s", page)
		}
		_, _, page = lis.get(home + "?q=epikrise")
		if !strings.Contains(page, "KLS-002") || strings.Contains(page, ">KLS-001<") {
			t.Fatalf("goal search:\n%s", page)
		}
	})
	t.Run("the arena filter is remembered until changed", func(t *testing.T) {
		_, _, page := lis.get(home + "?arena=" + w.arena.String())
		if !strings.Contains(page, "<strong>0</strong> av 1 godkjent") {
			t.Fatalf("filtered to the arena of KLS-001:\n%s", page)
		}
		if _, _, page = lis.get(home); !strings.Contains(page, "<strong>0</strong> av 1 godkjent") {
			t.Fatalf("the filter was forgotten:\n%s", page)
		}
		if _, _, page = lis.get("/t/" + w.tn.Slug + "/laeringsmaal"); strings.Contains(page, "KLS-002") {
			t.Fatalf("the goals page does not share the remembered filter:\n%s", page)
		}
		if _, _, page = lis.get(home + "?arena="); !strings.Contains(page, "av 3 godkjent") {
			t.Fatalf("back to all arenas:\n%s", page)
		}
	})
	t.Run("approvers and supervisors see their queues", func(t *testing.T) {
		_, _, page := goalLogin(t, srv.URL, w.leder).get(home)
		if !strings.Contains(page, `data-testid="to-approve"`) || !strings.Contains(page, "<strong>1</strong> læringsmål venter på godkjenning") || strings.Contains(page, `data-testid="lis-home"`) {
			t.Fatalf("leder's home:\n%s", page)
		}
		_, _, page = goalLogin(t, srv.URL, w.delegate).get(home)
		if !strings.Contains(page, `data-testid="to-approve"`) {
			t.Fatalf("the delegate does not see the goal waiting:\n%s", page)
		}
		_, _, page = goalLogin(t, srv.URL, w.sup).get(home)
		if !strings.Contains(page, "<strong>1</strong> aktivitet venter på signaturen din") {
			t.Fatalf("supervisor's home:\n%s", page)
		}
	})
}
