package tenants

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/apperr"
	"kportal/storage"
)

// Relation kinds: who a LIS has in a tenant. At most one leder and one
// veileder per LIS and tenant; any number of supervisors.
const (
	RelLeder      = "leder"
	RelVeileder   = "veileder"
	RelSupervisor = "supervisor"
)

// IsRelationKind reports whether k is a relation kind.
func IsRelationKind(k string) bool { return k == RelLeder || k == RelVeileder || k == RelSupervisor }

// Relation ties a LIS to a leder, veileder or supervisor in a tenant.
type Relation struct {
	TenantID  uuid.UUID `bun:"tenant_id"`
	LisID     uuid.UUID `bun:"lis_id"`
	Kind      string    `bun:"kind"`
	PersonID  uuid.UUID `bun:"person_id"`
	CreatedAt time.Time `bun:"created_at"`
	// Filled by the listing queries: the other person and the tenant.
	LisName     string `bun:"lis_name"`
	LisEmail    string `bun:"lis_email"`
	PersonName  string `bun:"person_name"`
	PersonEmail string `bun:"person_email"`
	TenantName  string `bun:"tenant_name"`
	TenantSlug  string `bun:"tenant_slug"`
}

// SetRelation makes person the LIS's leder, veileder or a supervisor in the
// tenant in force in tx, giving person the matching membership role. A new
// leder or veileder replaces the old one. Actor is recorded in the audit log.
func SetRelation(ctx context.Context, tx bun.Tx, tenantID, lisID uuid.UUID, kind string, personID uuid.UUID, actor Actor) error {
	if !IsRelationKind(kind) {
		return apperr.New(apperr.Invalid, "Ukjent relasjon %q.", kind)
	}
	if lisID == personID {
		return apperr.New(apperr.Invalid, "En LIS kan ikke være sin egen %s.", kind)
	}
	if kind != RelSupervisor {
		if _, err := tx.ExecContext(ctx, "DELETE FROM relations WHERE tenant_id = ? AND lis_id = ? AND kind = ? AND person_id <> ?", tenantID, lisID, kind, personID); err != nil {
			return err
		}
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO relations (tenant_id, lis_id, kind, person_id) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, tenantID, lisID, kind, personID)
	if err != nil {
		return err
	}
	if err := GrantRole(ctx, tx, tenantID, lisID, "lis", actor); err != nil {
		return err
	}
	if err := GrantRole(ctx, tx, tenantID, personID, kind, actor); err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	return Audit(ctx, tx, &AuditEntry{TenantID: tenantID, ActorID: actorPtr(actor.PersonID), ActorName: actor.Name, Action: AuditRelationAdded,
		SubjectID: &personID, Details: kind + " for LIS " + lisID.String()})
}

// RemoveRelation ends a relation in the tenant in force in tx.
func RemoveRelation(ctx context.Context, tx bun.Tx, tenantID, lisID uuid.UUID, kind string, personID uuid.UUID, actor Actor) error {
	res, err := tx.ExecContext(ctx, "DELETE FROM relations WHERE tenant_id = ? AND lis_id = ? AND kind = ? AND person_id = ?", tenantID, lisID, kind, personID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return apperr.Default(apperr.NotFound)
	}
	return Audit(ctx, tx, &AuditEntry{TenantID: tenantID, ActorID: actorPtr(actor.PersonID), ActorName: actor.Name, Action: AuditRelationRemoved,
		SubjectID: &personID, Details: kind + " for LIS " + lisID.String()})
}

const relationColumns = `r.tenant_id, r.lis_id, r.kind, r.person_id, r.created_at,
	trim(l.given_name || ' ' || l.family_name) AS lis_name, l.email AS lis_email,
	trim(p.given_name || ' ' || p.family_name) AS person_name, p.email AS person_email,
	t.name AS tenant_name, t.slug AS tenant_slug`

// RelationsOf lists every relation a person is part of, as LIS or as the
// other side, in every tenant (the person's own view).
func RelationsOf(ctx context.Context, db bun.IDB, personID uuid.UUID) ([]Relation, error) {
	var out []Relation
	err := WithTenantTx(ctx, db, Scope{PersonID: personID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw(`SELECT `+relationColumns+` FROM relations r
			JOIN people l ON l.id = r.lis_id JOIN people p ON p.id = r.person_id JOIN tenants t ON t.id = r.tenant_id
			WHERE r.lis_id = ? OR r.person_id = ? ORDER BY t.name, r.kind, person_name`, personID, personID).Scan(ctx, &out)
	})
	return out, err
}

