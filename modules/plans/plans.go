// Package plans holds a tenant's læringsarenaer and plan templates (catalogue
// goals at arenas, plus local activities), and the plans a leder assigns to
// the LIS they manage. A template with auto_assign (kommune LIS1) is given to
// every LIS who joins the tenant: tenants.Joined (bound in store.go) calls AssignAutomatic from
// GrantRole (roles admin, invitations, relations) and AddMembership.
package plans

import (
	"context"
	"embed"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/uptrace/bun"

	"kportal/modules"
	"kportal/modules/apperr"
	"kportal/modules/catalog"
	"kportal/modules/web"
	"kportal/policies"
	"kportal/tenants"
)

//go:embed templates
var templatesFS embed.FS

// Module is the plans module.
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
	return modules.Info{ID: "plans", Title: "Læringsarenaer og planer", Requires: []string{"web", "catalog"}}
}

func (m *Module) Policies() []policies.Rule {
	return []policies.Rule{
		{Role: "tenant_admin", Object: "arena", Action: "manage"},
		{Role: "tenant_admin", Object: "plan", Action: "manage"},
		{Role: "leder", Object: "plan", Action: "assign"},
	}
}

func (m *Module) Routes(r *modules.Router) {
	arenas := modules.Need("arena", "manage")
	r.GET("/t/:tenant/admin/arenaer", m.arenas, arenas)
	r.POST("/t/:tenant/admin/arenaer", m.createArena, arenas)
	r.POST("/t/:tenant/admin/arenaer/:id", m.updateArena, arenas)
	r.POST("/t/:tenant/admin/arenaer/:id/arkiver", m.archiveArena, arenas)
	manage := modules.Need("plan", "manage")
	r.GET("/t/:tenant/admin/planer", m.templates, manage)
	r.POST("/t/:tenant/admin/planer", m.createTemplate, manage)
	r.POST("/t/:tenant/admin/planer/katalogversjon", m.moveToLatest, manage)
	r.GET("/t/:tenant/admin/planer/:id", m.template, manage)
	r.POST("/t/:tenant/admin/planer/:id", m.saveTemplate, manage)
	r.POST("/t/:tenant/admin/planer/:id/arkiver", m.archiveTemplate, manage)
	r.POST("/t/:tenant/admin/planer/:id/aktiviteter", m.addLocal, manage)
	r.POST("/t/:tenant/admin/planer/:id/aktiviteter/:aid/slett", m.removeLocal, manage)
	assign := modules.Need("plan", "assign")
	r.GET("/t/:tenant/planer/tildel", m.assignments, assign)
	r.POST("/t/:tenant/planer/tildel", m.assign, assign)
	r.POST("/t/:tenant/planer/tildel/:id/arkiver", m.archiveAssignment, assign)
}

func (m *Module) Nav(v *modules.Viewer) []modules.NavItem {
	if v == nil || v.Tenant == nil {
		return nil
	}
	base := "/t/" + v.Tenant.Slug
	var out []modules.NavItem
	if v.Holds("tenant_admin") {
		out = append(out, modules.NavItem{Label: "Læringsarenaer", Href: base + "/admin/arenaer", Order: 41},
			modules.NavItem{Label: "Planer", Href: base + "/admin/planer", Order: 42})
	}
	if v.Holds("leder") {
		out = append(out, modules.NavItem{Label: "Tildel plan", Href: base + "/planer/tildel", Order: 55})
	}
	return out
}

func viewer(c echo.Context) *modules.Viewer { return modules.ViewerFrom(c.Request().Context()) }

func base(c echo.Context) string { return "/t/" + viewer(c).Tenant.Slug }

func paramID(c echo.Context, name string) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param(name))
	if err != nil {
		return uuid.Nil, apperr.Default(apperr.NotFound)
	}
	return id, nil
}

// ---- Arenas ----

type arenasPage struct {
	Arenas  []Arena
	Form    struct{ Name, Description string }
	Errors  map[string]string
	Message string
}

func (m *Module) arenas(c echo.Context) error { return m.renderArenas(c, http.StatusOK, nil) }

