package modules

import (
	"context"

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
