// Package advisory is the veiledningssamtale (AdvisorySession): the veileder
// plans one with a LIS; both write a forberedelse before and a referat after,
// saved as drafts; only the veileder completes it, after which it is
// read-only. Its text is private to the LIS and their veileder (the new one
// too, after a change of veileder in the tenant or within the RHF); ledere and
// UAO see only date and status. A daily job reminds both of a forberedelse due.
package advisory

import (
	"context"
	"embed"
	"io/fs"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/labstack/echo/v4"
	"github.com/uptrace/bun"

	"kportal/modules"
	"kportal/modules/apperr"
	"kportal/modules/web"
	"kportal/policies"
	"kportal/tenants"
	"kportal/workers"
)

//go:embed templates
var templatesFS embed.FS

// TypePreparationDue is the daily job that reminds of forberedelser due.
const TypePreparationDue = "advisory:preparation_due"

// Module is the advisory module.
type Module struct {
	db    bun.IDB
	store *Store
	pages *web.Pages
}

// New returns the module.
func New(db bun.IDB, nav web.NavFunc) *Module {
	sub, _ := fs.Sub(templatesFS, "templates")
	return &Module{db: db, store: NewStore(db), pages: web.MustPages(sub, nav)}
}

// Store is the module's store.
func (m *Module) Store() *Store { return m.store }

func (m *Module) Info() modules.Info {
	return modules.Info{ID: "advisory", Title: "Veiledningssamtaler", Requires: []string{"web"}}
}

func (m *Module) Policies() []policies.Rule {
	// read lets leder and UAO past the guard to see date and status; the text
	// is the handler's business (tenants.Advises, or the LIS), 404 to others.
	return []policies.Rule{
		{Role: "lis", Object: "advisory", Action: "read"},
		{Role: "lis", Object: "advisory", Action: "write"},
		{Role: "veileder", Object: "advisory", Action: "read"},
		{Role: "veileder", Object: "advisory", Action: "write"},
		{Role: "veileder", Object: "advisory", Action: "plan"},
		{Role: "veileder", Object: "advisory", Action: "complete"},
		{Role: "leder", Object: "advisory", Action: "read"},
		{Role: "uao", Object: "advisory", Action: "read"},
		{Role: "tenant_admin", Object: "advisory", Action: "configure"},
	}
}

func (m *Module) Routes(r *modules.Router) {
	read := modules.Need("advisory", "read")
	r.GET("/t/:tenant/veiledning", m.list, read)
	r.POST("/t/:tenant/veiledning", m.create, modules.Need("advisory", "plan"))
	r.GET("/t/:tenant/veiledning/:id", m.show, read)
	r.POST("/t/:tenant/veiledning/:id/tekst", m.saveNote, modules.Need("advisory", "write"))
	r.POST("/t/:tenant/veiledning/:id/ferdigstill", m.complete, modules.Need("advisory", "complete"))
	configure := modules.Need("advisory", "configure")
	r.GET("/t/:tenant/admin/veiledning", m.settings, configure)
	r.POST("/t/:tenant/admin/veiledning", m.saveSettings, configure)
}

func (m *Module) Nav(v *modules.Viewer) []modules.NavItem {
	if v == nil || v.Tenant == nil {
		return nil
	}
	base := "/t/" + v.Tenant.Slug
	var out []modules.NavItem
	if v.Holds("lis") || v.Holds("veileder") {
		out = append(out, modules.NavItem{Label: "Veiledning", Href: base + "/veiledning", Order: 38})
	}
	if v.Holds("tenant_admin") {
		out = append(out, modules.NavItem{Label: "Veiledningssamtaler", Href: base + "/admin/veiledning", Order: 43})
	}
	return out
}

func (m *Module) Tasks(mux *asynq.ServeMux) {
	mux.HandleFunc(TypePreparationDue, func(ctx context.Context, _ *asynq.Task) error {
		_, err := RemindPreparations(ctx, m.db, time.Now())
		return err
	})
}