func (m *Module) renderArenas(c echo.Context, status int, problem error) error {
	p := &arenasPage{Errors: apperr.FieldsOf(problem)}
	if problem != nil && p.Errors == nil {
		p.Message = apperr.MessageOf(problem)
	}
	p.Form.Name, p.Form.Description = c.FormValue("name"), c.FormValue("description")
	var err error
	if p.Arenas, err = Arenas(c.Request().Context(), m.db, viewer(c).Tenant.ID); err != nil {
		return err
	}
	return m.pages.Render(c, status, "arenas", "Læringsarenaer", p)
}

// asMessage turns per-field messages into one for the page: the arena lists
// have one form per row, so a field message would stand at the wrong form.
func asMessage(err error) error {
	fields := apperr.FieldsOf(err)
	if len(fields) == 0 {
		return err
	}
	msgs := make([]string, 0, len(fields))
	for _, m := range fields {
		msgs = append(msgs, m)
	}
	sort.Strings(msgs)
	return apperr.New(apperr.CodeOf(err), "%s", strings.Join(msgs, " "))
}

func (m *Module) createArena(c echo.Context) error {
	_, err := CreateArena(c.Request().Context(), m.db, viewer(c).Tenant.ID, c.FormValue("name"), c.FormValue("description"))
	return web.Answer(c, err, m.renderArenas, base(c)+"/admin/arenaer")
}

func (m *Module) updateArena(c echo.Context) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	err = UpdateArena(c.Request().Context(), m.db, viewer(c).Tenant.ID, id, c.FormValue("name"), c.FormValue("description"))
	return web.Answer(c, asMessage(err), m.renderArenas, base(c)+"/admin/arenaer")
}

func (m *Module) archiveArena(c echo.Context) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	if err := ArchiveArena(c.Request().Context(), m.db, viewer(c).Tenant.ID, id); err != nil {
		return err
	}
	return web.Redirect(c, base(c)+"/admin/arenaer")
}

// ---- Templates ----

type templatesPage struct {
	Templates   []Template
	Specialties []catalog.Specialty
	Version     *catalog.Version
	Form        struct {
		Name, Specialty string
		AutoAssign      bool
	}
	Errors  map[string]string
	Message string
	Kommune bool
	Behind  int    // LIS whose plans are pinned to an older catalogue version
	Moved   string // how many were just moved
}

func (m *Module) templates(c echo.Context) error { return m.renderTemplates(c, http.StatusOK, nil) }

func (m *Module) renderTemplates(c echo.Context, status int, problem error) error {
	ctx := c.Request().Context()
	v := viewer(c)
	p := &templatesPage{Errors: apperr.FieldsOf(problem), Kommune: v.Tenant.Kind == tenants.KindKommune}
	if problem != nil && p.Errors == nil {
		p.Message = apperr.MessageOf(problem)
	}
	p.Form.Name, p.Form.Specialty, p.Form.AutoAssign = c.FormValue("name"), c.FormValue("specialty"), c.FormValue("auto_assign") == "on"
	var err error
	if p.Templates, err = Templates(ctx, m.db, v.Tenant.ID); err != nil {
		return err
	}
	if p.Specialties, err = catalog.Specialties(ctx, m.db); err != nil {
		return err
	}
	if p.Version, err = catalog.LatestPublished(ctx, m.db); err != nil {
		return err
	}
	if p.Version != nil {
		behind, err := Behind(ctx, m.db, v.Tenant.ID, p.Version.ID)
		if err != nil {
			return err
		}
		p.Behind = len(behind)
	}
	p.Moved = c.QueryParam("flyttet")
	return m.pages.Render(c, status, "templates", "Planer", p)
}

func (m *Module) createTemplate(c echo.Context) error {
	ctx := c.Request().Context()
	ver, err := catalog.LatestPublished(ctx, m.db)
	if err != nil {
		return err
	}
	t := &Template{Name: c.FormValue("name"), Specialty: c.FormValue("specialty"), AutoAssign: c.FormValue("auto_assign") == "on"}
	if ver != nil {
		t.VersionID = ver.ID
	}
	err = SaveTemplate(ctx, m.db, viewer(c).Tenant.ID, t)
	return web.Answer(c, err, m.renderTemplates, base(c)+"/admin/planer/"+t.ID.String())
}

type goalRow struct {
	catalog.Goal
	Chosen bool
	Arenas map[uuid.UUID]bool
}

type templatePage struct {
	Template *Template
	Version  *catalog.Version
	Plans    []string // plan codes that fit the specialty
	Plan     string   // the filter in force
	Goals    []goalRow
	Arenas   []Arena
	ArenaMap map[uuid.UUID]string
	Kinds    []struct{ Value, Label string }
	Errors   map[string]string
	Message  string
	Saved    bool
}

