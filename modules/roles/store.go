package roles

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	kratos "github.com/ory/kratos-client-go"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"kportal/modules/apperr"
	"kportal/modules/identity"
	"kportal/modules/web"
	"kportal/storage"
	"kportal/tenants"
)

// Identities creates the Kratos identity of a person who has none yet (an
// *identity.Kratos).
type Identities interface {
	EnsureIdentity(ctx context.Context, email, given, family, password string) (*kratos.Identity, error)
}

// Store reads and changes a tenant's people, roles and relations. Every query
// runs in tenants.WithTenantTx, so row-level security sees one tenant only.
type Store struct {
	db  bun.IDB
	ids Identities
}

// NewStore returns a store on db (the application role) creating identities with ids.
func NewStore(db bun.IDB, ids Identities) *Store { return &Store{db: db, ids: ids} }

// Member is a person of a tenant, with what they are there.
type Member struct {
	ID         uuid.UUID `bun:"id"`
	Email      string    `bun:"email"`
	GivenName  string    `bun:"given_name"`
	FamilyName string    `bun:"family_name"`
	HPR        string    `bun:"hpr_number"`
	HPRSource  string    `bun:"hpr_source"` // HPRTyped, HPRFromHelseID, "" without a number
	Roles      []string  `bun:"roles,array"`

	Leder, Veileder *tenants.Relation
	Supervisors     []tenants.Relation
	// Follows: the LIS this person is leder, veileder or supervisor of.
	Follows        []tenants.Relation
	LISSpecialties []string
	UAOSpecialties []string
}

// Name is the person's full name, or their e-mail when they have none.
func (m *Member) Name() string {
	if n := strings.TrimSpace(m.GivenName + " " + m.FamilyName); n != "" {
		return n
	}
	return m.Email
}

// Has reports whether the person holds role in the tenant.
func (m *Member) Has(role string) bool { return slices.Contains(m.Roles, role) }

// IsLIS reports whether the person is a LIS in the tenant.
func (m *Member) IsLIS() bool { return m.Has("lis") }

// ListLimit is how many people the list shows at most; a search finds the rest.
const ListLimit = 500

const memberColumns = `p.id, p.email, p.given_name, p.family_name, coalesce(p.hpr_number, '') AS hpr_number,
	coalesce(p.hpr_source, '') AS hpr_source, array_agg(m.role ORDER BY m.role) AS roles`

// Members lists the tenant's people (those with a membership), with their
// roles, relations and specialties; q searches name, e-mail and HPR number.
func (s *Store) Members(ctx context.Context, tenantID uuid.UUID, q string) ([]Member, error) {
	var out []Member
	err := tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		sel := tx.NewSelect().TableExpr("memberships AS m").Join("JOIN people AS p ON p.id = m.person_id").
			ColumnExpr(memberColumns).Where("m.tenant_id = ?", tenantID).
			GroupExpr("p.id").OrderExpr("lower(p.family_name), lower(p.given_name), p.email").Limit(ListLimit + 1)
		if q = strings.TrimSpace(q); q != "" {
			like := storage.Contains(q)
			sel = sel.Where("(p.given_name || ' ' || p.family_name ILIKE ? OR p.email ILIKE ? OR p.hpr_number = ?)", like, like, q)
		}
		return sel.Scan(ctx, &out)
	})
	if err != nil {
		return nil, err
	}
	return out, s.fill(ctx, tenantID, out)
}

// Member returns one person of the tenant; NotFound when they hold no role
// there (a person of another tenant is not visible by id).
func (s *Store) Member(ctx context.Context, tenantID, personID uuid.UUID) (*Member, error) {
	var out []Member
	err := tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewSelect().TableExpr("memberships AS m").Join("JOIN people AS p ON p.id = m.person_id").
			ColumnExpr(memberColumns).Where("m.tenant_id = ? AND m.person_id = ?", tenantID, personID).
			GroupExpr("p.id").Scan(ctx, &out)
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, apperr.New(apperr.NotFound, "Personen finnes ikke i virksomheten.")
	}
	if err := s.fill(ctx, tenantID, out); err != nil {
		return nil, err
	}
	return &out[0], nil
}

