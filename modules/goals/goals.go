// Package goals is the LIS's læringsmål: the goals of their active plan with
// status, marking a goal complete and sending it to their leder (or a
// delegate) with input from veileder and supervisors, recalling it, the
// approver's queue with the godkjenningsgrunnlag (frozen at the decision), and
// etterregistrering of goals achieved earlier.
package goals

import (
	"embed"
	"io/fs"
	"net/http"
	"regexp"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/uptrace/bun"

	"kportal/modules"
	"kportal/modules/apperr"
	"kportal/modules/documents"
	"kportal/modules/web"
	"kportal/policies"
	"kportal/tenants"
)

//go:embed templates
var templatesFS embed.FS

// Module is the goals module.
type Module struct {
	store *Store
	pages *web.Pages
}

// New returns the module.
func New(db bun.IDB, nav web.NavFunc) *Module {
	sub, _ := fs.Sub(templatesFS, "templates")
	return &Module{store: NewStore(db), pages: web.MustPages(sub, nav)}
}

// Store is the module's store.
func (m *Module) Store() *Store { return m.store }

func (m *Module) Info() modules.Info {
	return modules.Info{ID: "goals", Title: "Læringsmål og godkjenning", Requires: []string{"web", "people"}}
}

func (m *Module) Policies() []policies.Rule {
	// leder and goal_approver goal:approve come from the people module.
	return []policies.Rule{
		{Role: "lis", Object: "goal", Action: "read"},
		{Role: "lis", Object: "goal", Action: "send"},
		{Role: "veileder", Object: "goal", Action: "input"},
		{Role: "supervisor", Object: "goal", Action: "input"},
	}
}

func (m *Module) Routes(r *modules.Router) {
	read, send := modules.Need("goal", "read"), modules.Need("goal", "send")
	r.GET("/t/:tenant/laeringsmaal", m.list, read)
	r.GET("/t/:tenant/laeringsmaal/:code", m.goal, read)
	r.POST("/t/:tenant/laeringsmaal/:code/send", m.send, send)
	r.POST("/t/:tenant/laeringsmaal/:code/trekk-tilbake", m.recall, send)
	r.GET("/t/:tenant/etterregistrering", m.prior, send)
	r.POST("/t/:tenant/etterregistrering", m.priorSend, send)
	r.POST("/t/:tenant/etterregistrering/:id/trekk-tilbake", m.priorRecall, send)
	input := modules.Need("goal", "input")
	r.GET("/t/:tenant/innspill", m.inputs, input)
	r.POST("/t/:tenant/innspill/:id", m.answer, input)
	approve := modules.Need("goal", "approve")
	r.GET("/t/:tenant/godkjenning", m.queue, approve)
	r.GET("/t/:tenant/godkjenning/:id", m.showCase, approve)
	r.POST("/t/:tenant/godkjenning/:id", m.decide, approve)
}

func (m *Module) Nav(v *modules.Viewer) []modules.NavItem {
	if v.Tenant == nil {
		return nil
	}
	base := "/t/" + v.Tenant.Slug
	var items []modules.NavItem
	input := false
	for _, r := range v.RolesIn(v.Tenant.ID) {
		switch r {
		case "lis":
			items = append(items, modules.NavItem{Label: "Læringsmål", Href: base + "/laeringsmaal", Order: 20},
				modules.NavItem{Label: "Etterregistrering", Href: base + "/etterregistrering", Order: 25})
		case "veileder", "supervisor":
			if !input {
				items = append(items, modules.NavItem{Label: "Innspill", Href: base + "/innspill", Order: 35})
				input = true
			}
		}
	}
	// Ledere and anyone a leder delegated approval to.
	items = append(items, modules.NavItem{Label: "Godkjenning", Href: base + "/godkjenning", Order: 30, Object: "goal", Action: "approve"})
	return items
}

func viewer(c echo.Context) *modules.Viewer { return modules.ViewerFrom(c.Request().Context()) }

func actor(v *modules.Viewer) tenants.Actor {
	return tenants.Actor{PersonID: v.PersonID, Name: v.Name()}
}

func (m *Module) today() time.Time { return m.store.now().In(web.Oslo) }

var codeRe = regexp.MustCompile(`^[A-ZÆØÅ0-9]+(-[A-ZÆØÅ0-9]+)*$`)

