package tenants

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/apperr"
)

// Reach is which organisations a person may onboard, suspend and look after
// through their platform roles: an RHF admin the helseforetak and private
// providers of their RHF, Helsedirektoratet the kommuner and the private
// providers outside the RHFs, a platform admin everything.
type Reach struct {
	All      bool
	RHFs     []string
	Kommuner bool
}

// ReachOf derives the reach of a set of platform roles.
func ReachOf(roles []PlatformRole) Reach {
	var r Reach
	for _, pr := range roles {
		switch pr.Role {
		case RolePlatformAdmin:
			r.All = true
		case RoleRHFAdmin:
			r.RHFs = append(r.RHFs, pr.RHF)
		case RoleHdir:
			r.Kommuner = true
		}
	}
	return r
}

// Empty is true when the reach covers nothing.
func (r Reach) Empty() bool { return !r.All && !r.Kommuner && len(r.RHFs) == 0 }

// Covers reports whether an organisation of kind with RHF code rhf is within reach.
func (r Reach) Covers(kind Kind, rhf string) bool {
	if kind == KindNational {
		return false
	}
	if r.All {
		return true
	}
	if r.Kommuner && (kind == KindKommune || kind == KindPrivate && rhf == "") {
		return true
	}
	if kind == KindHF || kind == KindPrivate {
		for _, c := range r.RHFs {
			if c == rhf && rhf != "" {
				return true
			}
		}
	}
	return false
}

// filter limits a query on a table with kind and rhf_code columns (tenants,
// org_registry) to the reach.
func (r Reach) filter(q *bun.SelectQuery, alias string) *bun.SelectQuery {
	if r.All {
		return q.Where(alias + ".kind <> 'national'")
	}
	return q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
		q = q.Where("false")
		if r.Kommuner {
			q = q.WhereOr(alias + ".kind = 'kommune'").WhereOr(alias + ".kind = 'private' AND " + alias + ".rhf_code IS NULL")
		}
		if len(r.RHFs) > 0 {
			q = q.WhereOr(alias+".kind IN ('hf', 'private') AND "+alias+".rhf_code IN (?)", bun.In(r.RHFs))
		}
		return q
	})
}

// RegistryOrg is an organisation of the reference data.
type RegistryOrg struct {
	bun.BaseModel `bun:"table:org_registry,alias:o"`

	ID            uuid.UUID `bun:"id,pk,type:uuid"`
	Kind          Kind      `bun:"kind"`
	Name          string    `bun:"name"`
	Orgnr         string    `bun:"orgnr,nullzero"`
	Kommunenummer string    `bun:"kommunenummer,nullzero"`
	RHFCode       string    `bun:"rhf_code,nullzero"`
	Category      string    `bun:"category"`
	Fylke         string    `bun:"fylke"`
}

// Label is how the organisation is shown in a list.
func (o RegistryOrg) Label() string {
	switch {
	case o.Kommunenummer != "":
		return fmt.Sprintf("%s (%s)", o.Name, o.Kommunenummer)
	case o.Orgnr != "":
		return fmt.Sprintf("%s (%s)", o.Name, o.Orgnr)
	}
	return o.Name
}

// Available lists the organisations of the reference data within reach that
// are not tenants yet.
func Available(ctx context.Context, db bun.IDB, r Reach) ([]RegistryOrg, error) {
	var out []RegistryOrg
	q := db.NewSelect().Model(&out).
		Where("NOT EXISTS (SELECT 1 FROM tenants t WHERE t.registry_id = o.id)").
		OrderExpr("o.kind, o.name")
	err := r.filter(q, "o").Scan(ctx)
	return out, err
}

// InReach lists the tenants within reach, by name.
func InReach(ctx context.Context, db bun.IDB, r Reach) ([]Tenant, error) {
	var out []Tenant
	q := db.NewSelect().Model(&out).OrderExpr("tenant.name")
	err := r.filter(q, "tenant").Scan(ctx)
	return out, err
}

// InReachByID returns one tenant within reach; outside it, not found (so an
// RHF admin learns nothing about another RHF's foretak).
func InReachByID(ctx context.Context, db bun.IDB, r Reach, id uuid.UUID) (*Tenant, error) {
	t := new(Tenant)
	err := db.NewSelect().Model(t).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) || err == nil && !r.Covers(t.Kind, t.RHFCode) {
		return nil, apperr.Default(apperr.NotFound)
	}
	return t, err
}