// TenantRelations lists the relations in a tenant.
func TenantRelations(ctx context.Context, db bun.IDB, tenantID uuid.UUID) ([]Relation, error) {
	var out []Relation
	err := WithTenantTx(ctx, db, Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw(`SELECT `+relationColumns+` FROM relations r
			JOIN people l ON l.id = r.lis_id JOIN people p ON p.id = r.person_id JOIN tenants t ON t.id = r.tenant_id
			WHERE r.tenant_id = ? ORDER BY lis_name, r.kind, person_name`, tenantID).Scan(ctx, &out)
	})
	return out, err
}

// The relationship rules: Casbin says what a role may do in a tenant; these
// say for which LIS. Each runs in a transaction with the tenant in force.

// Supervises reports whether person is a supervisor of the LIS (signs their activities).
func Supervises(ctx context.Context, tx bun.IDB, tenantID, person, lis uuid.UUID) (bool, error) {
	return storage.Exists(ctx, tx, "SELECT 1 FROM relations WHERE tenant_id = ? AND person_id = ? AND lis_id = ? AND kind = 'supervisor'", tenantID, person, lis)
}

// Advises reports whether person is the LIS's veileder (sees their progress and samtaler).
func Advises(ctx context.Context, tx bun.IDB, tenantID, person, lis uuid.UUID) (bool, error) {
	return storage.Exists(ctx, tx, "SELECT 1 FROM relations WHERE tenant_id = ? AND person_id = ? AND lis_id = ? AND kind = 'veileder'", tenantID, person, lis)
}

// Manages reports whether person is the LIS's leder.
func Manages(ctx context.Context, tx bun.IDB, tenantID, person, lis uuid.UUID) (bool, error) {
	return storage.Exists(ctx, tx, "SELECT 1 FROM relations WHERE tenant_id = ? AND person_id = ? AND lis_id = ? AND kind = 'leder'", tenantID, person, lis)
}

// MayApprove reports whether person may approve the LIS's læringsmål on day:
// as the LIS's leder, or as a delegate of that leder whose delegation is open
// and not past its last day.
func MayApprove(ctx context.Context, tx bun.IDB, tenantID, person, lis uuid.UUID, day time.Time) (bool, error) {
	return storage.Exists(ctx, tx, `SELECT 1 FROM relations r WHERE r.tenant_id = ? AND r.lis_id = ? AND r.kind = 'leder' AND (r.person_id = ?
		OR EXISTS (SELECT 1 FROM delegations d WHERE d.tenant_id = r.tenant_id AND d.leder_id = r.person_id AND d.delegate_id = ?
			AND d.revoked_at IS NULL AND (d.valid_until IS NULL OR d.valid_until >= ?::date)))`,
		tenantID, lis, person, person, day.Format("2006-01-02"))
}

// Covers reports whether a UAO follows the LIS: they share a specialty.
func Covers(ctx context.Context, tx bun.IDB, tenantID, uao, lis uuid.UUID) (bool, error) {
	return storage.Exists(ctx, tx, `SELECT 1 FROM person_specialties u JOIN person_specialties l
		ON l.tenant_id = u.tenant_id AND l.specialty = u.specialty AND l.role = 'lis'
		WHERE u.tenant_id = ? AND u.person_id = ? AND u.role = 'uao' AND l.person_id = ?`, tenantID, uao, lis)
}

// SetSpecialties replaces the specialties a LIS trains in or a UAO follows.
func SetSpecialties(ctx context.Context, tx bun.Tx, tenantID, person uuid.UUID, role string, codes []string) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM person_specialties WHERE tenant_id = ? AND person_id = ? AND role = ?", tenantID, person, role); err != nil {
		return err
	}
	for _, c := range codes {
		if _, err := tx.ExecContext(ctx, "INSERT INTO person_specialties (tenant_id, person_id, role, specialty) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING", tenantID, person, role, c); err != nil {
			return err
		}
	}
	return nil
}
