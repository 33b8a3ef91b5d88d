package modules

import (
	"context"
	"slices"

	"github.com/google/uuid"

	"kportal/tenants"
)

// Viewer is the signed-in person making a request.
type Viewer struct {
	PersonID    uuid.UUID
	IdentityID  string
	Email       string
	GivenName   string
	FamilyName  string
	Memberships []tenants.Membership
	// PlatformRoles are held everywhere (rhf_admin, hdir, platform_admin).
	PlatformRoles []tenants.PlatformRole
	// Tenant is the tenant named in the URL, when the person is a member of it.
	Tenant *tenants.Tenant
}

// Name is the person's full name, or their e-mail when they have none.
func (v *Viewer) Name() string {
	if v == nil {
		return ""
	}
	if n := v.GivenName + " " + v.FamilyName; n != " " {
		return n
	}
	return v.Email
}

// RolesIn returns the person's roles in a tenant.
func (v *Viewer) RolesIn(tenantID uuid.UUID) []string {
	if v == nil {
		return nil
	}
	for _, m := range v.Memberships {
		if m.Tenant.ID == tenantID {
			return m.Roles
		}
	}
	return nil
}

type viewerKey struct{}

// WithViewer returns a context carrying v.
func WithViewer(ctx context.Context, v *Viewer) context.Context {
	return context.WithValue(ctx, viewerKey{}, v)
}

// ViewerFrom returns the signed-in person, or nil.
func ViewerFrom(ctx context.Context) *Viewer {
	v, _ := ctx.Value(viewerKey{}).(*Viewer)
	return v
}

// PlatformRoleNames returns the names of the person's platform roles.
func (v *Viewer) PlatformRoleNames() []string {
	if v == nil {
		return nil
	}
	out := make([]string, 0, len(v.PlatformRoles))
	for _, r := range v.PlatformRoles {
		out = append(out, r.Role)
	}
	return out
}

// HasPlatformRole reports whether the person holds a platform role.
func (v *Viewer) HasPlatformRole(role string) bool {
	for _, r := range v.PlatformRoleNames() {
		if r == role {
			return true
		}
	}
	return false
}

// AdminOfRHFs lists the RHF codes the person is rhf_admin of.
func (v *Viewer) AdminOfRHFs() []string {
	var out []string
	if v != nil {
		for _, r := range v.PlatformRoles {
			if r.Role == tenants.RoleRHFAdmin {
				out = append(out, r.RHF)
			}
		}
	}
	return out
}

// Holds reports whether the person holds role in the tenant named in the URL
// (false outside a tenant).
func (v *Viewer) Holds(role string) bool {
	return v != nil && v.Tenant != nil && slices.Contains(v.RolesIn(v.Tenant.ID), role)
}
