package tenants

import (
	"context"
	"fmt"

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

// PlatformRolesOf lists a person's platform roles.
func PlatformRolesOf(ctx context.Context, db bun.IDB, personID uuid.UUID) ([]PlatformRole, error) {
	var out []PlatformRole
	err := storage.Select(ctx, db, &out, `SELECT role, coalesce(rhf_code, '') AS rhf_code FROM platform_roles
		WHERE person_id = ? ORDER BY role, rhf_code`, personID)
	return out, err
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