// ArenaName is an arena's name ("" for none).
func (p *templatePage) ArenaName(id *uuid.UUID) string {
	if id == nil {
		return ""
	}
	return p.ArenaMap[*id]
}

func (m *Module) template(c echo.Context) error {
	return m.renderTemplate(c, http.StatusOK, nil)
}

func (m *Module) renderTemplate(c echo.Context, status int, problem error) error {
	ctx := c.Request().Context()
	v := viewer(c)
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	t, err := TemplateByID(ctx, m.db, v.Tenant.ID, id)
	if err != nil {
		return err
	}
	p := &templatePage{Template: t, Plans: GoalPlans(t.Specialty), Plan: c.QueryParam("plan"), Kinds: Kinds,
		Errors: apperr.FieldsOf(problem), ArenaMap: map[uuid.UUID]string{}, Saved: c.QueryParam("lagret") == "1"}
	if problem != nil && p.Errors == nil {
		p.Message = apperr.MessageOf(problem)
	}
	if p.Version, err = catalog.VersionByID(ctx, m.db, t.VersionID); err != nil {
		return err
	}
	if p.Arenas, err = Arenas(ctx, m.db, v.Tenant.ID); err != nil {
		return err
	}
	for _, a := range p.Arenas {
		p.ArenaMap[a.ID] = a.Name
	}
	plans := p.Plans
	if slices.Contains(p.Plans, p.Plan) {
		plans = []string{p.Plan}
	} else {
		p.Plan = ""
	}
	goals, err := catalog.Goals(ctx, m.db, t.VersionID, plans...)
	if err != nil {
		return err
	}
	chosen := map[string]TemplateGoal{}
	for _, g := range t.Goals {
		chosen[g.Code] = g
	}
	for _, g := range goals {
		row := goalRow{Goal: g, Arenas: map[uuid.UUID]bool{}}
		if tg, ok := chosen[g.Code]; ok {
			row.Chosen = true
			for _, a := range tg.ArenaIDs {
				row.Arenas[a] = true
			}
		}
		p.Goals = append(p.Goals, row)
	}
	return m.pages.Render(c, status, "template", t.Name, p)
}

func (m *Module) saveTemplate(c echo.Context) error {
	ctx := c.Request().Context()
	v := viewer(c)
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	t, err := TemplateByID(ctx, m.db, v.Tenant.ID, id)
	if err != nil {
		return err
	}
	form, err := c.FormParams()
	if err != nil {
		return apperr.Default(apperr.Invalid)
	}
	t.Name = c.FormValue("name")
	t.AutoAssign = c.FormValue("auto_assign") == "on"
	// Goals not shown on the page (another plan filter) are kept as they are.
	shown := map[string]bool{}
	for _, code := range form["shown"] {
		shown[code] = true
	}
	var goals []TemplateGoal
	for _, g := range t.Goals {
		if !shown[g.Code] {
			goals = append(goals, g)
		}
	}
	for _, code := range form["goals"] {
		if !shown[code] {
			continue
		}
		g := TemplateGoal{Code: code}
		for _, s := range form["arena_"+code] {
			if a, err := uuid.Parse(s); err == nil {
				g.ArenaIDs = append(g.ArenaIDs, a)
			}
		}
		goals = append(goals, g)
	}
	t.Goals = goals
	q := url.Values{"lagret": {"1"}}
	if p := c.FormValue("plan"); p != "" {
		q.Set("plan", p)
	}
	return web.Answer(c, SaveTemplate(ctx, m.db, v.Tenant.ID, t), m.renderTemplate, base(c)+"/admin/planer/"+t.ID.String()+"?"+q.Encode())
}

func (m *Module) archiveTemplate(c echo.Context) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	if err := ArchiveTemplate(c.Request().Context(), m.db, viewer(c).Tenant.ID, id); err != nil {
		return err
	}
	return web.Redirect(c, base(c)+"/admin/planer")
}

