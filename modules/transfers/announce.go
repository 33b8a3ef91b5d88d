package transfers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"

	"kportal/modules/apperr"
	"kportal/modules/plans"
	"kportal/modules/web"
	"kportal/tenants"
)

// Destination is a tenant a LIS can announce a move to.
type Destination struct {
	ID   uuid.UUID `bun:"id"`
	Slug string    `bun:"slug"`
	Name string    `bun:"name"`
}

// Destinations lists the active tenants a LIS can move to from here (every
// helseforetak and kommune that uses kportal, but this one).
func (s *Store) Destinations(ctx context.Context, here uuid.UUID) ([]Destination, error) {
	var out []Destination
	err := s.db.NewRaw("SELECT id, slug, name FROM tenants WHERE status = 'active' AND kind <> 'national' AND id <> ? ORDER BY name", here).Scan(ctx, &out)
	return out, err
}

// Announcement is what a LIS tells: where they start, and when.
type Announcement struct {
	To       string // the new workplace's slug
	StartsOn string // YYYY-MM-DD
}

// Announce records that the LIS (signed in at from) starts at another
// workplace; it waits there for a leder or the tenant admin to confirm it
// (choosing the plan), and those are told.
func (s *Store) Announce(ctx context.Context, from uuid.UUID, lis tenants.Actor, in Announcement) (*Transfer, error) {
	bad := map[string]string{}
	var to []Destination
	if err := s.db.NewRaw("SELECT id, slug, name FROM tenants WHERE slug = ? AND status = 'active' AND kind <> 'national'", strings.TrimSpace(in.To)).Scan(ctx, &to); err != nil {
		return nil, err
	}
	if len(to) == 0 || to[0].ID == from {
		bad["to"] = "Velg virksomheten du skal begynne ved."
	}
	starts, err := s.startDate(in.StartsOn)
	if err != nil {
		bad["starts_on"] = apperr.MessageOf(err)
	}
	if err := apperr.InvalidFields(bad); err != nil {
		return nil, err
	}
	var out *Transfer
	err = tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: from, PersonID: lis.PersonID}, func(ctx context.Context, tx bun.Tx) error {
		prev, err := previousStart(ctx, tx, from, lis.PersonID)
		if err != nil {
			return err
		}
		if prev != nil && !starts.After(*prev) {
			return apperr.InvalidFields(map[string]string{"starts_on": fmt.Sprintf("Startdatoen må være etter %s, da du begynte her.", web.Date(*prev))})
		}
		same, err := sameRHF(ctx, tx, from, to[0].ID)
		if err != nil {
			return err
		}
		// The move belongs to the new workplace: written with it in force.
		return inScope(ctx, tx, to[0].ID, func() error {
			var id uuid.UUID
			err := tx.NewRaw(`INSERT INTO transfers (tenant_id, lis_id, from_tenant_id, starts_on, same_rhf, status, registered_by)
				VALUES (?, ?, ?, ?, ?, 'announced', ?) RETURNING id`, to[0].ID, lis.PersonID, from, starts.Format("2006-01-02"), same, lis.PersonID).Scan(ctx, &id)
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "23505" {
				return apperr.New(apperr.Conflict, "Du har allerede et arbeidsstedsbytte som venter.")
			}
			if err != nil {
				return err
			}
			if err := tenants.Audit(ctx, tx, &tenants.AuditEntry{TenantID: to[0].ID, ActorID: &lis.PersonID, ActorName: lis.Name, Action: tenants.AuditTransferRegistered,
				SubjectID: &lis.PersonID, SubjectName: lis.Name, Details: "meldt av LIS, start " + starts.Format("2006-01-02")}); err != nil {
				return err
			}
			if out, err = get(ctx, tx, to[0].ID, id); err != nil {
				return err
			}
			// Those who can confirm: the tenant admins and ledere there.
			var who []uuid.UUID
			if err := tx.NewRaw("SELECT DISTINCT person_id FROM memberships WHERE tenant_id = ? AND role IN ('tenant_admin', 'leder')", to[0].ID).Scan(ctx, &who); err != nil {
				return err
			}
			for _, p := range who {
				if err := tenants.Emit(ctx, tx, tenants.Event{TenantID: to[0].ID, Topic: "transfer.announced", Recipient: p,
					Payload: map[string]any{"lis_name": out.LisName, "from_name": out.FromName, "starts_on": out.StartsOnText(), "path": "/arbeidsstedsbytte/" + id.String()}}); err != nil {
					return err
				}
			}
			return nil
		})
	})
	return out, err
}