// fill adds relations and specialties to members, and sorts their roles.
func (s *Store) fill(ctx context.Context, tenantID uuid.UUID, ms []Member) error {
	if len(ms) == 0 {
		return nil
	}
	idx := map[uuid.UUID]*Member{}
	for i := range ms {
		m := &ms[i]
		sort.Slice(m.Roles, func(a, b int) bool { return roleOrder(m.Roles[a]) < roleOrder(m.Roles[b]) })
		idx[m.ID] = m
	}
	rels, err := tenants.TenantRelations(ctx, s.db, tenantID)
	if err != nil {
		return err
	}
	for _, r := range rels {
		if m := idx[r.LisID]; m != nil {
			switch r.Kind {
			case tenants.RelLeder:
				m.Leder = &r
			case tenants.RelVeileder:
				m.Veileder = &r
			default:
				m.Supervisors = append(m.Supervisors, r)
			}
		}
		if m := idx[r.PersonID]; m != nil {
			m.Follows = append(m.Follows, r)
		}
	}
	var specs []struct {
		PersonID  uuid.UUID `bun:"person_id"`
		Role      string    `bun:"role"`
		Specialty string    `bun:"specialty"`
	}
	err = tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewSelect().Table("person_specialties").Column("person_id", "role", "specialty").
			Where("tenant_id = ?", tenantID).Order("specialty").Scan(ctx, &specs)
	})
	if err != nil {
		return err
	}
	for _, sp := range specs {
		if m := idx[sp.PersonID]; m != nil {
			if sp.Role == "lis" {
				m.LISSpecialties = append(m.LISSpecialties, sp.Specialty)
			} else {
				m.UAOSpecialties = append(m.UAOSpecialties, sp.Specialty)
			}
		}
	}
	return nil
}

// Person is someone in a choice list.
type Person struct {
	ID    uuid.UUID `bun:"id"`
	Name  string    `bun:"name"`
	Email string    `bun:"email"`
}

// Holders lists the tenant's people holding role, by name.
func (s *Store) Holders(ctx context.Context, tenantID uuid.UUID, role string) ([]Person, error) {
	var out []Person
	err := tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw(`SELECT p.id, coalesce(nullif(trim(p.given_name || ' ' || p.family_name), ''), p.email) AS name, p.email
			FROM memberships m JOIN people p ON p.id = m.person_id
			WHERE m.tenant_id = ? AND m.role = ? ORDER BY lower(p.family_name), lower(p.given_name), p.email`, tenantID, role).Scan(ctx, &out)
	})
	return out, err
}

// rolesOf returns the person's roles in the tenant in force in tx.
func rolesOf(ctx context.Context, tx bun.Tx, tenantID, personID uuid.UUID) ([]string, error) {
	var roles []string
	err := tx.NewSelect().Table("memberships").Column("role").Where("tenant_id = ? AND person_id = ?", tenantID, personID).Scan(ctx, &roles)
	return roles, err
}

// inTenant loads the person's roles and answers NotFound when they have none
// in the tenant: every change to a person starts here.
func inTenant(ctx context.Context, tx bun.Tx, tenantID, personID uuid.UUID) ([]string, error) {
	roles, err := rolesOf(ctx, tx, tenantID, personID)
	if err != nil {
		return nil, err
	}
	if len(roles) == 0 {
		return nil, apperr.New(apperr.NotFound, "Personen finnes ikke i virksomheten.")
	}
	return roles, nil
}

// lockTenant serialises changes to one tenant's roles, so two admins cannot
// both remove the last administrator.
func lockTenant(ctx context.Context, tx bun.Tx, tenantID uuid.UUID) error {
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext(?))", "roles:"+tenantID.String())
	return err
}

func scope(tenantID uuid.UUID, actor tenants.Actor) tenants.Scope {
	return tenants.Scope{TenantID: tenantID, PersonID: actor.PersonID}
}

