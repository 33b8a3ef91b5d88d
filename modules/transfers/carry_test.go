package transfers

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/uptrace/bun"

	"kportal/tenants"
	"kportal/workers"
)

// The approvals carry in one statement: each as written at the old
// workplace (who, when, basis), none over a goal already approved or under
// way at the new one, and the report says which and why, in goal order. The
// sync runs as the worker runs it (the job handler, in the job's own
// transaction), and a second run changes nothing.
func TestTransferCarriesOnlyWhatIsNotThereAlready(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	var asg, oldAsg uuid.UUID
	decided := time.Date(2025, 3, 4, 10, 11, 12, 123456000, time.UTC)
	err := tenants.WithTenantTx(ctx, w.db, tenants.Scope{TenantID: w.bergen.ID}, func(ctx context.Context, tx bun.Tx) error {
		if err := tx.NewRaw("SELECT id FROM plan_assignments WHERE tenant_id = ? AND lis_id = ?", w.bergen.ID, w.kari).Scan(ctx, &asg); err != nil {
			return err
		}
		// Two more approvals at Bergen, one with a completion date and a basis.
		_, err := tx.ExecContext(ctx, `INSERT INTO goal_progress (tenant_id, lis_id, assignment_id, goal_code, version_id, status, completed_on, comment,
				decided_by, decided_at, decision_note, basis)
			SELECT ?, ?, ?, code, (SELECT version_id FROM plan_assignments WHERE tenant_id = ? AND id = ?), 'approved', date '2025-03-01', 'Gjort',
				?, ?, 'Godkjent', '{"activities": ["a1"]}'
			FROM unnest(ARRAY['KLS-A2', 'KLS-A3']) code`, w.bergen.ID, w.kari, asg, w.bergen.ID, asg, w.per, decided)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// At OUS, from an earlier stint: KLS-A2 approved already, KLS-A3 sent.
	err = tenants.WithTenantTx(ctx, w.db, tenants.Scope{TenantID: w.ous.ID}, func(ctx context.Context, tx bun.Tx) error {
		if err := tx.NewRaw(`INSERT INTO plan_assignments (tenant_id, lis_id, template_id, version_id, archived_at)
			VALUES (?, ?, ?, (SELECT max(id) FROM catalog_versions), now() - interval '2 years') RETURNING id`, w.ous.ID, w.kari, w.templates[w.ous.ID]).Scan(ctx, &oldAsg); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO goal_progress (tenant_id, lis_id, assignment_id, goal_code, version_id, status, decided_by, decided_at, sent_to, sent_at)
			VALUES (?0, ?1, ?2, 'KLS-A2', 1, 'approved', ?3, now() - interval '2 years', NULL, NULL),
			       (?0, ?1, ?2, 'KLS-A3', 1, 'sent', NULL, NULL, ?4, now() - interval '2 years')`, w.ous.ID, w.kari, oldAsg, w.ola, w.leders[w.ous.ID])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	tr, err := w.s.Register(ctx, w.ous.ID, tenants.Actor{PersonID: w.leders[w.ous.ID], Name: "Leder"}, Arrival{Who: w.email, StartsOn: w.s.today().Format("2006-01-02"),
		TemplateID: w.templates[w.ous.ID].String(), From: w.bergen.ID.String()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := asynq.NewServeMux()
	New(w.db, nil, nil, nil).Tasks(mux)
	payload, _ := json.Marshal(SyncPayload{TenantPayload: workers.TenantPayload{TenantID: w.ous.ID}, TransferID: tr.ID})
	for range 2 {
		if err := mux.ProcessTask(ctx, asynq.NewTask(TypeSync, payload)); err != nil {
			t.Fatal(err)
		}
	}
	done, err := w.s.Get(ctx, w.ous.ID, tr.ID)
	if err != nil || done.Status != StatusDone {
		t.Fatalf("move: %+v %v", done, err)
	}
	if got := done.Report.Carried; len(got) != 1 || got[0] != w.rec.Goal {
		t.Fatalf("carried: %v", got)
	}
	want := []NotCarried{{"KLS-A2", "målet er allerede godkjent her"}, {"KLS-A3", "målet er under arbeid her (sent)"}}
	if got := done.Report.NotCarried; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("not carried: %v", got)
	}

	type progress struct {
		Code         string     `bun:"goal_code"`
		Status       string     `bun:"status"`
		Assignment   uuid.UUID  `bun:"assignment_id"`
		CompletedOn  *time.Time `bun:"completed_on"`
		DecidedBy    *uuid.UUID `bun:"decided_by"`
		DecidedAt    *time.Time `bun:"decided_at"`
		Note         string     `bun:"decision_note"`
		Basis        string     `bun:"basis"`
		OriginTenant *uuid.UUID `bun:"origin_tenant_id"`
	}
	var rows []progress
	err = tenants.WithTenantTx(ctx, w.db, tenants.Scope{TenantID: w.ous.ID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw(`SELECT goal_code, status, assignment_id, completed_on, decided_by, decided_at, decision_note, coalesce(basis::text, '') AS basis, origin_tenant_id
			FROM goal_progress WHERE tenant_id = ? AND lis_id = ? ORDER BY goal_code`, w.ous.ID, w.kari).Scan(ctx, &rows)
	})
	if err != nil || len(rows) != 3 {
		t.Fatalf("goal progress at OUS: %+v %v", rows, err)
	}
	// What was there stays as it was: on the old plan, not taken over.
	for _, r := range rows[:2] {
		if r.Assignment != oldAsg || r.OriginTenant != nil {
			t.Fatalf("%s at OUS was changed by the move: %+v", r.Code, r)
		}
	}
	if rows[1].Status != "sent" {
		t.Fatalf("the goal under way at OUS is %s", rows[1].Status)
	}
	// historytest's goal carried, who approved and where kept.
	if c := rows[2]; c.Code != w.rec.Goal || c.Status != "approved" || c.DecidedBy == nil || *c.DecidedBy != w.per || c.OriginTenant == nil || *c.OriginTenant != w.bergen.ID {
		t.Fatalf("carried row: %+v", c)
	}

	// Every field as written: KLS-A2 and KLS-A3 into Bergen kommune, where
	// nothing is under way.
	tr2, err := w.s.Register(ctx, w.kom.ID, tenants.Actor{PersonID: w.leders[w.kom.ID], Name: "Leder"}, Arrival{Who: w.email, StartsOn: w.s.today().Format("2006-01-02"),
		TemplateID: w.templates[w.kom.ID].String(), From: w.bergen.ID.String()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.s.Sync(ctx, w.kom.ID, tr2.ID); err != nil {
		t.Fatal(err)
	}
	err = tenants.WithTenantTx(ctx, w.db, tenants.Scope{TenantID: w.kom.ID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw(`SELECT goal_code, status, assignment_id, completed_on, decided_by, decided_at, decision_note, coalesce(basis::text, '') AS basis, origin_tenant_id
			FROM goal_progress WHERE tenant_id = ? AND lis_id = ? AND goal_code = 'KLS-A3'`, w.kom.ID, w.kari).Scan(ctx, &rows)
	})
	if err != nil || len(rows) != 1 {
		t.Fatalf("KLS-A3 at the kommune: %+v %v", rows, err)
	}
	c := rows[0]
	if c.Status != "approved" || c.CompletedOn == nil || c.CompletedOn.Format("2006-01-02") != "2025-03-01" || c.DecidedBy == nil || *c.DecidedBy != w.per ||
		c.DecidedAt == nil || !c.DecidedAt.Equal(decided) || c.Note != "Godkjent" || c.Basis != `{"activities": ["a1"]}` ||
		c.OriginTenant == nil || *c.OriginTenant != w.bergen.ID {
		t.Fatalf("KLS-A3 carried to the kommune: %+v", c)
	}
}