func (m *Module) addLocal(c echo.Context) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	form, _ := c.FormParams()
	a := &LocalActivity{Kind: c.FormValue("local_kind"), Name: c.FormValue("local_name"), GoalCodes: form["local_goals"]}
	if s := c.FormValue("local_arena"); s != "" {
		if aid, err := uuid.Parse(s); err == nil {
			a.ArenaID = &aid
		}
	}
	bad := map[string]string{}
	if s := strings.TrimSpace(c.FormValue("local_required")); s != "" {
		if a.Required, err = strconv.Atoi(s); err != nil {
			bad["local_required"] = "Skriv et helt tall."
		}
	}
	if err := apperr.InvalidFields(bad); err != nil {
		return m.renderTemplate(c, http.StatusUnprocessableEntity, err)
	}
	err = AddLocalActivity(c.Request().Context(), m.db, viewer(c).Tenant.ID, id, a)
	return web.Answer(c, err, m.renderTemplate, base(c)+"/admin/planer/"+id.String())
}

func (m *Module) removeLocal(c echo.Context) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	aid, err := paramID(c, "aid")
	if err != nil {
		return err
	}
	if err := RemoveLocalActivity(c.Request().Context(), m.db, viewer(c).Tenant.ID, id, aid); err != nil {
		return err
	}
	return web.Redirect(c, base(c)+"/admin/planer/"+id.String())
}

// ---- Assignment (leder) ----

type lisRow struct {
	ID   uuid.UUID
	Name string
}

type assignPage struct {
	LIS         []lisRow
	Templates   []Template
	Assignments []Assignment
	Form        struct{ LIS, Template string }
	Errors      map[string]string
	Message     string
}

// managed lists the LIS the viewer is leder for in the tenant.
func (m *Module) managed(ctx context.Context, v *modules.Viewer) ([]lisRow, error) {
	rels, err := tenants.TenantRelations(ctx, m.db, v.Tenant.ID)
	if err != nil {
		return nil, err
	}
	var out []lisRow
	for _, r := range rels {
		if r.Kind == tenants.RelLeder && r.PersonID == v.PersonID {
			name := r.LisName
			if strings.TrimSpace(name) == "" {
				name = r.LisEmail
			}
			out = append(out, lisRow{ID: r.LisID, Name: name})
		}
	}
	return out, nil
}

func (m *Module) assignments(c echo.Context) error { return m.renderAssign(c, http.StatusOK, nil) }

func (m *Module) renderAssign(c echo.Context, status int, problem error) error {
	ctx := c.Request().Context()
	v := viewer(c)
	p := &assignPage{Errors: apperr.FieldsOf(problem)}
	if problem != nil && p.Errors == nil {
		p.Message = apperr.MessageOf(problem)
	}
	p.Form.LIS, p.Form.Template = c.FormValue("lis"), c.FormValue("template")
	var err error
	if p.LIS, err = m.managed(ctx, v); err != nil {
		return err
	}
	ids := make([]uuid.UUID, 0, len(p.LIS))
	for _, l := range p.LIS {
		ids = append(ids, l.ID)
	}
	if p.Assignments, err = Assignments(ctx, m.db, v.Tenant.ID, ids); err != nil {
		return err
	}
	all, err := Templates(ctx, m.db, v.Tenant.ID)
	if err != nil {
		return err
	}
	for _, t := range all {
		if t.ArchivedAt == nil {
			p.Templates = append(p.Templates, t)
		}
	}
	return m.pages.Render(c, status, "assign", "Tildel plan", p)
}

func (m *Module) assign(c echo.Context) error {
	v := viewer(c)
	bad := map[string]string{}
	lis, err := uuid.Parse(c.FormValue("lis"))
	if err != nil {
		bad["lis"] = "Velg en LIS."
	}
	tpl, err := uuid.Parse(c.FormValue("template"))
	if err != nil {
		bad["template"] = "Velg en plan."
	}
	if err := apperr.InvalidFields(bad); err != nil {
		return m.renderAssign(c, http.StatusUnprocessableEntity, err)
	}
	_, err = Assign(c.Request().Context(), m.db, v.Tenant.ID, tenants.Actor{PersonID: v.PersonID, Name: v.Name()}, lis, tpl)
	return web.Answer(c, err, m.renderAssign, base(c)+"/planer/tildel")
}

func (m *Module) archiveAssignment(c echo.Context) error {
	v := viewer(c)
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	if err := ArchiveAssignment(c.Request().Context(), m.db, v.Tenant.ID, tenants.Actor{PersonID: v.PersonID, Name: v.Name()}, id); err != nil {
		return err
	}
	return web.Redirect(c, base(c)+"/planer/tildel")
}
