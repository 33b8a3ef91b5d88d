package progress

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/storage/testenv"
	"kportal/tenants"
)

// reportFixture is a leder with lis LIS, each on a plan of goals goals with
// acts activities (one in ten waiting for a signature), half the goals
// approved and 20 sent with a veileder's and a supervisor's input asked: the
// national data set's plan sizes.
func reportFixture(b testing.TB, lis, goals, acts int) (*Module, uuid.UUID, uuid.UUID) {
	b.Helper()
	db := testenv.Get(b).App
	ctx := context.Background()
	tn := testenv.NewTenant(b, db, &tenants.Tenant{Name: "Benk HF"})
	leder, sup, vei := testenv.NewPerson(b, db, "Leder", "Benk"), testenv.NewPerson(b, db, "Sup", "Benk"), testenv.NewPerson(b, db, "Vei", "Benk")
	var version int
	if err := db.NewRaw("INSERT INTO catalog_versions (label, published_at) VALUES (?, now()) RETURNING id", "bench-"+uuid.NewString()[:8]).Scan(ctx, &version); err != nil {
		b.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO goals (version_id, code, text, plan) SELECT ?, 'BEN-' || lpad(i::text, 3, '0'), 'Læringsmål nummer ' || i, 'BEN'
		FROM generate_series(1, ?) i`, version, goals); err != nil {
		b.Fatal(err)
	}
	ids := make([]uuid.UUID, lis)
	for i := range ids {
		ids[i] = testenv.NewPerson(b, db, fmt.Sprintf("LIS%03d", i), "Benk")
	}
	err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: tn.ID}, func(ctx context.Context, tx bun.Tx) error {
		var tpl uuid.UUID
		if err := tx.NewRaw("INSERT INTO plan_templates (tenant_id, name, specialty, version_id) VALUES (?, 'Benk', 'ORT', ?) RETURNING id", tn.ID, version).Scan(ctx, &tpl); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO plan_template_goals (tenant_id, template_id, goal_code) SELECT ?, ?, code FROM goals WHERE version_id = ?`, tn.ID, tpl, version); err != nil {
			return err
		}
		for _, id := range ids {
			for kind, p := range map[string]uuid.UUID{"leder": leder, "supervisor": sup, "veileder": vei} {
				if err := tenants.SetRelation(ctx, tx, tn.ID, id, kind, p, tenants.Actor{Name: "benk"}); err != nil {
					return err
				}
			}
			var asg uuid.UUID
			if err := tx.NewRaw("INSERT INTO plan_assignments (tenant_id, lis_id, template_id, version_id) VALUES (?, ?, ?, ?) RETURNING id", tn.ID, id, tpl, version).Scan(ctx, &asg); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO activities (tenant_id, lis_id, assignment_id, kind, title, done_on, goal_codes, status, supervisor_id, requested_at)
				SELECT ?0, ?1, ?2, 'course', 'Kurs ' || i, current_date - (i % 700), ARRAY['BEN-' || lpad((i % ?3 + 1)::text, 3, '0'), 'BEN-' || lpad(((i * 7) % ?3 + 1)::text, 3, '0')],
					CASE WHEN i % 10 = 0 THEN 'requested' ELSE 'signed' END, ?4, now()
				FROM generate_series(1, ?5) i`, tn.ID, id, asg, goals, sup, acts); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO goal_progress (tenant_id, lis_id, assignment_id, goal_code, version_id, status, sent_to, sent_at, decided_by, decided_at)
				SELECT ?0, ?1, ?2, 'BEN-' || lpad(i::text, 3, '0'), ?3, CASE WHEN i <= ?4 / 2 THEN 'approved' ELSE 'sent' END,
					?5, now(), CASE WHEN i <= ?4 / 2 THEN ?5::uuid END, CASE WHEN i <= ?4 / 2 THEN now() END
				FROM generate_series(1, ?4 / 2 + 20) i`, tn.ID, id, asg, version, goals, leder); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO goal_inputs (tenant_id, progress_id, person_id, kind, answered_at)
				SELECT gp.tenant_id, gp.id, x.person, x.kind, CASE WHEN x.kind = 'veileder' THEN now() END
				FROM goal_progress gp CROSS JOIN (VALUES (?0::uuid, 'veileder'), (?1::uuid, 'supervisor')) AS x (person, kind)
				WHERE gp.tenant_id = ?2 AND gp.lis_id = ?3`, vei, sup, tn.ID, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	// Statistics as the national data set has them (only the owner may analyze).
	if _, err := testenv.Get(b).Owner.ExecContext(ctx, "ANALYZE activities, goal_progress, goal_inputs, plan_assignments, plan_template_goals, goals, relations"); err != nil {
		b.Fatal(err)
	}
	return New(db, nil), tn.ID, leder
}

// BenchmarkReport: all of a leder's 50 LIS with plans of 300 goals and 1,000
// activities each (docs/performance.md has the figures).
func BenchmarkReport(b *testing.B) {
	m, tenantID, leder := reportFixture(b, 50, 300, 1000)
	ctx := context.Background()
	b.Run("data", func(b *testing.B) {
		for b.Loop() {
			rows, err := m.Report(ctx, tenantID, leder, reportScope{})
			if err != nil || len(rows) != 50 || len(rows[0].Goals) != 300 {
				b.Fatalf("%d LIS, %v", len(rows), err)
			}
		}
	})
	rows, err := m.Report(ctx, tenantID, leder, reportScope{})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("pdf", func(b *testing.B) {
		for b.Loop() {
			if err := writeReportPDF(io.Discard, "Benk HF", "Fremdriftsrapport", time.Now(), rows); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("one", func(b *testing.B) {
		one := rows[7].LisID
		for b.Loop() {
			if rows, err := m.Report(ctx, tenantID, leder, reportScope{LisID: &one}); err != nil || len(rows) != 1 {
				b.Fatal(err)
			}
		}
	})
}

// TestReportFigures checks the fixture's report: statuses, inputs and waiting
// counts come out as written.
func TestReportFigures(t *testing.T) {
	m, tenantID, leder := reportFixture(t, 3, 30, 100)
	rows, err := m.Report(context.Background(), tenantID, leder, reportScope{})
	if err != nil || len(rows) != 3 {
		t.Fatalf("%d LIS, %v", len(rows), err)
	}
	r := rows[0]
	// 15 approved, 20 sent (goals 16–35 of 30: 15 exist), 10 requested activities.
	if len(r.Goals) != 30 || r.Approved != 15 || r.Sent != 15 || r.WaitingSignature != 10 || r.InputsOpen != 15 {
		t.Fatalf("figures: %d goals, %d approved, %d sent, %d waiting, %d inputs open", len(r.Goals), r.Approved, r.Sent, r.WaitingSignature, r.InputsOpen)
	}
	g := r.Goals[0]
	if g.Code != "BEN-001" || g.Status != "approved" || g.VeilederAsked != 1 || g.VeilederGiven != 1 || g.SupAsked != 1 || g.SupGiven != 0 || g.LastHere == nil || g.LastEarlier != nil {
		t.Fatalf("BEN-001: %+v", g)
	}
}
