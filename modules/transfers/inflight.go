package transfers

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/tenants"
)

// ReturnInFlight returns to the LIS, in every tenant, the work still waiting
// there after the tenant's period since the LIS moved away: activities
// waiting for a signature are withdrawn and goals waiting for approval are
// returned, each LIS told once per run. It is idempotent (returned work no
// longer waits) and returns how many items it returned.
func (s *Store) ReturnInFlight(ctx context.Context) (int, error) {
	total := 0
	err := s.inEveryTenant(ctx, func(ctx context.Context, tx bun.Tx, tid uuid.UUID) error {
		days, err := inFlightDays(ctx, tx, tid)
		if err != nil {
			return err
		}
		// Moves away from here (left_from policy), past the period.
		var gone []Transfer
		if err := tx.NewRaw("SELECT "+transferColumns+" WHERE x.from_tenant_id = ? AND x.status = 'done' AND x.starts_on <= ?",
			tid, s.today().AddDate(0, 0, -days).Format("2006-01-02")).Scan(ctx, &gone); err != nil {
			return err
		}
		for _, t := range gone {
			n, err := returnWork(ctx, tx, tid, &t)
			if err != nil {
				return err
			}
			total += n
		}
		return nil
	})
	return total, err
}

func returnWork(ctx context.Context, tx bun.Tx, tid uuid.UUID, t *Transfer) (int, error) {
	note := fmt.Sprintf("Returnert til LIS: ikke behandlet innen fristen etter at LIS-en flyttet til %s %s.", t.ToName, t.StartsOnText())
	acts, err := tx.ExecContext(ctx, `UPDATE activities SET status = 'withdrawn', updated_at = now()
		WHERE tenant_id = ? AND lis_id = ? AND status = 'requested'`, tid, t.LisID)
	if err != nil {
		return 0, err
	}
	goals, err := tx.ExecContext(ctx, `UPDATE goal_progress SET status = 'returned', decided_at = now(), decision_note = ?
		WHERE tenant_id = ? AND lis_id = ? AND status = 'sent'`, note, tid, t.LisID)
	if err != nil {
		return 0, err
	}
	a, _ := acts.RowsAffected()
	g, _ := goals.RowsAffected()
	if a+g == 0 {
		return 0, nil
	}
	if err := tenants.Audit(ctx, tx, &tenants.AuditEntry{TenantID: tid, ActorName: "kportal (arbeidsstedsbytte)", Action: tenants.AuditTransferReturned,
		SubjectID: &t.LisID, SubjectName: t.LisName, Details: fmt.Sprintf("%d aktiviteter, %d læringsmål", a, g)}); err != nil {
		return 0, err
	}
	// Told at the new workplace, where the LIS sends them again.
	return int(a + g), inScope(ctx, tx, t.TenantID, func() error {
		return tenants.Emit(ctx, tx, tenants.Event{TenantID: t.TenantID, Topic: "transfer.returned", Recipient: t.LisID,
			Payload: map[string]any{"activities": a, "goals": g, "from_name": t.FromName}})
	})
}