// startDate checks a start date: a date, at most a year back or ahead.
func (s *Store) startDate(v string) (time.Time, error) {
	starts, err := time.Parse("2006-01-02", strings.TrimSpace(v))
	today := s.today()
	switch {
	case err != nil:
		return starts, apperr.New(apperr.Invalid, "Skriv startdatoen som en dato (ÅÅÅÅ-MM-DD).")
	case starts.After(today.AddDate(1, 0, 0)):
		return starts, apperr.New(apperr.Invalid, "Startdatoen kan være høyst ett år frem i tid.")
	case starts.Before(today.AddDate(-1, 0, 0)):
		return starts, apperr.New(apperr.Invalid, "Startdatoen kan være høyst ett år tilbake i tid.")
	}
	return starts, nil
}

// Confirmation is what the new workplace adds to a LIS's announcement.
type Confirmation struct {
	TemplateID string
	LederID    string
}

// Confirm makes an announced move registered, with the plan (and leder)
// chosen here; the sync job then runs on the start date.
func (s *Store) Confirm(ctx context.Context, tenantID uuid.UUID, by tenants.Actor, id uuid.UUID, in Confirmation) (*Transfer, error) {
	var out *Transfer
	err := tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID, PersonID: by.PersonID}, func(ctx context.Context, tx bun.Tx) error {
		t, err := get(ctx, tx, tenantID, id)
		if err != nil {
			return err
		}
		if t.Status != StatusAnnounced {
			return apperr.New(apperr.Conflict, "Byttet er allerede %s.", strings.ToLower(t.StatusText()))
		}
		template, leder, err := checkPlan(ctx, tx, tenantID, t.LisID, t.LisName, in.TemplateID, in.LederID)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE transfers SET status = 'registered', template_id = ?, leder_id = ?, registered_by = ?, registered_at = now()
			WHERE tenant_id = ? AND id = ? AND status = 'announced'`, template, leder, actorID(by), tenantID, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.Conflict, "Byttet er allerede behandlet.")
		}
		if err := tenants.Audit(ctx, tx, &tenants.AuditEntry{TenantID: tenantID, ActorID: actorID(by), ActorName: by.Name, Action: tenants.AuditTransferRegistered,
			SubjectID: &t.LisID, SubjectName: t.LisName, Details: "bekreftet, start " + t.StartsOn.Format("2006-01-02")}); err != nil {
			return err
		}
		out, err = get(ctx, tx, tenantID, id)
		return err
	})
	return out, err
}

// checkPlan checks the plan (a template here, not archived, of a specialty
// the LIS has no active plan in here) and the optional leder.
func checkPlan(ctx context.Context, tx bun.IDB, tenantID, lisID uuid.UUID, lisName, templateID, lederID string) (uuid.UUID, *uuid.UUID, error) {
	bad := map[string]string{}
	template, err := uuid.Parse(strings.TrimSpace(templateID))
	var specialty string
	if err == nil {
		t, err := plans.TemplateByID(ctx, tx, tenantID, template)
		switch {
		case err == nil && t.ArchivedAt == nil:
			specialty = t.Specialty
		case err != nil && !apperr.Is(err, apperr.NotFound):
			return template, nil, err
		}
	}
	if specialty == "" {
		bad["template"] = "Velg planen LIS-en skal følge her."
	}
	var leder *uuid.UUID
	if strings.TrimSpace(lederID) != "" {
		id, err := uuid.Parse(strings.TrimSpace(lederID))
		ok := false
		if err == nil {
			if err := tx.NewRaw("SELECT EXISTS (SELECT 1 FROM memberships WHERE tenant_id = ? AND person_id = ? AND role = 'leder')", tenantID, id).Scan(ctx, &ok); err != nil {
				return template, nil, err
			}
		}
		if !ok {
			bad["leder"] = "Velg en leder ved denne virksomheten."
		}
		leder = &id
	}
	if err := apperr.InvalidFields(bad); err != nil {
		return template, nil, err
	}
	dup, err := plans.ActiveOfSpecialty(ctx, tx, tenantID, lisID, specialty, uuid.Nil)
	if err != nil {
		return template, nil, err
	}
	if dup {
		return template, nil, apperr.InvalidFields(map[string]string{"template": fmt.Sprintf("%s har allerede en aktiv plan i samme spesialitet her.", lisName)})
	}
	return template, leder, nil
}

// Mine lists the LIS's own moves, newest first: the ones they announced and
// the ones registered for them (read in Min utdanning, own_record policy).
func Mine(ctx context.Context, tx bun.IDB, lisID uuid.UUID) ([]Transfer, error) {
	var out []Transfer
	err := tx.NewRaw("SELECT "+transferColumns+" WHERE x.lis_id = ? ORDER BY x.starts_on DESC, x.registered_at DESC", lisID).Scan(ctx, &out)
	return out, err
}
