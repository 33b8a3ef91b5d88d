package modules

import (
	"context"
	"fmt"
	"net/http"
	"sort"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/labstack/echo/v4"
	"github.com/uptrace/bun"

	"kportal/modules/workflow"
	"kportal/policies"
	"kportal/tenants"
	"kportal/workers"
)

// Host holds the registered modules and wires their capabilities.
type Host struct {
	mods   []Module
	byID   map[string]Module
	routes []RouteInfo
	db     bun.IDB
	authz  Authorizer
	// onEnter is told each time a member passes into a tenant (audit).
	onEnter func(ctx context.Context, v *Viewer) error
}

// OnEnter sets what is told when a member passes the guard into a tenant.
func (h *Host) OnEnter(fn func(ctx context.Context, v *Viewer) error) { h.onEnter = fn }

// NewHost returns an empty host. db holds the per-tenant module switches;
// authz decides Need(...) routes.
func NewHost(db bun.IDB, authz Authorizer) *Host {
	return &Host{byID: map[string]Module{}, db: db, authz: authz}
}

// SetAuthorizer sets what decides Need(...) routes (the enforcer is built from
// the rules the modules declare, so it comes after registration).
func (h *Host) SetAuthorizer(a Authorizer) { h.authz = a }

// Register adds modules. IDs must be unique and every required module must
// already be registered, so the order of registration is a valid start order.
func (h *Host) Register(mods ...Module) error {
	for _, m := range mods {
		info := m.Info()
		if info.ID == "" {
			return fmt.Errorf("module %T has no ID", m)
		}
		if _, dup := h.byID[info.ID]; dup {
			return fmt.Errorf("module %q registered twice", info.ID)
		}
		for _, dep := range info.Requires {
			if _, ok := h.byID[dep]; !ok {
				return fmt.Errorf("module %q requires %q, which is not registered before it", info.ID, dep)
			}
		}
		h.byID[info.ID] = m
		h.mods = append(h.mods, m)
	}
	return nil
}

// Modules returns the registered modules in registration order.
func (h *Host) Modules() []Module { return append([]Module(nil), h.mods...) }

// Module returns a registered module by ID.
func (h *Host) Module(id string) (Module, bool) { m, ok := h.byID[id]; return m, ok }

// Mount registers every module's routes on e.
func (h *Host) Mount(e *echo.Echo) {
	for _, m := range h.mods {
		if r, ok := m.(Routes); ok {
			r.Routes(&Router{e: e, module: m.Info(), host: h})
		}
	}
}

// MountProbe registers every module's routes with the real guard in front of
// one handler that answers 204 No Content: the role matrix test reads the
// guard's decision for each route and role without running the handlers.
func (h *Host) MountProbe(e *echo.Echo) {
	probe := func(c echo.Context) error { return c.NoContent(http.StatusNoContent) }
	for _, m := range h.mods {
		if r, ok := m.(Routes); ok {
			r.Routes(&Router{e: e, module: m.Info(), host: h, probe: probe})
		}
	}
}

// Rules collects every module's Casbin rules.
func (h *Host) Rules() []policies.Rule {
	var out []policies.Rule
	for _, m := range h.mods {
		if p, ok := m.(Policies); ok {
			out = append(out, p.Policies()...)
		}
	}
	return out
}

// RegisterTasks lets every module register its job handlers.
func (h *Host) RegisterTasks(mux *asynq.ServeMux) {
	for _, m := range h.mods {
		if t, ok := m.(Tasks); ok {
			t.Tasks(mux)
		}
	}
}

// Workflows collects every module's workflow definitions, keyed by name.
func (h *Host) Workflows() (map[string]*workflow.Def, error) {
	out := map[string]*workflow.Def{}
	for _, m := range h.mods {
		w, ok := m.(Workflows)
		if !ok {
			continue
		}
		for _, d := range w.Workflows() {
			if err := d.Validate(); err != nil {
				return nil, fmt.Errorf("module %q: %w", m.Info().ID, err)
			}
			if _, dup := out[d.Name]; dup {
				return nil, fmt.Errorf("workflow %q defined twice", d.Name)
			}
			out[d.Name] = d
		}
	}
	return out, nil
}

// Nav is the menu for a viewer: entries of every module that is on in the
// viewer's current tenant, in order.
func (h *Host) Nav(ctx context.Context, v *Viewer) []NavItem {
	var out []NavItem
	for _, m := range h.mods {
		n, ok := m.(Nav)
		if !ok {
			continue
		}
		if info := m.Info(); info.Optional && v != nil && v.Tenant != nil {
			if on, err := h.Enabled(ctx, v.Tenant.ID, info.ID); err != nil || !on {
				continue
			}
		}
		for _, item := range n.Nav(v) {
			if item.Action != "" && !h.allowed(v, item.Object, item.Action) {
				continue
			}
			out = append(out, item)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Order < out[j].Order })
	return out
}

// allowed reports whether the viewer may act on obj in their current tenant.
func (h *Host) allowed(v *Viewer, obj, act string) bool {
	if h.authz == nil || v == nil || v.Tenant == nil {
		return false
	}
	ok, err := h.authz.Allowed(v.PersonID.String(), v.RolesIn(v.Tenant.ID), v.Tenant.ID.String(), obj, act)
	return err == nil && ok
}

// Enabled reports whether a module is on in a tenant. Modules that are not
// optional are always on.
func (h *Host) Enabled(ctx context.Context, tenantID uuid.UUID, moduleID string) (bool, error) {
	m, ok := h.byID[moduleID]
	if !ok {
		return false, nil
	}
	info := m.Info()
	if !info.Optional {
		return true, nil
	}
	on := info.DefaultOn
	err := tenants.WithTenantTx(ctx, h.db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		var rows []bool
		if err := tx.NewSelect().Table("tenant_modules").Column("enabled").
			Where("tenant_id = ? AND module_id = ?", tenantID, moduleID).Scan(ctx, &rows); err != nil {
			return err
		}
		if len(rows) == 1 {
			on = rows[0]
		}
		return nil
	})
	return on, err
}

// SetEnabled switches an optional module on or off in a tenant.
func (h *Host) SetEnabled(ctx context.Context, tenantID uuid.UUID, moduleID string, on bool) error {
	m, ok := h.byID[moduleID]
	if !ok || !m.Info().Optional {
		return fmt.Errorf("module %q cannot be switched per tenant", moduleID)
	}
	return tenants.WithTenantTx(ctx, h.db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO tenant_modules (tenant_id, module_id, enabled) VALUES (?, ?, ?)
			ON CONFLICT (tenant_id, module_id) DO UPDATE SET enabled = EXCLUDED.enabled, changed_at = now()`,
			tenantID, moduleID, on)
		return err
	})
}

// Schedules collects every module's periodic jobs.
func (h *Host) Schedules() []workers.Schedule {
	var out []workers.Schedule
	for _, m := range h.mods {
		if s, ok := m.(Schedules); ok {
			out = append(out, s.Schedules()...)
		}
	}
	return out
}
