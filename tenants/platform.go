package tenants

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/storage"
)

// Platform-wide roles: held everywhere, not in one tenant.
const (
	RoleRHFAdmin      = "rhf_admin"      // onboards and suspends foretak of one RHF
	RoleHdir          = "hdir"           // Helsedirektoratet: kommuner, registrations, approved goals
	RolePlatformAdmin = "platform_admin" // runs kportal
)

// PlatformDomain is the Casbin domain in which platform roles are checked.
const PlatformDomain = "platform"

// PlatformRole is one platform-wide role of a person; RHF is set for rhf_admin.
type PlatformRole struct {
	Role string `bun:"role"`
	RHF  string `bun:"rhf_code"`
}

// AccessOf is what a person may reach, read on every request by the session
// middleware: their memberships, by tenant name, and their platform roles, in
// one prepared statement and one round trip. kportal_memberships_of reads the
// memberships under row-level security with the person in force (migration
// …004_memberships_of), so no transaction is needed.
func AccessOf(ctx context.Context, db bun.IDB, personID uuid.UUID) ([]Membership, []PlatformRole, error) {
	var rows []struct {
		Tenant
		Roles    []string `bun:"roles,array"`
		Platform []string `bun:"platform,array"` // role:rhf_code
	}
	err := storage.Select(ctx, db, &rows, `SELECT t.*, m.roles, p.platform
		FROM (SELECT array(SELECT role || ':' || coalesce(rhf_code, '') FROM platform_roles WHERE person_id = ?0 ORDER BY 1) AS platform) AS p
		LEFT JOIN (kportal_memberships_of(?0) AS m JOIN tenants AS t ON t.id = m.tenant_id) ON true
		ORDER BY t.name`, personID)
	if err != nil || len(rows) == 0 {
		return nil, nil, err
	}
	var ms []Membership
	for _, r := range rows {
		if r.Tenant.ID != uuid.Nil {
			ms = append(ms, Membership{Tenant: r.Tenant, Roles: r.Roles})
		}
	}
	prs := make([]PlatformRole, 0, len(rows[0].Platform))
	for _, rp := range rows[0].Platform {
		role, rhf, _ := strings.Cut(rp, ":")
		prs = append(prs, PlatformRole{Role: role, RHF: rhf})
	}
	return ms, prs, nil
}

// GrantPlatformRole gives a person a platform role (idempotent); rhf is the
// RHF code for rhf_admin and empty otherwise.
func GrantPlatformRole(ctx context.Context, db bun.IDB, personID uuid.UUID, role, rhf string) error {
	if (role == RoleRHFAdmin) != (rhf != "") {
		return fmt.Errorf("role %s: an RHF is needed for rhf_admin and only for it", role)
	}
	_, err := db.ExecContext(ctx, `INSERT INTO platform_roles (person_id, role, rhf_code) VALUES (?, ?, nullif(?, ''))
		ON CONFLICT DO NOTHING`, personID, role, rhf)
	return err
}
