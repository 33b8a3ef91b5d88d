// Package people shows each person their roles and relations ("Mine roller og
// relasjoner") and lets a leder delegate approval of læringsmål to named
// colleagues. The rules themselves live in tenants (relations, delegations).
package people

import (
	"context"
	"embed"
	"io/fs"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/uptrace/bun"

	"kportal/modules"
	"kportal/modules/apperr"
	"kportal/modules/web"
	"kportal/policies"
	"kportal/tenants"
)

//go:embed templates
var templatesFS embed.FS

// Module is the people module.
type Module struct {
	db    bun.IDB
	pages *web.Pages
	now   func() time.Time
}

// New returns the module.
func New(db bun.IDB, nav web.NavFunc) *Module {
	sub, _ := fs.Sub(templatesFS, "templates")
	return &Module{db: db, pages: web.MustPages(sub, nav), now: time.Now}
}

func (m *Module) Info() modules.Info {
	return modules.Info{ID: "people", Title: "Roller og delegering", Requires: []string{"web"}}
}

func (m *Module) Policies() []policies.Rule {
	// A delegate approves læringsmål as goal_approver (an open delegation makes
	// one, see tenants.Delegate); which LIS is tenants.MayApprove's business.
	return []policies.Rule{
		{Role: "leder", Object: "delegation", Action: "manage"},
		{Role: "leder", Object: "goal", Action: "approve"},
		{Role: "goal_approver", Object: "goal", Action: "approve"},
	}
}

func (m *Module) Routes(r *modules.Router) {
	r.GET("/roller", m.mine, modules.SignedIn())
	manage := modules.Need("delegation", "manage")
	r.GET("/t/:tenant/delegering", m.delegations, manage)
	r.POST("/t/:tenant/delegering", m.delegate, manage)
	r.POST("/t/:tenant/delegering/:id/trekk-tilbake", m.revoke, manage)
}

func (m *Module) Nav(v *modules.Viewer) []modules.NavItem {
	items := []modules.NavItem{{Label: "Mine roller", Href: "/roller", Order: 900}}
	if v.Holds("leder") {
		items = append(items, modules.NavItem{Label: "Delegering", Href: "/t/" + v.Tenant.Slug + "/delegering", Order: 60})
	}
	return items
}

// tenantRoles is one tenant's part of "Mine roller og relasjoner".
type tenantRoles struct {
	Tenant      tenants.Tenant
	Roles       []string
	MyPeople    map[string][]tenants.Relation // as LIS: my leder, veileder, supervisors by kind
	MyLIS       map[string][]tenants.Relation // as leder/veileder/supervisor: my LIS by kind
	DelegatedTo []tenants.Delegation          // approvals others delegated to me
}

func (m *Module) mine(c echo.Context) error {
	v := modules.ViewerFrom(c.Request().Context())
	ctx := c.Request().Context()
	rels, err := tenants.RelationsOf(ctx, m.db, v.PersonID)
	if err != nil {
		return err
	}
	var out []*tenantRoles
	byTenant := map[uuid.UUID]*tenantRoles{}
	for _, ms := range v.Memberships {
		tr := &tenantRoles{Tenant: ms.Tenant, Roles: ms.Roles, MyPeople: map[string][]tenants.Relation{}, MyLIS: map[string][]tenants.Relation{}}
		if ms.Tenant.Status != tenants.StatusSuspended {
			if tr.DelegatedTo, err = tenants.DelegatedTo(ctx, m.db, ms.Tenant.ID, v.PersonID); err != nil {
				return err
			}
		}
		byTenant[ms.Tenant.ID] = tr
		out = append(out, tr)
	}
	for _, r := range rels {
		tr := byTenant[r.TenantID]
		if tr == nil {
			continue
		}
		if r.LisID == v.PersonID {
			tr.MyPeople[r.Kind] = append(tr.MyPeople[r.Kind], r)
		} else {
			tr.MyLIS[r.Kind] = append(tr.MyLIS[r.Kind], r)
		}
	}
	platform := make([]string, 0, len(v.PlatformRoles))
	for _, pr := range v.PlatformRoles {
		s := web.RoleName(pr.Role)
		if pr.RHF != "" {
			s += " (" + pr.RHF + ")"
		}
		platform = append(platform, s)
	}
	sort.Strings(platform)
	return m.pages.Render(c, http.StatusOK, "mine", "Mine roller og relasjoner", map[string]any{"Tenants": out, "Platform": platform, "Today": m.now()})
}