// Onboarding is a new tenant and its first administrator.
type Onboarding struct {
	RegistryID string // an organisation of the reference data, or empty to type one in
	Name       string
	Orgnr      string
	RHFCode    string
	Slug       string // derived from the name when empty
	AdminEmail string
}

// Actor is who does something, for the record.
type Actor struct {
	PersonID uuid.UUID
	Name     string
}

var slugRe = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Slugify makes a URL slug of a name: lower case, æøå spelt out, dashes.
func Slugify(name string) string {
	r := strings.NewReplacer("æ", "ae", "ø", "o", "å", "a", "á", "a", "é", "e", "š", "s", "č", "c", "đ", "d", "ŋ", "n", "ž", "z", "ŧ", "t")
	s := r.Replace(strings.ToLower(name))
	var b strings.Builder
	dash := false
	for _, c := range s {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.TrimSuffix(b.String(), "-")
	if len(out) > 63 {
		out = strings.TrimSuffix(out[:63], "-")
	}
	return out
}

// Onboard creates a tenant, pending until its first administrator accepts the
// invitation, and the invitation; it returns the tenant and the link's token.
// Every problem with the input is reported per field and nothing is written.
func Onboard(ctx context.Context, db bun.IDB, r Reach, by Actor, o Onboarding) (*Tenant, *Invitation, string, error) {
	bad := map[string]string{}
	t := &Tenant{ID: uuid.New(), Status: StatusPending}
	if o.RegistryID != "" {
		org := new(RegistryOrg)
		id, err := uuid.Parse(o.RegistryID)
		if err == nil {
			err = db.NewSelect().Model(org).Where("o.id = ?", id).Scan(ctx)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return nil, nil, "", err
			}
		}
		switch {
		case err != nil || !r.Covers(org.Kind, org.RHFCode):
			bad["registry_id"] = "Velg en virksomhet fra listen."
		case org.Orgnr == "":
			bad["registry_id"] = fmt.Sprintf("%s har ikke organisasjonsnummer i referansedataene ennå, og kan ikke tas i bruk før det er lagt inn.", org.Name)
		default:
			t.Name, t.Kind, t.Orgnr, t.Kommunenummer, t.RHFCode, t.RegistryID = org.Name, org.Kind, org.Orgnr, org.Kommunenummer, org.RHFCode, &org.ID
		}
	} else {
		t.Name, t.Kind, t.Orgnr, t.RHFCode = strings.TrimSpace(o.Name), KindHF, strings.ReplaceAll(strings.TrimSpace(o.Orgnr), " ", ""), o.RHFCode
		if t.RHFCode == "" && len(r.RHFs) == 1 {
			t.RHFCode = r.RHFs[0]
		}
		switch {
		case t.Name == "":
			bad["name"] = "Skriv inn navnet på foretaket."
		case len(t.Name) > 200:
			bad["name"] = "Navnet kan ha høyst 200 tegn."
		}
		if err := CheckOrgnr(t.Orgnr); err != nil {
			bad["orgnr"] = apperr.MessageOf(err)
		}
		if !r.Covers(KindHF, t.RHFCode) {
			bad["rhf_code"] = "Du kan bare opprette foretak i ditt eget regionale helseforetak."
		}
	}
	t.Slug = strings.TrimSpace(strings.ToLower(o.Slug))
	if t.Slug == "" {
		t.Slug = Slugify(t.Name)
	}
	if !slugRe.MatchString(t.Slug) || len(t.Slug) > 63 {
		bad["slug"] = "Adressen kan bare ha små bokstaver a–z, sifre og bindestrek (ikke først eller sist), høyst 63 tegn."
	}
	email, err := CheckEmail(o.AdminEmail)
	if err != nil {
		bad["admin_email"] = apperr.MessageOf(err)
	}
	if len(bad) == 0 {
		// Friendly messages for what the unique constraints would refuse.
		var clash []Tenant
		if err := db.NewSelect().Model(&clash).Where("slug = ? OR (orgnr = ? AND ? <> '')", t.Slug, t.Orgnr, t.Orgnr).Scan(ctx); err != nil {
			return nil, nil, "", err
		}
		for _, c := range clash {
			if c.Slug == t.Slug {
				bad["slug"] = fmt.Sprintf("Adressen «%s» er allerede i bruk. Velg en annen.", t.Slug)
			}
			if c.Orgnr == t.Orgnr {
				bad["orgnr"] = fmt.Sprintf("Organisasjonsnummeret %s er allerede tatt i bruk av %s.", t.Orgnr, c.Name)
				if o.RegistryID != "" {
					bad["registry_id"] = bad["orgnr"]
				}
			}
		}
	}
	if err := apperr.InvalidFields(bad); err != nil {
		return nil, nil, "", err
	}
	if t.RegistryID == nil && t.Orgnr != "" {
		// A foretak typed in by hand may still be in the reference data.
		var ids []uuid.UUID
		if err := db.NewSelect().Table("org_registry").Column("id").Where("orgnr = ?", t.Orgnr).Scan(ctx, &ids); err != nil {
			return nil, nil, "", err
		}
		if len(ids) == 1 {
			t.RegistryID = &ids[0]
		}
	}
	inv := &Invitation{TenantID: t.ID, Email: email, Role: "tenant_admin", InvitedBy: &by.PersonID, InvitedByName: by.Name}
	var token string
	err = WithTenantTx(ctx, db, Scope{TenantID: t.ID, PersonID: by.PersonID}, func(ctx context.Context, tx bun.Tx) error {
		t.OnboardedBy = &by.PersonID
		if _, err := tx.NewInsert().Model(t).Returning("*").Exec(ctx); err != nil {
			if strings.Contains(err.Error(), "23505") {
				return apperr.Wrap(err, apperr.Conflict, "Virksomheten ble nettopp tatt i bruk av noen andre. Last siden på nytt.")
			}
			return err
		}
		var err error
		if token, err = CreateInvitation(ctx, tx, inv); err != nil {
			return err
		}
		return Audit(ctx, tx, &AuditEntry{TenantID: t.ID, ActorID: &by.PersonID, ActorName: by.Name, Action: AuditTenantOnboarded, Details: t.Name})
	})
	if err != nil {
		return nil, nil, "", err
	}
	return t, inv, token, nil
}