func (m *Module) Schedules() []workers.Schedule {
	return []workers.Schedule{{Cron: "0 7 * * *", Task: asynq.NewTask(TypePreparationDue, nil),
		Opts: []asynq.Option{asynq.Queue(workers.QueueDefault), asynq.MaxRetry(3)}}}
}

func viewer(c echo.Context) *modules.Viewer { return modules.ViewerFrom(c.Request().Context()) }

func actor(v *modules.Viewer) tenants.Actor {
	return tenants.Actor{PersonID: v.PersonID, Name: v.Name()}
}

func base(v *modules.Viewer) string { return "/t/" + v.Tenant.Slug }

// ---- The list and planning -----------------------------------------------

type listPage struct {
	Sessions []Session
	LIS      []Option // the veileder's LIS, for planning
	Planner  bool
	Form     Plan
	Errors   map[string]string
	Message  string
	Today    string
}

func (m *Module) list(c echo.Context) error { return m.renderList(c, http.StatusOK, nil) }

func (m *Module) renderList(c echo.Context, status int, problem error) error {
	v := viewer(c)
	ctx := c.Request().Context()
	p := listPage{Planner: v.Holds("veileder"), Errors: apperr.FieldsOf(problem), Today: time.Now().In(web.Oslo).Format("2006-01-02")}
	var err error
	if p.Sessions, err = m.store.List(ctx, v.Tenant.ID, v.PersonID); err != nil {
		return err
	}
	if p.Planner {
		if p.LIS, err = m.store.AdvisedLIS(ctx, v.Tenant.ID, v.PersonID); err != nil {
			return err
		}
	}
	if problem != nil {
		p.Form = planForm(c)
		if p.Errors == nil {
			p.Message = apperr.MessageOf(problem)
		}
	} else {
		p.Form.Date, p.Form.Time, p.Form.LisID = p.Today, "09:00", c.QueryParam("lis")
	}
	return m.pages.Render(c, status, "list", "Veiledningssamtaler", &p)
}

func planForm(c echo.Context) Plan {
	return Plan{LisID: c.FormValue("lis"), Date: c.FormValue("date"), Time: c.FormValue("time"), Place: c.FormValue("place"),
		Topics: c.FormValue("topics"), Goals: c.FormValue("goals")}
}

func (m *Module) create(c echo.Context) error {
	v := viewer(c)
	s, err := m.store.Create(c.Request().Context(), v.Tenant.ID, actor(v), planForm(c))
	if err != nil {
		return web.Answer(c, err, m.renderList, "")
	}
	return web.Redirect(c, base(v)+"/veiledning/"+s.ID.String())
}

// ---- One samtale ---------------------------------------------------------

type sessionPage struct {
	Session  *Session
	Me       uuid.UUID
	Advisor  bool
	Own      bool // held in this tenant (not history from another helseforetak)
	Drafts   map[string]string
	Failed   string // the kind whose form failed
	Errors   map[string]string
	Message  string
	Saved    string
	Complete bool
}

// block is one kind of text on the page: the viewer's own (a form while
// editable) and the other party's.
type block struct {
	Kind, Title, Noun, Yours string
	Others                   []Note
	Draft                    string
	Saved                    bool
	Error                    string
}

// Blocks are the forberedelse and the referat.
func (p *sessionPage) Blocks() []block {
	var out []block
	for _, k := range []struct{ kind, title, noun, yours string }{{KindPreparation, "Forberedelse", "forberedelse", "Din forberedelse"}, {KindMinutes, "Referat", "referat", "Ditt referat"}} {
		b := block{Kind: k.kind, Title: k.title, Noun: k.noun, Yours: k.yours, Draft: p.Drafts[k.kind], Saved: p.Saved == k.kind}
		for _, n := range p.Session.NotesOf(k.kind) {
			if n.AuthorID != p.Me {
				b.Others = append(b.Others, n)
			}
		}
		if p.Failed == k.kind {
			b.Error = p.Errors["text"]
		}
		out = append(out, b)
	}
	return out
}

// Editable reports whether the viewer may still write.
func (p *sessionPage) Editable() bool { return p.Own && !p.Session.Completed() }