type delegationPage struct {
	Delegations []tenants.Delegation
	Colleagues  []colleague
	Form        struct{ Delegate, Until, Reason string }
	Errors      map[string]string
	Message     string
	Today       time.Time
}

type colleague struct {
	ID   uuid.UUID `bun:"id"`
	Name string    `bun:"name"`
}

func (m *Module) delegations(c echo.Context) error {
	return m.renderDelegations(c, http.StatusOK, nil)
}

func (m *Module) renderDelegations(c echo.Context, status int, problem error) error {
	v := modules.ViewerFrom(c.Request().Context())
	ctx := c.Request().Context()
	p := delegationPage{Errors: apperr.FieldsOf(problem), Today: m.now()}
	var err error
	if p.Delegations, err = tenants.Delegations(ctx, m.db, v.Tenant.ID, v.PersonID); err != nil {
		return err
	}
	// Colleagues: everyone else in the tenant who is not only a LIS.
	err = tenants.WithTenantTx(ctx, m.db, tenants.Scope{TenantID: v.Tenant.ID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw(`SELECT p.id, trim(p.given_name || ' ' || p.family_name) || ' (' || p.email || ')' AS name
			FROM people p WHERE p.id <> ? AND EXISTS (SELECT 1 FROM memberships m WHERE m.tenant_id = ? AND m.person_id = p.id AND m.role <> 'lis')
			ORDER BY p.given_name, p.family_name`, v.PersonID, v.Tenant.ID).Scan(ctx, &p.Colleagues)
	})
	if err != nil {
		return err
	}
	p.Form.Delegate, p.Form.Until, p.Form.Reason = c.FormValue("delegate"), c.FormValue("until"), c.FormValue("reason")
	if problem != nil && p.Errors == nil {
		p.Message = apperr.MessageOf(problem)
	}
	return m.pages.Render(c, status, "delegations", "Delegering av godkjenning", p)
}

func (m *Module) delegate(c echo.Context) error {
	v := modules.ViewerFrom(c.Request().Context())
	bad := map[string]string{}
	delegate, err := uuid.Parse(c.FormValue("delegate"))
	if err != nil {
		bad["delegate"] = "Velg en kollega."
	}
	var until *time.Time
	if s := strings.TrimSpace(c.FormValue("until")); s != "" {
		d, err := time.Parse("2006-01-02", s)
		if err != nil {
			bad["until"] = "Skriv datoen som åååå-mm-dd."
		} else {
			until = &d
		}
	}
	if err := apperr.InvalidFields(bad); err != nil {
		return m.renderDelegations(c, http.StatusUnprocessableEntity, err)
	}
	_, err = tenants.Delegate(c.Request().Context(), m.db, v.Tenant.ID, tenants.Actor{PersonID: v.PersonID, Name: v.Name()}, delegate, until, c.FormValue("reason"), m.now().In(web.Oslo))
	if code := apperr.CodeOf(err); code == apperr.Invalid || code == apperr.Conflict || code == apperr.Forbidden {
		return m.renderDelegations(c, apperr.Status(code), err)
	}
	if err != nil {
		return err
	}
	return web.Redirect(c, "/t/"+v.Tenant.Slug+"/delegering")
}

func (m *Module) revoke(c echo.Context) error {
	v := modules.ViewerFrom(c.Request().Context())
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return apperr.Default(apperr.NotFound)
	}
	err = tenants.RevokeDelegation(c.Request().Context(), m.db, v.Tenant.ID, tenants.Actor{PersonID: v.PersonID, Name: v.Name()}, id, c.FormValue("reason"))
	if apperr.Is(err, apperr.Conflict) {
		return m.renderDelegations(c, http.StatusConflict, err)
	}
	if err != nil {
		return err
	}
	return web.Redirect(c, "/t/"+v.Tenant.Slug+"/delegering")
}
