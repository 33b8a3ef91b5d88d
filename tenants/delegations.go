package tenants

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/apperr"
	"kportal/storage"
)

// Delegation lets a named colleague approve læringsmål for a leder's LIS,
// optionally until a day. Only a leder delegates; what was delegated cannot be
// delegated further (MayApprove follows one step from the LIS's own leder).
type Delegation struct {
	bun.BaseModel `bun:"table:delegations,alias:d"`

	TenantID     uuid.UUID  `bun:"tenant_id,pk,type:uuid"`
	ID           uuid.UUID  `bun:"id,pk,type:uuid,default:gen_random_uuid()"`
	LederID      uuid.UUID  `bun:"leder_id,type:uuid"`
	DelegateID   uuid.UUID  `bun:"delegate_id,type:uuid"`
	ValidUntil   *time.Time `bun:"valid_until,type:date"`
	Reason       string     `bun:"reason"`
	CreatedAt    time.Time  `bun:"created_at,nullzero,default:now()"`
	RevokedAt    *time.Time `bun:"revoked_at"`
	RevokedBy    *uuid.UUID `bun:"revoked_by,type:uuid"`
	RevokeReason string     `bun:"revoke_reason"`

	LederName    string `bun:"leder_name,scanonly"`
	DelegateName string `bun:"delegate_name,scanonly"`
}

// Active reports whether the delegation grants approval on day.
func (d *Delegation) Active(day time.Time) bool {
	return d.RevokedAt == nil && (d.ValidUntil == nil || !d.ValidUntil.Before(truncateDay(day)))
}

func truncateDay(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func hasRole(ctx context.Context, tx bun.IDB, tenantID, person uuid.UUID, role string) (bool, error) {
	return storage.Exists(ctx, tx, "SELECT 1 FROM memberships WHERE tenant_id = ? AND person_id = ? AND role = ?", tenantID, person, role)
}

// Delegate lets delegate approve for leder's LIS in the tenant until the day
// until (nil: until revoked). today is the caller's date (Europe/Oslo).
func Delegate(ctx context.Context, db bun.IDB, tenantID uuid.UUID, leder Actor, delegateID uuid.UUID, until *time.Time, reason string, today time.Time) (*Delegation, error) {
	d := &Delegation{TenantID: tenantID, LederID: leder.PersonID, DelegateID: delegateID, ValidUntil: until, Reason: strings.TrimSpace(reason)}
	bad := map[string]string{}
	if delegateID == leder.PersonID {
		bad["delegate"] = "Du kan ikke delegere til deg selv."
	}
	if until != nil && until.Before(truncateDay(today)) {
		bad["until"] = "Sluttdatoen kan ikke være passert."
	}
	if len(d.Reason) > 500 {
		bad["reason"] = "Begrunnelsen kan ha høyst 500 tegn."
	}
	err := WithTenantTx(ctx, db, Scope{TenantID: tenantID, PersonID: leder.PersonID}, func(ctx context.Context, tx bun.Tx) error {
		if ok, err := hasRole(ctx, tx, tenantID, leder.PersonID, "leder"); err != nil || !ok {
			if err != nil {
				return err
			}
			return apperr.New(apperr.Forbidden, "Bare ledere kan delegere godkjenning av læringsmål. Godkjenning du selv har fått delegert, kan ikke delegeres videre.")
		}
		if _, ok := bad["delegate"]; !ok {
			var member bool
			member, err := storage.Exists(ctx, tx, "SELECT 1 FROM memberships WHERE tenant_id = ? AND person_id = ?", tenantID, delegateID)
			if err != nil {
				return err
			}
			if !member {
				bad["delegate"] = "Velg en kollega i virksomheten."
			}
		}
		if err := apperr.InvalidFields(bad); err != nil {
			return err
		}
		open, err := storage.Exists(ctx, tx, "SELECT 1 FROM delegations WHERE tenant_id = ? AND leder_id = ? AND delegate_id = ? AND revoked_at IS NULL", tenantID, leder.PersonID, delegateID)
		if err != nil {
			return err
		}
		if open {
			return apperr.New(apperr.Conflict, "Denne kollegaen har allerede fått delegert godkjenning fra deg. Trekk den tilbake først hvis du vil endre den.")
		}
		if _, err := tx.NewInsert().Model(d).Returning("*").Exec(ctx); err != nil {
			return err
		}
		details := "uten sluttdato"
		if until != nil {
			details = "til og med " + until.Format("2.1.2006")
		}
		if d.Reason != "" {
			details += ": " + d.Reason
		}
		return Audit(ctx, tx, &AuditEntry{TenantID: tenantID, ActorID: &leder.PersonID, ActorName: leder.Name, Action: AuditDelegationGranted, SubjectID: &delegateID, Details: details})
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Delegations lists the delegations a leder has given in a tenant, newest first.
func Delegations(ctx context.Context, db bun.IDB, tenantID, lederID uuid.UUID) ([]Delegation, error) {
	return listDelegations(ctx, db, tenantID, "d.leder_id = ?", lederID)
}

// DelegatedTo lists the open delegations a person has received in a tenant.
func DelegatedTo(ctx context.Context, db bun.IDB, tenantID, person uuid.UUID) ([]Delegation, error) {
	return listDelegations(ctx, db, tenantID, "d.delegate_id = ? AND d.revoked_at IS NULL", person)
}

func listDelegations(ctx context.Context, db bun.IDB, tenantID uuid.UUID, where string, arg any) ([]Delegation, error) {
	var out []Delegation
	err := WithTenantTx(ctx, db, Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewSelect().Model(&out).
			ColumnExpr("d.*").
			ColumnExpr("trim(l.given_name || ' ' || l.family_name) AS leder_name").
			ColumnExpr("trim(p.given_name || ' ' || p.family_name) AS delegate_name").
			Join("JOIN people l ON l.id = d.leder_id").
			Join("JOIN people p ON p.id = d.delegate_id").
			Where("d.tenant_id = ?", tenantID).Where(where, arg).
			Order("d.created_at DESC").Scan(ctx)
	})
	return out, err
}

// RevokeDelegation ends one of the leder's open delegations.
func RevokeDelegation(ctx context.Context, db bun.IDB, tenantID uuid.UUID, leder Actor, id uuid.UUID, reason string) error {
	return WithTenantTx(ctx, db, Scope{TenantID: tenantID, PersonID: leder.PersonID}, func(ctx context.Context, tx bun.Tx) error {
		d := new(Delegation)
		err := tx.NewSelect().Model(d).Where("d.tenant_id = ? AND d.id = ? AND d.leder_id = ?", tenantID, id, leder.PersonID).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.Default(apperr.NotFound)
		}
		if err != nil {
			return err
		}
		if d.RevokedAt != nil {
			return apperr.New(apperr.Conflict, "Delegeringen er allerede trukket tilbake.")
		}
		reason = strings.TrimSpace(reason)
		if _, err := tx.NewUpdate().Model(d).Set("revoked_at = now(), revoked_by = ?, revoke_reason = ?", leder.PersonID, reason).WherePK().Exec(ctx); err != nil {
			return err
		}
		return Audit(ctx, tx, &AuditEntry{TenantID: tenantID, ActorID: &leder.PersonID, ActorName: leder.Name, Action: AuditDelegationRevoked, SubjectID: &d.DelegateID, Details: reason})
	})
}
