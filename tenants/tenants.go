// Package tenants holds the tenant model (helseforetak, kommuner, private
// providers and the national authority), the transaction helper that puts a
// tenant in force for row-level security, and tenant resolution from the URL.
package tenants

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/apperr"
	"kportal/modules/hook"
)

// Kind is what sort of organisation a tenant is.
type Kind string

const (
	KindHF       Kind = "hf"
	KindKommune  Kind = "kommune"
	KindPrivate  Kind = "private"
	KindNational Kind = "national"
)

// Status is a tenant's life-cycle state.
type Status string

const (
	StatusPending   Status = "pending"
	StatusActive    Status = "active"
	StatusSuspended Status = "suspended"
)

// Tenant is one organisation using kportal.
type Tenant struct {
	bun.BaseModel `bun:"table:tenants"`

	ID        uuid.UUID `bun:"id,pk,type:uuid,default:gen_random_uuid()"`
	Slug      string    `bun:"slug"`
	Name      string    `bun:"name"`
	Kind      Kind      `bun:"kind"`
	Status    Status    `bun:"status"`
	CreatedAt time.Time `bun:"created_at,nullzero,default:now()"`

	Orgnr         string     `bun:"orgnr,nullzero"`
	Kommunenummer string     `bun:"kommunenummer,nullzero"`
	RHFCode       string     `bun:"rhf_code,nullzero"` // helseforetak: the RHF they belong to
	RegistryID    *uuid.UUID `bun:"registry_id,type:uuid"`

	OnboardedBy     *uuid.UUID `bun:"onboarded_by,type:uuid"`
	StatusChangedAt *time.Time `bun:"status_changed_at"`
	StatusReason    string     `bun:"status_reason"`
}

// StatusText is the status in Norwegian.
func (t *Tenant) StatusText() string {
	return map[Status]string{StatusPending: "Venter på administrator", StatusActive: "I bruk", StatusSuspended: "Stengt"}[t.Status]
}

// KindText is the kind in Norwegian.
func (t *Tenant) KindText() string {
	return map[Kind]string{KindHF: "Helseforetak", KindKommune: "Kommune", KindPrivate: "Privat virksomhet", KindNational: "Nasjonal myndighet"}[t.Kind]
}

// Scope is who acts and in which tenant; it is what WithTenantTx puts in force.
type Scope struct {
	TenantID uuid.UUID
	PersonID uuid.UUID // may be zero (jobs, seeds)
}

// WithTenantTx runs fn in a transaction in which row-level security sees only
// scope's tenant. The setting is local to the transaction (set_config's third
// argument), so a pooled connection never carries it into another request.
//
// Inside OneTx with the same tenant it joins that transaction instead.
func WithTenantTx(ctx context.Context, db bun.IDB, scope Scope, fn func(ctx context.Context, tx bun.Tx) error) error {
	if s, ok := ctx.Value(oneTxKey{}).(*oneTx); ok && s.db == db && s.scope.TenantID == scope.TenantID &&
		(scope.PersonID == s.scope.PersonID || scope.PersonID == uuid.Nil) {
		return withCaller(fn(ctx, s.tx))
	}
	return withCaller(db.RunInTx(ctx, &sql.TxOptions{}, func(ctx context.Context, tx bun.Tx) error {
		if err := setScope(ctx, tx, scope); err != nil {
			return err
		}
		return fn(ctx, tx)
	}))
}

// withCaller names the function that ran the transaction on a bare "no rows"
// (a lookup a store did not turn into NotFound), which alone in a log says
// nothing of where it came from. errors.Is still finds sql.ErrNoRows.
func withCaller(err error) error {
	if err != sql.ErrNoRows {
		return err
	}
	pcs := make([]uintptr, 8)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		f, more := frames.Next()
		if !strings.HasPrefix(f.Function, "kportal/tenants.WithTenantTx") && !strings.HasPrefix(f.Function, "kportal/tenants.OneTx") {
			return fmt.Errorf("%s: %w", f.Function, err)
		}
		if !more {
			return err
		}
	}
}

type oneTxKey struct{}

type oneTx struct {
	db    bun.IDB // joined only through the same database handle (role)
	scope Scope
	tx    bun.Tx
}