// ---- The LIS's goals -------------------------------------------------------

type listPage struct {
	Goals    []Goal
	Arenas   []Arena
	Arena    string
	Search   string
	Counts   map[string]int
	Total    int
	ArenaMap map[string]string
}

func (m *Module) list(c echo.Context) error {
	v := viewer(c)
	ctx := c.Request().Context()
	arenas, err := m.store.Arenas(ctx, v.Tenant.ID)
	if err != nil {
		return err
	}
	p := listPage{Arenas: arenas, Search: c.QueryParam("q"), Counts: map[string]int{}, ArenaMap: map[string]string{}}
	for _, a := range arenas {
		p.ArenaMap[a.ID.String()] = a.Name
	}
	// The læringsarena filter is remembered until changed.
	if q := c.QueryParams(); q.Has("arena") {
		p.Arena = q.Get("arena")
		if _, ok := p.ArenaMap[p.Arena]; !ok {
			p.Arena = ""
		}
		if err := m.store.SetPreference(ctx, v.Tenant.ID, v.PersonID, PrefArena, p.Arena); err != nil {
			return err
		}
	} else {
		if p.Arena, err = m.store.Preference(ctx, v.Tenant.ID, v.PersonID, PrefArena); err != nil {
			return err
		}
		if _, ok := p.ArenaMap[p.Arena]; !ok {
			p.Arena = ""
		}
	}
	if p.Goals, err = m.store.Goals(ctx, v.Tenant.ID, v.PersonID, Filter{Arena: p.Arena, Search: p.Search}); err != nil {
		return err
	}
	for _, g := range p.Goals {
		p.Counts[g.Status]++
	}
	p.Total = len(p.Goals)
	return m.pages.Render(c, http.StatusOK, "list", "Mine læringsmål", p)
}

type goalPage struct {
	Goal      Goal
	Progress  *Progress
	Basis     *Basis
	Support   *Support
	Approvers []Person
	Advisers  []Person
	Form      struct {
		CompletedOn, Comment, Approver, Document string
		Inputs                                   map[string]bool
	}
	Errors    map[string]string
	Message   string
	Today     string
	Documents []documents.Ref
}

// Sendable: not started, open, returned or rejected.
func (p *goalPage) Sendable() bool {
	s := p.Goal.Status
	return s == "" || s == StatusOpen || s == StatusReturned || s == StatusRejected
}

func (m *Module) goal(c echo.Context) error { return m.renderGoal(c, http.StatusOK, nil) }

func (m *Module) renderGoal(c echo.Context, status int, problem error) error {
	v := viewer(c)
	ctx := c.Request().Context()
	code := c.Param("code")
	if !codeRe.MatchString(code) {
		return apperr.Default(apperr.NotFound)
	}
	gs, err := m.store.Goals(ctx, v.Tenant.ID, v.PersonID, Filter{Code: code})
	if err != nil {
		return err
	}
	if len(gs) == 0 {
		return apperr.New(apperr.NotFound, "Læringsmålet %s er ikke i planen din.", code)
	}
	p := goalPage{Goal: gs[0], Errors: apperr.FieldsOf(problem), Today: m.today().Format("2006-01-02")}
	if p.Approvers, p.Advisers, err = m.store.People(ctx, v.Tenant.ID, v.PersonID); err != nil {
		return err
	}
	if p.Documents, err = m.store.DocumentChoices(ctx, v.Tenant.ID, v.PersonID); err != nil {
		return err
	}
	d, err := m.store.Detail(ctx, v.Tenant.ID, v.PersonID, &gs[0])
	if err != nil {
		return err
	}
	p.Progress, p.Basis, p.Support = d.Progress, d.Basis, d.Support
	p.Form.Inputs = map[string]bool{}
	if problem != nil {
		p.Form.CompletedOn, p.Form.Comment, p.Form.Approver = c.FormValue("completed_on"), c.FormValue("comment"), c.FormValue("approver")
		p.Form.Document = c.FormValue("document")
		if f, err := c.FormParams(); err == nil {
			for _, id := range f["inputs"] {
				p.Form.Inputs[id] = true
			}
		}
	} else {
		p.Form.CompletedOn = p.Today
		for _, a := range p.Advisers { // ask everyone by default
			p.Form.Inputs[a.ID.String()] = true
		}
		if len(p.Approvers) > 0 {
			p.Form.Approver = p.Approvers[0].ID.String()
		}
	}
	if problem != nil && p.Errors == nil {
		p.Message = apperr.MessageOf(problem)
	}
	return m.pages.Render(c, status, "goal", "Læringsmål "+code, &p)
}