// SetRoles gives the person exactly roles in the tenant (granting and
// revoking the difference; each change is audited). Taking the last
// administrator's role is refused. With no roles left, the person leaves the
// tenant.
func (s *Store) SetRoles(ctx context.Context, tenantID uuid.UUID, actor tenants.Actor, personID uuid.UUID, roles []string) error {
	for _, r := range roles {
		if !tenants.IsTenantRole(r) {
			return apperr.InvalidFields(map[string]string{"roles": fmt.Sprintf("Ukjent rolle %q.", r)})
		}
	}
	return tenants.WithTenantTx(ctx, s.db, scope(tenantID, actor), func(ctx context.Context, tx bun.Tx) error {
		if err := lockTenant(ctx, tx, tenantID); err != nil {
			return err
		}
		had, err := inTenant(ctx, tx, tenantID, personID)
		if err != nil {
			return err
		}
		if slices.Contains(had, "tenant_admin") && !slices.Contains(roles, "tenant_admin") {
			var others int
			if err := tx.NewRaw("SELECT count(*) FROM memberships WHERE tenant_id = ? AND role = 'tenant_admin' AND person_id <> ?", tenantID, personID).Scan(ctx, &others); err != nil {
				return err
			}
			if others == 0 {
				return apperr.InvalidFields(map[string]string{"roles": "Virksomheten må ha minst én administrator. Gi rollen til en annen før du tar den fra denne personen."})
			}
		}
		for _, r := range tenants.TenantRoles {
			switch {
			case slices.Contains(roles, r) && !slices.Contains(had, r):
				err = tenants.GrantRole(ctx, tx, tenantID, personID, r, actor)
			case !slices.Contains(roles, r) && slices.Contains(had, r):
				err = tenants.RevokeRole(ctx, tx, tenantID, personID, r, actor)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// SetHPR sets (or, with "", removes) the person's HPR number. It is one
// number per person in all of kportal: a number another person has is refused.
func (s *Store) SetHPR(ctx context.Context, tenantID uuid.UUID, actor tenants.Actor, personID uuid.UUID, hpr string) error {
	hpr, msg := CheckHPR(hpr)
	if msg != "" {
		return apperr.InvalidFields(map[string]string{"hpr": msg})
	}
	return tenants.WithTenantTx(ctx, s.db, scope(tenantID, actor), func(ctx context.Context, tx bun.Tx) error {
		if _, err := inTenant(ctx, tx, tenantID, personID); err != nil {
			return err
		}
		return setHPR(ctx, tx, tenantID, actor, personID, hpr, true)
	})
}

// setHPR changes the HPR number in tx and audits it; unset tells whether an
// empty hpr removes the number (the person page) or leaves it (imports).
func setHPR(ctx context.Context, tx bun.Tx, tenantID uuid.UUID, actor tenants.Actor, personID uuid.UUID, hpr string, unset bool) error {
	if hpr == "" && !unset {
		return nil
	}
	var old, source string
	if err := tx.NewRaw("SELECT coalesce(hpr_number, ''), coalesce(hpr_source, '') FROM people WHERE id = ? FOR UPDATE", personID).Scan(ctx, &old, &source); err != nil {
		return err
	}
	if old == hpr {
		return nil
	}
	// A number from HelseID is the person's own, proven at sign-in: a typed
	// one never replaces or removes it (the database refuses it too).
	if source == HPRFromHelseID {
		return apperr.InvalidFields(map[string]string{"hpr": fmt.Sprintf("HPR-nummeret %s kommer fra HelseID og kan ikke endres eller fjernes her.", old)})
	}
	if hpr != "" {
		var taken bool
		if err := tx.NewRaw("SELECT EXISTS (SELECT 1 FROM people WHERE hpr_number = ? AND id <> ?)", hpr, personID).Scan(ctx, &taken); err != nil {
			return err
		}
		if taken {
			return hprTaken(hpr)
		}
	}
	if _, err := tx.ExecContext(ctx, "UPDATE people SET hpr_number = nullif(?0, ''), hpr_source = CASE WHEN ?0 = '' THEN NULL ELSE 'typed' END WHERE id = ?1",
		hpr, personID); err != nil {
		if isHPRClash(err) {
			return hprTaken(hpr)
		}
		return err
	}
	details := "HPR-nummer satt til " + hpr
	switch {
	case hpr == "":
		details = "HPR-nummer " + old + " fjernet"
	case old != "":
		details = "HPR-nummer endret fra " + old + " til " + hpr
	}
	return tenants.Audit(ctx, tx, &tenants.AuditEntry{TenantID: tenantID, ActorID: actorID(actor), ActorName: actor.Name,
		Action: tenants.AuditPersonDetailsEdited, SubjectID: &personID, Details: details})
}

// Where an HPR number came from (people.hpr_source).
const (
	HPRTyped       = "typed"   // typed by a tenant administrator (or imported)
	HPRFromHelseID = "helseid" // from the person's HelseID sign-in
)

func hprTaken(hpr string) error {
	return apperr.InvalidFields(map[string]string{"hpr": fmt.Sprintf("HPR-nummeret %s er allerede registrert på en annen person i kportal.", hpr)})
}

// isHPRClash: a concurrent change gave the number to someone else.
func isHPRClash(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && strings.Contains(pe.ConstraintName, "hpr")
}

func actorID(a tenants.Actor) *uuid.UUID {
	if a.PersonID == uuid.Nil {
		return nil
	}
	return &a.PersonID
}

// holds reports whether person holds role in the tenant in force in tx.
func holds(ctx context.Context, tx bun.Tx, tenantID, personID uuid.UUID, role string) (bool, error) {
	var ok bool
	err := tx.NewRaw("SELECT EXISTS (SELECT 1 FROM memberships WHERE tenant_id = ? AND person_id = ? AND role = ?)", tenantID, personID, role).Scan(ctx, &ok)
	return ok, err
}

// SetLeaders sets the LIS's leder and veileder (uuid.Nil removes one). Each
// must already hold that role in the tenant.
func (s *Store) SetLeaders(ctx context.Context, tenantID uuid.UUID, actor tenants.Actor, lisID, lederID, veilederID uuid.UUID) error {
	return tenants.WithTenantTx(ctx, s.db, scope(tenantID, actor), func(ctx context.Context, tx bun.Tx) error {
		roles, err := inTenant(ctx, tx, tenantID, lisID)
		if err != nil {
			return err
		}
		if !slices.Contains(roles, "lis") {
			return apperr.New(apperr.Invalid, "Bare en LIS har leder og veileder. Gi personen rollen LIS først.")
		}
		fields := map[string]string{}
		for _, want := range []struct {
			kind string
			id   uuid.UUID
		}{{tenants.RelLeder, lederID}, {tenants.RelVeileder, veilederID}} {
			var current []uuid.UUID
			if err := tx.NewSelect().Table("relations").Column("person_id").Where("tenant_id = ? AND lis_id = ? AND kind = ?", tenantID, lisID, want.kind).Scan(ctx, &current); err != nil {
				return err
			}
			if want.id == uuid.Nil {
				for _, c := range current {
					if err := tenants.RemoveRelation(ctx, tx, tenantID, lisID, want.kind, c, actor); err != nil {
						return err
					}
				}
				continue
			}
			if slices.Contains(current, want.id) {
				continue
			}
			if err := checkHolder(ctx, tx, tenantID, lisID, want.id, want.kind, fields); err != nil {
				return err
			}
			if fields[want.kind] != "" {
				continue
			}
			// SetRelation replaces the old leder or veileder; its removal is
			// recorded here, as SetRelation does not.
			for _, c := range current {
				if err := tenants.RemoveRelation(ctx, tx, tenantID, lisID, want.kind, c, actor); err != nil {
					return err
				}
			}
			if err := tenants.SetRelation(ctx, tx, tenantID, lisID, want.kind, want.id, actor); err != nil {
				return err
			}
		}
		return apperr.InvalidFields(fields)
	})
}

// checkHolder records in fields why person cannot be the LIS's kind, if so.
func checkHolder(ctx context.Context, tx bun.Tx, tenantID, lisID, personID uuid.UUID, kind string, fields map[string]string) error {
	label := strings.ToLower(web.RoleName(kind))
	if personID == lisID {
		fields[kind] = "En LIS kan ikke være sin egen " + label + "."
		return nil
	}
	ok, err := holds(ctx, tx, tenantID, personID, kind)
	if err != nil {
		return err
	}
	if !ok {
		fields[kind] = "Velg en person som har rollen " + label + " i virksomheten."
	}
	return nil
}

// AddSupervisor makes a person with the supervisor role a supervisor of the LIS.
func (s *Store) AddSupervisor(ctx context.Context, tenantID uuid.UUID, actor tenants.Actor, lisID, supervisorID uuid.UUID) error {
	return tenants.WithTenantTx(ctx, s.db, scope(tenantID, actor), func(ctx context.Context, tx bun.Tx) error {
		roles, err := inTenant(ctx, tx, tenantID, lisID)
		if err != nil {
			return err
		}
		if !slices.Contains(roles, "lis") {
			return apperr.New(apperr.Invalid, "Bare en LIS har supervisører. Gi personen rollen LIS først.")
		}
		fields := map[string]string{}
		if err := checkHolder(ctx, tx, tenantID, lisID, supervisorID, tenants.RelSupervisor, fields); err != nil {
			return err
		}
		if len(fields) > 0 {
			return apperr.InvalidFields(fields)
		}
		return tenants.SetRelation(ctx, tx, tenantID, lisID, tenants.RelSupervisor, supervisorID, actor)
	})
}

// RemoveSupervisor ends a supervisor relation of the LIS.
func (s *Store) RemoveSupervisor(ctx context.Context, tenantID uuid.UUID, actor tenants.Actor, lisID, supervisorID uuid.UUID) error {
	return tenants.WithTenantTx(ctx, s.db, scope(tenantID, actor), func(ctx context.Context, tx bun.Tx) error {
		if _, err := inTenant(ctx, tx, tenantID, lisID); err != nil {
			return err
		}
		return tenants.RemoveRelation(ctx, tx, tenantID, lisID, tenants.RelSupervisor, supervisorID, actor)
	})
}

// SetSpecialties replaces the specialties the person trains in (as LIS) and
// follows (as UAO); a list is only used when the person has that role.
func (s *Store) SetSpecialties(ctx context.Context, tenantID uuid.UUID, actor tenants.Actor, personID uuid.UUID, lisText, uaoText string) error {
	fields := map[string]string{}
	lis, msg := ParseSpecialties(lisText)
	if msg != "" {
		fields["lis_specialties"] = msg
	}
	uao, msg := ParseSpecialties(uaoText)
	if msg != "" {
		fields["uao_specialties"] = msg
	}
	if err := apperr.InvalidFields(fields); err != nil {
		return err
	}
	return tenants.WithTenantTx(ctx, s.db, scope(tenantID, actor), func(ctx context.Context, tx bun.Tx) error {
		roles, err := inTenant(ctx, tx, tenantID, personID)
		if err != nil {
			return err
		}
		if slices.Contains(roles, "lis") {
			if err := setSpecialties(ctx, tx, tenantID, actor, personID, "lis", lis); err != nil {
				return err
			}
		}
		if slices.Contains(roles, "uao") {
			if err := setSpecialties(ctx, tx, tenantID, actor, personID, "uao", uao); err != nil {
				return err
			}
		}
		return nil
	})
}

// setSpecialties replaces one role's specialties and audits a change.
func setSpecialties(ctx context.Context, tx bun.Tx, tenantID uuid.UUID, actor tenants.Actor, personID uuid.UUID, role string, codes []string) error {
	var old []string
	if err := tx.NewSelect().Table("person_specialties").Column("specialty").
		Where("tenant_id = ? AND person_id = ? AND role = ?", tenantID, personID, role).Order("specialty").Scan(ctx, &old); err != nil {
		return err
	}
	sorted := slices.Clone(codes)
	slices.Sort(sorted)
	if slices.Equal(old, sorted) {
		return nil
	}
	if err := tenants.SetSpecialties(ctx, tx, tenantID, personID, role, sorted); err != nil {
		return err
	}
	what := "Spesialiteter som LIS: "
	if role == "uao" {
		what = "Spesialiteter som UAO følger: "
	}
	list := strings.Join(sorted, ", ")
	if list == "" {
		list = "ingen"
	}
	return tenants.Audit(ctx, tx, &tenants.AuditEntry{TenantID: tenantID, ActorID: actorID(actor), ActorName: actor.Name,
		Action: tenants.AuditPersonDetailsEdited, SubjectID: &personID, Details: what + list})
}

// loadDirectory reads what kportal knows of the people an import names:
// their roles in the tenant, who has the import's HPR numbers, and the
// person rows that exist already.
func loadDirectory(ctx context.Context, tx bun.Tx, tenantID uuid.UUID, rows []ImportRow) (Directory, map[string]known, error) {
	emails, hprs := emailsAndHPRs(rows)
	dir := Directory{Roles: map[string][]string{}, HPR: map[string]string{}}
	people := map[string]known{}
	if len(emails) > 0 {
		var ps []struct {
			ID    uuid.UUID `bun:"id"`
			Email string    `bun:"email"`
			HPR   string    `bun:"hpr_number"`
			Roles []string  `bun:"roles,array"`
		}
		if err := tx.NewRaw(`SELECT p.id, lower(p.email) AS email, coalesce(p.hpr_number, '') AS hpr_number,
				coalesce(array_agg(m.role) FILTER (WHERE m.role IS NOT NULL), '{}') AS roles
			FROM people p LEFT JOIN memberships m ON m.person_id = p.id AND m.tenant_id = ?
			WHERE lower(p.email) = ANY(?) GROUP BY p.id`, tenantID, pgdialect.Array(emails)).Scan(ctx, &ps); err != nil {
			return dir, nil, err
		}
		for _, p := range ps {
			people[p.Email] = known{ID: p.ID, HPR: p.HPR, Roles: p.Roles}
			if len(p.Roles) > 0 {
				dir.Roles[p.Email] = p.Roles
			}
		}
	}
	if len(hprs) > 0 {
		var hs []struct {
			HPR   string `bun:"hpr_number"`
			Email string `bun:"email"`
		}
		if err := tx.NewRaw("SELECT hpr_number, lower(email) AS email FROM people WHERE hpr_number = ANY(?)", pgdialect.Array(hprs)).Scan(ctx, &hs); err != nil {
			return dir, nil, err
		}
		for _, h := range hs {
			dir.HPR[h.HPR] = h.Email
		}
	}
	return dir, people, nil
}

// known is a person row that exists already.
type known struct {
	ID    uuid.UUID
	HPR   string
	Roles []string // in the tenant
}

// ImportResult is what an import did.
type ImportResult struct {
	PeopleAdded  int                  // people who had no role in the tenant before
	RolesGranted int                  // roles given (not counting ones held already)
	IDs          map[string]uuid.UUID // e-mail → person
}

// Import sources, for the audit log.
const (
	SourceCSV  = "csv"
	SourceForm = "form"
)

// identityWorkers is how many Kratos identities are created at once.
const identityWorkers = 4

// Import adds the rows' people to the tenant: each gets a Kratos identity
// (created without a password when missing: they sign in with an e-mail code
// or by recovery), a person row, HPR number, roles, leder and veileder, and
// specialties. Rows are checked first; with any problem nothing is written
// and the problems are returned. Otherwise every database write is one
// transaction.
func (s *Store) Import(ctx context.Context, tenantID uuid.UUID, actor tenants.Actor, rows []ImportRow, source string) (*ImportResult, []Problem, error) {
	var people map[string]known
	var problems []Problem
	err := tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		dir, p, err := loadDirectory(ctx, tx, tenantID, rows)
		people = p
		if err == nil {
			rows, problems = CheckRows(rows, dir)
		}
		return err
	})
	if err != nil || problems != nil {
		return nil, problems, err
	}

	// Kratos identities come before the database transaction: Kratos is not
	// part of it. Creating an identity is harmless if the transaction then
	// fails: without a person row and memberships it reaches nothing, and the
	// next import finds and reuses it (EnsureIdentity looks it up first).
	idents, err := s.ensureIdentities(ctx, rows, people)
	if err != nil {
		return nil, nil, err
	}

	res := &ImportResult{IDs: map[string]uuid.UUID{}}
	err = tenants.WithTenantTx(ctx, s.db, scope(tenantID, actor), func(ctx context.Context, tx bun.Tx) error {
		if err := lockTenant(ctx, tx, tenantID); err != nil {
			return err
		}
		// Check again inside the transaction: others may have changed roles or
		// HPR numbers since.
		dir, people, err := loadDirectory(ctx, tx, tenantID, rows)
		if err != nil {
			return err
		}
		if rows, problems = CheckRows(rows, dir); problems != nil {
			return errProblems
		}
		for _, r := range rows {
			p, ok := people[r.Email]
			if !ok {
				id := idents[r.Email]
				if id == nil {
					return fmt.Errorf("no identity for %s", r.Email)
				}
				if p.ID, err = identity.EnsurePerson(ctx, tx, uuid.MustParse(id.Id), identity.TraitsOf(id)); err != nil {
					return err
				}
			}
			res.IDs[r.Email] = p.ID
			if len(p.Roles) == 0 {
				res.PeopleAdded++
			}
			if err := setHPR(ctx, tx, tenantID, actor, p.ID, r.HPR, false); err != nil {
				return err
			}
			for _, role := range r.Roles {
				if slices.Contains(p.Roles, role) {
					continue
				}
				if err := tenants.GrantRole(ctx, tx, tenantID, p.ID, role, actor); err != nil {
					return err
				}
				res.RolesGranted++
			}
			if source == SourceCSV {
				details := "Fra CSV-fil, linje " + fmt.Sprint(r.Line) + ": " + web.RoleNames(r.Roles)
				if r.HPR != "" {
					details += ", HPR-nummer " + r.HPR
				}
				if err := tenants.Audit(ctx, tx, &tenants.AuditEntry{TenantID: tenantID, ActorID: actorID(actor), ActorName: actor.Name,
					Action: tenants.AuditPersonImported, SubjectID: &p.ID, SubjectName: r.Email, Details: details}); err != nil {
					return err
				}
			}
			if r.lisCodes != nil {
				if err := setSpecialties(ctx, tx, tenantID, actor, p.ID, "lis", r.lisCodes); err != nil {
					return err
				}
			}
			if r.uaoCodes != nil {
				if err := setSpecialties(ctx, tx, tenantID, actor, p.ID, "uao", r.uaoCodes); err != nil {
					return err
				}
			}
		}
		// Relations last, when every person of the file exists.
		idOf := func(email string) uuid.UUID {
			if id, ok := res.IDs[email]; ok {
				return id
			}
			return people[email].ID
		}
		for _, r := range rows {
			for _, rel := range []struct{ kind, email string }{{tenants.RelLeder, r.LederEmail}, {tenants.RelVeileder, r.VeilederEmail}} {
				if rel.email == "" {
					continue
				}
				if err := tenants.SetRelation(ctx, tx, tenantID, res.IDs[r.Email], rel.kind, idOf(rel.email), actor); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if errors.Is(err, errProblems) {
		return nil, problems, nil
	}
	if isHPRClash(err) {
		return nil, []Problem{{Field: "hpr", Message: "Et HPR-nummer i importen ble nettopp registrert på en annen person. Ingenting er importert; prøv igjen."}}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return res, nil, nil
}

var errProblems = errors.New("import has problems")

// ensureIdentities finds or creates the Kratos identity of every row whose
// person row does not exist yet, a few at a time.
func (s *Store) ensureIdentities(ctx context.Context, rows []ImportRow, people map[string]known) (map[string]*kratos.Identity, error) {
	var missing []ImportRow
	for _, r := range rows {
		if _, ok := people[r.Email]; !ok {
			missing = append(missing, r)
		}
	}
	out := make(map[string]*kratos.Identity, len(missing))
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan ImportRow)
	for range min(identityWorkers, len(missing)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range work {
				id, err := s.ids.EnsureIdentity(ctx, r.Email, r.GivenName, r.FamilyName, "")
				mu.Lock()
				if err != nil && first == nil {
					first = err
					cancel()
				}
				out[r.Email] = id
				mu.Unlock()
			}
		}()
	}
	for _, r := range missing {
		if ctx.Err() != nil {
			break
		}
		work <- r
	}
	close(work)
	wg.Wait()
	if first != nil {
		return nil, apperr.Wrap(first, apperr.Unavailable, "Brukerkontoene kunne ikke opprettes akkurat nå. Ingenting er importert; prøv igjen om litt.")
	}
	return out, nil
}

// AuditNames maps the person ids an audit page mentions to names.
func (s *Store) AuditNames(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]string, error) {
	out := map[uuid.UUID]string{}
	if len(ids) == 0 {
		return out, nil
	}
	var ps []Person
	if err := s.db.NewRaw(`SELECT id, coalesce(nullif(trim(given_name || ' ' || family_name), ''), email) AS name, email
		FROM people WHERE id IN (?)`, bun.In(ids)).Scan(ctx, &ps); err != nil {
		return nil, err
	}
	for _, p := range ps {
		out[p.ID] = p.Name
	}
	return out, nil
}