func (m *Module) show(c echo.Context) error { return m.renderSession(c, http.StatusOK, "", nil) }

func (m *Module) renderSession(c echo.Context, status int, failed string, problem error) error {
	v := viewer(c)
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return apperr.New(apperr.NotFound, "Fant ikke samtalen.")
	}
	s, party, err := m.store.Get(c.Request().Context(), v.Tenant.ID, v.PersonID, id)
	if err != nil {
		return err
	}
	p := sessionPage{Session: s, Me: v.PersonID, Advisor: party == PartyAdvisor, Own: s.TenantID == v.Tenant.ID,
		Failed: failed, Errors: apperr.FieldsOf(problem), Saved: c.QueryParam("lagret"), Complete: c.QueryParam("ferdigstilt") != ""}
	p.Drafts = map[string]string{KindPreparation: s.NoteBy(KindPreparation, v.PersonID), KindMinutes: s.NoteBy(KindMinutes, v.PersonID)}
	if failed != "" {
		p.Drafts[failed] = c.FormValue("text") // what was typed is never lost
	}
	if problem != nil && p.Errors == nil {
		p.Message = apperr.MessageOf(problem)
	}
	return m.pages.Render(c, status, "session", "Veiledningssamtale "+s.StartsAt.Format("2.1.2006"), &p)
}

func (m *Module) saveNote(c echo.Context) error {
	v := viewer(c)
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return apperr.New(apperr.NotFound, "Fant ikke samtalen.")
	}
	kind := c.FormValue("kind")
	err = m.store.SaveNote(c.Request().Context(), v.Tenant.ID, actor(v), id, kind, c.FormValue("text"))
	if code := apperr.CodeOf(err); code == apperr.Invalid || code == apperr.Conflict {
		return m.renderSession(c, apperr.Status(code), kind, err)
	}
	if err != nil {
		return err
	}
	return web.Redirect(c, base(v)+"/veiledning/"+id.String()+"?lagret="+kind+"#"+kind)
}

func (m *Module) complete(c echo.Context) error {
	v := viewer(c)
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return apperr.New(apperr.NotFound, "Fant ikke samtalen.")
	}
	err = m.store.Complete(c.Request().Context(), v.Tenant.ID, actor(v), id)
	if code := apperr.CodeOf(err); code == apperr.Invalid || code == apperr.Conflict {
		return m.renderSession(c, apperr.Status(code), "", err)
	}
	if err != nil {
		return err
	}
	return web.Redirect(c, base(v)+"/veiledning/"+id.String()+"?ferdigstilt=1")
}

// ---- The tenant's setting ------------------------------------------------

type settingsPage struct {
	Months  string
	Errors  map[string]string
	Message string
	Saved   bool
}

func (m *Module) settings(c echo.Context) error { return m.renderSettings(c, http.StatusOK, nil) }

func (m *Module) renderSettings(c echo.Context, status int, problem error) error {
	v := viewer(c)
	p := settingsPage{Errors: apperr.FieldsOf(problem), Saved: c.QueryParam("lagret") != ""}
	if problem != nil {
		p.Months = c.FormValue("months")
		if p.Errors == nil {
			p.Message = apperr.MessageOf(problem)
		}
	} else {
		months, err := m.store.Months(c.Request().Context(), v.Tenant.ID)
		if err != nil {
			return err
		}
		p.Months = strconv.Itoa(months)
	}
	return m.pages.Render(c, status, "settings", "Veiledningssamtaler", &p)
}

func (m *Module) saveSettings(c echo.Context) error {
	v := viewer(c)
	months, err := strconv.Atoi(c.FormValue("months"))
	if err != nil {
		err = apperr.InvalidFields(map[string]string{"months": "Oppgi et helt antall måneder."})
	} else {
		err = m.store.SetReminderMonths(c.Request().Context(), v.Tenant.ID, months)
	}
	return web.Answer(c, err, m.renderSettings, base(v)+"/admin/veiledning?lagret=1")
}