func (m *Module) send(c echo.Context) error {
	v := viewer(c)
	code := c.Param("code")
	if !codeRe.MatchString(code) {
		return apperr.Default(apperr.NotFound)
	}
	f, _ := c.FormParams()
	_, err := m.store.SendGoal(c.Request().Context(), v.Tenant.ID, actor(v), Send{Code: code, CompletedOn: c.FormValue("completed_on"),
		Comment: c.FormValue("comment"), Approver: c.FormValue("approver"), Inputs: f["inputs"], DocumentID: c.FormValue("document")})
	if code := apperr.CodeOf(err); code == apperr.Invalid || code == apperr.Conflict {
		return m.renderGoal(c, apperr.Status(code), err)
	}
	if err != nil {
		return err
	}
	return web.Redirect(c, "/t/"+v.Tenant.Slug+"/laeringsmaal/"+code+"?sendt=1")
}

func (m *Module) recall(c echo.Context) error {
	v := viewer(c)
	id, err := uuid.Parse(c.FormValue("progress"))
	if err != nil {
		return apperr.Default(apperr.NotFound)
	}
	err = m.store.Recall(c.Request().Context(), v.Tenant.ID, actor(v), id)
	if apperr.Is(err, apperr.Conflict) {
		return m.renderGoal(c, http.StatusConflict, err)
	}
	if err != nil {
		return err
	}
	return web.Redirect(c, "/t/"+v.Tenant.Slug+"/laeringsmaal/"+c.Param("code"))
}

// ---- Etterregistrering -----------------------------------------------------

type priorPage struct {
	Progress  []Progress
	Approvers []Person
	Form      struct{ Code, CompletedOn, Comment, Approver, Document string }
	Errors    map[string]string
	Message   string
	Today     string
	Sent      bool
	Documents []documents.Ref
}

func (m *Module) prior(c echo.Context) error { return m.renderPrior(c, http.StatusOK, nil) }

func (m *Module) renderPrior(c echo.Context, status int, problem error) error {
	v := viewer(c)
	ctx := c.Request().Context()
	p := priorPage{Errors: apperr.FieldsOf(problem), Today: m.today().Format("2006-01-02"), Sent: c.QueryParam("sendt") != ""}
	var err error
	if p.Progress, err = m.store.MyProgress(ctx, v.Tenant.ID, v.PersonID, true); err != nil {
		return err
	}
	if p.Approvers, _, err = m.store.People(ctx, v.Tenant.ID, v.PersonID); err != nil {
		return err
	}
	if p.Documents, err = m.store.DocumentChoices(ctx, v.Tenant.ID, v.PersonID); err != nil {
		return err
	}
	if problem != nil {
		p.Form.Code, p.Form.CompletedOn, p.Form.Comment, p.Form.Approver = c.FormValue("code"), c.FormValue("completed_on"), c.FormValue("comment"), c.FormValue("approver")
		p.Form.Document = c.FormValue("document")
		if p.Errors == nil {
			p.Message = apperr.MessageOf(problem)
		}
	} else if len(p.Approvers) > 0 {
		p.Form.Approver = p.Approvers[0].ID.String()
	}
	return m.pages.Render(c, status, "prior", "Etterregistrering", &p)
}

func (m *Module) priorSend(c echo.Context) error {
	v := viewer(c)
	_, err := m.store.PriorLearning(c.Request().Context(), v.Tenant.ID, actor(v), Send{Code: c.FormValue("code"), CompletedOn: c.FormValue("completed_on"),
		Comment: c.FormValue("comment"), Approver: c.FormValue("approver"), DocumentID: c.FormValue("document")})
	if code := apperr.CodeOf(err); code == apperr.Invalid || code == apperr.Conflict {
		return m.renderPrior(c, apperr.Status(code), err)
	}
	if err != nil {
		return err
	}
	return web.Redirect(c, "/t/"+v.Tenant.Slug+"/etterregistrering?sendt=1")
}