// SetSuspended closes a tenant to its users at once; every row stays. Reactivate
// with suspend false opens it again (pending when it never got an administrator).
func SetSuspended(ctx context.Context, db bun.IDB, by Actor, id uuid.UUID, suspend bool, reason string) (*Tenant, error) {
	reason = strings.TrimSpace(reason)
	if suspend && reason == "" {
		return nil, apperr.InvalidFields(map[string]string{"reason": "Skriv hvorfor virksomheten stenges; det vises for administratorene."})
	}
	t := new(Tenant)
	err := WithTenantTx(ctx, db, Scope{TenantID: id}, func(ctx context.Context, tx bun.Tx) error {
		if err := tx.NewSelect().Model(t).Where("id = ?", id).For("UPDATE").Scan(ctx); err != nil {
			return err
		}
		to := StatusSuspended
		if !suspend {
			if t.Status != StatusSuspended {
				return apperr.New(apperr.Conflict, "%s er ikke stengt.", t.Name)
			}
			var admins int
			if err := tx.NewSelect().Table("memberships").ColumnExpr("count(*)").
				Where("tenant_id = ? AND role = 'tenant_admin'", id).Scan(ctx, &admins); err != nil {
				return err
			}
			to, reason = StatusActive, ""
			if admins == 0 {
				to = StatusPending
			}
		} else if t.Status == StatusSuspended {
			return apperr.New(apperr.Conflict, "%s er allerede stengt.", t.Name)
		}
		now := time.Now()
		t.Status, t.StatusReason, t.StatusChangedAt = to, reason, &now
		if _, err := tx.NewUpdate().Model(t).Column("status", "status_reason", "status_changed_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		action := AuditTenantReopened
		if suspend {
			action = AuditTenantSuspended
		}
		return Audit(ctx, tx, &AuditEntry{TenantID: id, ActorID: actorPtr(by.PersonID), ActorName: by.Name, Action: action, Details: reason})
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}