// OneTx runs fn with one transaction in force for scope that every
// WithTenantTx of the same tenant (and the same person, or none) inside fn
// joins, so a page that reads through several stores pays for one BEGIN,
// set_config and COMMIT instead of one each. Joined calls share the outcome:
// an error inside rolls nothing back until fn returns it, so use it for
// pages that read (and whose errors fail the page), not for forms that
// write and go on after a refusal.
func OneTx(ctx context.Context, db bun.IDB, scope Scope, fn func(ctx context.Context) error) error {
	return WithTenantTx(ctx, db, scope, func(ctx context.Context, tx bun.Tx) error {
		return fn(context.WithValue(ctx, oneTxKey{}, &oneTx{db: db, scope: scope, tx: tx}))
	})
}

// BeginTenantTx is WithTenantTx for a caller that must commit at a moment of
// its own choosing (notifications commit "sent" in the middle of an SMTP
// exchange); the caller commits or rolls back.
func BeginTenantTx(ctx context.Context, db bun.IDB, scope Scope) (bun.Tx, error) {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{})
	if err != nil {
		return tx, err
	}
	if err := setScope(ctx, tx, scope); err != nil {
		_ = tx.Rollback()
		return tx, err
	}
	return tx, nil
}

// SwitchScope puts another scope in force for the rest of tx. Only work whose
// one transaction must change two tenants together uses it: a move of a LIS
// (the old plan ended and the new one started, or neither), and a LIS sending
// again at the new workplace what waited at the old one. Nothing else.
func SwitchScope(ctx context.Context, tx bun.Tx, scope Scope) error { return setScope(ctx, tx, scope) }

func setScope(ctx context.Context, tx bun.Tx, scope Scope) error {
	tenant, person := "", ""
	if scope.TenantID != uuid.Nil {
		tenant = scope.TenantID.String()
	}
	if scope.PersonID != uuid.Nil {
		person = scope.PersonID.String()
	}
	_, err := tx.ExecContext(ctx, "SELECT set_config('app.tenant_id', ?, true), set_config('app.person_id', ?, true)", tenant, person)
	return err
}

// OwnRecordTx runs fn in a read transaction in which person reads their own
// record (plans, activities, signatures, goals, samtaler, documents) in every
// tenant, through the own_record policies, and nothing of anyone else's: no
// tenant is in force. Call it only with the signed-in person's own id, taken
// from the session, never from the request.
func OwnRecordTx(ctx context.Context, db bun.IDB, person uuid.UUID, fn func(ctx context.Context, tx bun.Tx) error) error {
	return RecordTx(ctx, db, person, fn)
}

// RecordTx runs fn in a read-only transaction with lis's record in force: lis
// is the person in force and app.own_record is on, with no tenant, so the
// own_record policies show lis's record in every tenant and nothing else's.
// OwnRecordTx is RecordTx for the signed-in person; anyone else (Helsedirektoratet)
// calls it only after their right to read was checked and the read was written
// to the access log (modules/accesslog). fn must only read the record: the
// database sees lis as the person acting.
func RecordTx(ctx context.Context, db bun.IDB, lis uuid.UUID, fn func(ctx context.Context, tx bun.Tx) error) error {
	if lis == uuid.Nil {
		return errors.New("tenants: RecordTx without a person")
	}
	return withCaller(db.RunInTx(ctx, &sql.TxOptions{ReadOnly: true}, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, "SELECT set_config('app.tenant_id', '', true), set_config('app.person_id', ?, true), set_config('app.own_record', 'on', true)", lis.String())
		if err != nil {
			return err
		}
		return fn(ctx, tx)
	}))
}

// ByIDs reads the tenants with the given ids (name, kind, status; the
// tenant registry is not tenant-scoped).
func ByIDs(ctx context.Context, db bun.IDB, ids []uuid.UUID) ([]Tenant, error) {
	var ts []Tenant
	if len(ids) == 0 {
		return ts, nil
	}
	err := db.NewSelect().Model(&ts).Column("id", "slug", "name", "kind", "status").Where("id IN (?)", bun.In(ids)).Scan(ctx)
	return ts, err
}

// BySlug finds a tenant by its URL slug.
func BySlug(ctx context.Context, db bun.IDB, slug string) (*Tenant, error) {
	t := new(Tenant)
	err := db.NewSelect().Model(t).Where("slug = ?", slug).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "Fant ingen virksomhet med adressen %q.", slug)
	}
	return t, err
}