func (m *Module) priorRecall(c echo.Context) error {
	v := viewer(c)
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return apperr.Default(apperr.NotFound)
	}
	err = m.store.Recall(c.Request().Context(), v.Tenant.ID, actor(v), id)
	if apperr.Is(err, apperr.Conflict) {
		return m.renderPrior(c, http.StatusConflict, err)
	}
	if err != nil {
		return err
	}
	return web.Redirect(c, "/t/"+v.Tenant.Slug+"/etterregistrering")
}

// ---- Input from veileder and supervisors ----------------------------------

type inputsPage struct {
	Inputs  []Input
	Errors  map[string]string
	Message string
	Failed  string // the input whose form failed
	Text    string
}

func (m *Module) inputs(c echo.Context) error { return m.renderInputs(c, http.StatusOK, "", nil) }

func (m *Module) renderInputs(c echo.Context, status int, failed string, problem error) error {
	v := viewer(c)
	p := inputsPage{Errors: apperr.FieldsOf(problem), Failed: failed, Text: c.FormValue("text")}
	var err error
	if p.Inputs, err = m.store.InputsFor(c.Request().Context(), v.Tenant.ID, v.PersonID); err != nil {
		return err
	}
	if problem != nil && p.Errors == nil {
		p.Message = apperr.MessageOf(problem)
	}
	return m.pages.Render(c, status, "inputs", "Innspill på læringsmål", p)
}

func (m *Module) answer(c echo.Context) error {
	v := viewer(c)
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return apperr.Default(apperr.NotFound)
	}
	err = m.store.AnswerInput(c.Request().Context(), v.Tenant.ID, actor(v), id, c.FormValue("text"))
	if code := apperr.CodeOf(err); code == apperr.Invalid || code == apperr.Conflict {
		return m.renderInputs(c, apperr.Status(code), id.String(), err)
	}
	if err != nil {
		return err
	}
	return web.Redirect(c, "/t/"+v.Tenant.Slug+"/innspill")
}

// ---- The approver ----------------------------------------------------------

func (m *Module) queue(c echo.Context) error {
	v := viewer(c)
	cases, err := m.store.Queue(c.Request().Context(), v.Tenant.ID, v.PersonID)
	if err != nil {
		return err
	}
	return m.pages.Render(c, http.StatusOK, "queue", "Godkjenning av læringsmål", map[string]any{"Cases": cases, "Decided": c.QueryParam("behandlet")})
}

type casePage struct {
	Case    *Case
	Errors  map[string]string
	Message string
	Form    struct {
		Outcome, Note string
		Confirm       bool
	}
}

func (m *Module) showCase(c echo.Context) error { return m.renderCase(c, http.StatusOK, nil) }

func (m *Module) renderCase(c echo.Context, status int, problem error) error {
	v := viewer(c)
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return apperr.Default(apperr.NotFound)
	}
	cs, err := m.store.CaseFor(c.Request().Context(), v.Tenant.ID, v.PersonID, id)
	if err != nil {
		return err
	}
	p := casePage{Case: cs, Errors: apperr.FieldsOf(problem)}
	if problem != nil {
		p.Form.Outcome, p.Form.Note, p.Form.Confirm = c.FormValue("outcome"), c.FormValue("note"), c.FormValue("confirm") != ""
		if p.Errors == nil {
			p.Message = apperr.MessageOf(problem)
		}
	}
	return m.pages.Render(c, status, "case", "Godkjenning av "+cs.GoalCode, &p)
}

func (m *Module) decide(c echo.Context) error {
	v := viewer(c)
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return apperr.Default(apperr.NotFound)
	}
	_, err = m.store.Decide(c.Request().Context(), v.Tenant.ID, actor(v), id, Decision{Outcome: c.FormValue("outcome"), Note: c.FormValue("note"), ConfirmMissing: c.FormValue("confirm") != ""})
	if code := apperr.CodeOf(err); code == apperr.Invalid || code == apperr.Conflict {
		return m.renderCase(c, apperr.Status(code), err)
	}
	if err != nil {
		return err
	}
	return web.Redirect(c, "/t/"+v.Tenant.Slug+"/godkjenning?behandlet="+id.String())
}
