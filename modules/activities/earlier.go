package activities

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"

	"kportal/modules/apperr"
	"kportal/tenants"
)

// WaitingActivity is an activity of the LIS at an earlier workplace that waits for a
// signature there, or was withdrawn (or returned) since the move, and has not
// been sent again here.
type WaitingActivity struct {
	TenantID uuid.UUID `bun:"tenant_id"`
	ID       uuid.UUID `bun:"id"`
	Where    string    `bun:"where_name"`
	Kind     string    `bun:"kind"`
	Title    string    `bun:"title"`
	Count    int       `bun:"count"`
	DoneOn   time.Time `bun:"done_on"`
	Status   string    `bun:"status"`
}

// KindLabel is the kind in Norwegian.
func (e *WaitingActivity) KindLabel() string { return KindLabel(e.Kind) }

// StatusLabel is the status in Norwegian.
func (e *WaitingActivity) StatusLabel() string { return StatusLabel(e.Status) }

const waitingQuery = `SELECT a.tenant_id, a.id, t.name AS where_name, a.kind, a.title, a.count, a.done_on, a.status
	FROM activities a JOIN tenants t ON t.id = a.tenant_id
	JOIN earlier_workplaces e ON e.tenant_id = ?0 AND e.lis_id = a.lis_id AND e.earlier_tenant_id = a.tenant_id
	WHERE a.lis_id = ?1 AND (a.status = 'requested' OR (a.status = 'withdrawn' AND a.updated_at >= e.left_on))
	AND NOT EXISTS (SELECT 1 FROM activities r WHERE r.tenant_id = ?0 AND r.origin_id = a.id)`

// WaitingElsewhere lists what the LIS can send again here, oldest first.
func (s *Store) WaitingElsewhere(ctx context.Context, tenantID, lisID uuid.UUID) ([]WaitingActivity, error) {
	var out []WaitingActivity
	err := tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID, PersonID: lisID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw(waitingQuery+" ORDER BY a.done_on, a.created_at", tenantID, lisID).Scan(ctx, &out)
	})
	return out, err
}

// Resend sends an activity that waited at an earlier workplace to a
// supervisor here, in one transaction: a copy here (its origin recorded,
// waiting for the supervisor), and the one there withdrawn if it still
// waited, so it is never signed twice. A kursbevis stays at the earlier
// workplace (its dokumentarkiv) and is not copied.
func (s *Store) Resend(ctx context.Context, tenantID uuid.UUID, lis tenants.Actor, originID, supervisorID uuid.UUID) (uuid.UUID, error) {
	var id uuid.UUID
	err := tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID, PersonID: lis.PersonID}, func(ctx context.Context, tx bun.Tx) error {
		var found []WaitingActivity
		// No FOR UPDATE: the earlier row is readable here, not lockable. Twice
		// at once, the unique activities_origin index refuses the second.
		if err := tx.NewRaw(waitingQuery+" AND a.id = ?2", tenantID, lis.PersonID, originID).Scan(ctx, &found); err != nil {
			return err
		}
		if len(found) == 0 {
			return apperr.New(apperr.NotFound, "Fant ikke aktiviteten, eller den er allerede sendt på nytt.")
		}
		ok, err := tenants.Supervises(ctx, tx, tenantID, supervisorID, lis.PersonID)
		if err != nil {
			return err
		}
		if !ok {
			return apperr.InvalidFields(map[string]string{"supervisor": "Velg en av supervisørene dine her."})
		}
		plan, err := ActivePlan(ctx, tx, tenantID, lis.PersonID)
		if err != nil {
			return err
		}
		if plan == nil {
			return apperr.New(apperr.Invalid, "Du har ingen aktiv plan her ennå.")
		}
		o := found[0]
		if err := tx.NewRaw(`INSERT INTO activities (tenant_id, lis_id, assignment_id, kind, title, procedure_id, procedure_role, count, done_on, goal_codes,
				comment, status, supervisor_id, requested_at, origin_tenant_id, origin_id)
			SELECT ?, lis_id, ?, kind, title, procedure_id, procedure_role, count, done_on, goal_codes, comment, 'requested', ?, now(), tenant_id, id
			FROM activities WHERE tenant_id = ? AND id = ? RETURNING id`, tenantID, plan.AssignmentID, supervisorID, o.TenantID, o.ID).Scan(ctx, &id); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "23505" {
				return apperr.New(apperr.NotFound, "Aktiviteten er allerede sendt på nytt.")
			}
			return err
		}
		if err := tenants.Emit(ctx, tx, tenants.Event{TenantID: tenantID, Topic: TopicSignatureRequested, Recipient: supervisorID,
			Payload: map[string]any{"activity_id": id, "lis_id": lis.PersonID, "lis_name": lis.Name, "title": o.Title, "count": o.Count}}); err != nil {
			return err
		}
		if o.Status != "requested" {
			return nil
		}
		// The LIS's own row at the earlier workplace, written with it in force.
		return inTenant(ctx, tx, o.TenantID, lis.PersonID, func() error {
			res, err := tx.ExecContext(ctx, `UPDATE activities SET status = 'withdrawn', updated_at = now()
				WHERE tenant_id = ? AND id = ? AND lis_id = ? AND status = 'requested'`, o.TenantID, o.ID, lis.PersonID)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 { // decided there meanwhile
				return apperr.New(apperr.Conflict, "Aktiviteten er behandlet ved %s i mellomtiden, så den sendes ikke på nytt.", o.Where)
			}
			return nil
		})
	})
	return id, err
}

// SupervisorsHere are the LIS's supervisors here, to send again to.
func (s *Store) SupervisorsHere(ctx context.Context, tenantID, lisID uuid.UUID) ([]Option, error) {
	var out []Option
	err := tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID, PersonID: lisID}, func(ctx context.Context, tx bun.Tx) error {
		var err error
		out, err = Supervisors(ctx, tx, tenantID, lisID)
		return err
	})
	return out, err
}

// inTenant runs fn with tenant in force in tx (and person), then puts back
// the tenant in force before: the one place this module writes another
// tenant's row, the LIS's own activity left waiting there (tenants.SwitchScope).
func inTenant(ctx context.Context, tx bun.Tx, tenant, person uuid.UUID, fn func() error) error {
	var before string
	if err := tx.NewRaw("SELECT coalesce(current_setting('app.tenant_id', true), '')").Scan(ctx, &before); err != nil {
		return err
	}
	if err := tenants.SwitchScope(ctx, tx, tenants.Scope{TenantID: tenant, PersonID: person}); err != nil {
		return err
	}
	ferr := fn()
	b, _ := uuid.Parse(before)
	if err := tenants.SwitchScope(ctx, tx, tenants.Scope{TenantID: b, PersonID: person}); err != nil && ferr == nil {
		ferr = err
	}
	return ferr
}