// Create inserts a tenant.
func Create(ctx context.Context, db bun.IDB, t *Tenant) error {
	if t.Status == "" {
		t.Status = StatusActive
	}
	_, err := db.NewInsert().Model(t).Returning("*").Exec(ctx)
	return err
}

// Membership is a tenant a person belongs to, with their roles there.
type Membership struct {
	Tenant Tenant
	Roles  []string
}

// ForPerson lists the tenants a person belongs to, with their roles there
// (AccessOf without the platform roles).
func ForPerson(ctx context.Context, db bun.IDB, personID uuid.UUID) ([]Membership, error) {
	ms, _, err := AccessOf(ctx, db, personID)
	return ms, err
}

// AddMembership gives a person a role in a tenant (idempotent), in a
// transaction of its own, recorded as done by kportal (seeds, tests).
func AddMembership(ctx context.Context, db bun.IDB, tenantID, personID uuid.UUID, role string) error {
	return WithTenantTx(ctx, db, Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		return GrantRole(ctx, tx, tenantID, personID, role, Actor{Name: "kportal"})
	})
}

// Roles a person can hold in a tenant.
var TenantRoles = []string{"lis", "leder", "veileder", "supervisor", "uao", "tenant_admin"}

// IsTenantRole reports whether r is a tenant role.
func IsTenantRole(r string) bool {
	for _, x := range TenantRoles {
		if x == r {
			return true
		}
	}
	return false
}

// GrantRole gives a person a role in the tenant in force in tx and records
// who did it (nothing is recorded when the person had the role already).
func GrantRole(ctx context.Context, tx bun.Tx, tenantID, personID uuid.UUID, role string, actor Actor) error {
	if !IsTenantRole(role) {
		return apperr.New(apperr.Invalid, "Ukjent rolle %q.", role)
	}
	res, err := tx.ExecContext(ctx, "INSERT INTO memberships (tenant_id, person_id, role) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", tenantID, personID, role)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	if err := joined(ctx, tx, tenantID, personID, role); err != nil {
		return err
	}
	return Audit(ctx, tx, &AuditEntry{TenantID: tenantID, ActorID: actorPtr(actor.PersonID), ActorName: actor.Name, Action: AuditRoleGranted, SubjectID: &personID, Details: role})
}

// Join is a person newly getting a role in a tenant. Joined is triggered with
// it inside the granting transaction (Tx, the tenant in force) by GrantRole and
// AddMembership; plans binds to it to give a LIS who joins the tenant's
// automatic plans. A handler's error rolls the grant back.
type Join struct {
	Tx       bun.IDB
	TenantID uuid.UUID
	PersonID uuid.UUID
	Role     string
}

// Joined is the hook of Join events.
var Joined hook.Hook[Join]

func joined(ctx context.Context, tx bun.IDB, tenantID, personID uuid.UUID, role string) error {
	return Joined.Trigger(ctx, Join{Tx: tx, TenantID: tenantID, PersonID: personID, Role: role})
}

// RevokeRole takes a role from a person in the tenant in force in tx. Taking
// the leder, veileder or supervisor role also ends those relations.
func RevokeRole(ctx context.Context, tx bun.Tx, tenantID, personID uuid.UUID, role string, actor Actor) error {
	res, err := tx.ExecContext(ctx, "DELETE FROM memberships WHERE tenant_id = ? AND person_id = ? AND role = ?", tenantID, personID, role)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return apperr.New(apperr.NotFound, "Personen har ikke denne rollen.")
	}
	if IsRelationKind(role) {
		if _, err := tx.ExecContext(ctx, "DELETE FROM relations WHERE tenant_id = ? AND person_id = ? AND kind = ?", tenantID, personID, role); err != nil {
			return err
		}
	}
	if role == "lis" {
		if _, err := tx.ExecContext(ctx, "DELETE FROM relations WHERE tenant_id = ? AND lis_id = ?", tenantID, personID); err != nil {
			return err
		}
	}
	return Audit(ctx, tx, &AuditEntry{TenantID: tenantID, ActorID: actorPtr(actor.PersonID), ActorName: actor.Name, Action: AuditRoleRevoked, SubjectID: &personID, Details: role})
}
