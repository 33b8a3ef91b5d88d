// Package policies holds kportal's authorization: the Casbin model, the
// permission rules modules declare, and the enforcer the HTTP layer asks.
package policies

import (
	_ "embed"
	"fmt"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
)

//go:embed model.conf
var modelText string

// AllTenants is the domain of rules that hold in every tenant.
const AllTenants = "*"

// Rule lets a role do an action on an object type in every tenant.
type Rule struct {
	Role   string // lis, leder, veileder, supervisor, uao, tenant_admin, ...
	Object string // e.g. "activity"
	Action string // e.g. "sign"
}

// Enforcer answers "may this person do this in this tenant".
type Enforcer struct {
	e *casbin.SyncedEnforcer
}

// NewEnforcer builds an enforcer holding rules (role assignments are added later).
func NewEnforcer(rules []Rule) (*Enforcer, error) {
	m, err := model.NewModelFromString(modelText)
	if err != nil {
		return nil, fmt.Errorf("casbin model: %w", err)
	}
	e, err := casbin.NewSyncedEnforcer(m)
	if err != nil {
		return nil, err
	}
	for _, r := range rules {
		if _, err := e.AddPolicy(r.Role, AllTenants, r.Object, r.Action); err != nil {
			return nil, err
		}
	}
	return &Enforcer{e: e}, nil
}

// Assign gives person a role in tenant.
func (x *Enforcer) Assign(person, role, tenant string) error {
	_, err := x.e.AddRoleForUserInDomain(person, role, tenant)
	return err
}

// Allowed reports whether person may do act on obj in tenant, either through a
// role assigned in the enforcer or through one of roles (the person's
// memberships in the tenant, which live in kportal's database).
func (x *Enforcer) Allowed(person string, roles []string, tenant, obj, act string) (bool, error) {
	for _, sub := range append([]string{person}, roles...) {
		ok, err := x.e.Enforce(sub, tenant, obj, act)
		if ok || err != nil {
			return ok, err
		}
	}
	return false, nil
}
