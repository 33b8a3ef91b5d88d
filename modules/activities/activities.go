// Package activities is where a LIS registers læringsaktiviteter (self-
// registered, or sent to one of their supervisors for signing), keeps the
// procedure list of their plan (favourites, several repetitions at once), and
// where a supervisor signs or rejects what was sent to them. Each decision is
// kept with a snapshot of exactly what was signed. ForGoal gives the goals
// module an activity basis per læringsmål.
package activities

import (
	"embed"
	"html"
	"html/template"
	"io/fs"
	"net/http"
	"sort"
	"strconv"
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

// Module is the activities module.
type Module struct {
	store *Store
	pages *web.Pages
	now   func() time.Time
}

// New returns the module.
func New(db bun.IDB, nav web.NavFunc) *Module {
	sub, _ := fs.Sub(templatesFS, "templates")
	return &Module{store: NewStore(db), pages: web.MustPages(sub, nav), now: time.Now}
}

func (m *Module) Info() modules.Info {
	return modules.Info{ID: "activities", Title: "Læringsaktiviteter og signering", Requires: []string{"web"}}
}

// Policies: what each role may do in a tenant; for which LIS is decided in
// the store (own activities; tenants.Supervises for the supervisor).
func (m *Module) Policies() []policies.Rule {
	return []policies.Rule{
		{Role: "lis", Object: Object, Action: ActionCreate},
		{Role: "lis", Object: Object, Action: ActionRead},
		{Role: "supervisor", Object: Object, Action: ActionSign},
	}
}

func (m *Module) Routes(r *modules.Router) {
	read, create, sign := modules.Need(Object, ActionRead), modules.Need(Object, ActionCreate), modules.Need(Object, ActionSign)
	r.GET("/t/:tenant/aktiviteter", m.list, read)
	r.GET("/t/:tenant/aktiviteter/ny", m.newForm, create)
	r.GET("/t/:tenant/aktiviteter/:id", m.show, read)
	r.POST("/t/:tenant/aktiviteter", m.create, create)
	r.POST("/t/:tenant/aktiviteter/:id/trekk-tilbake", m.withdraw, create)
	r.POST("/t/:tenant/aktiviteter/send-igjen", m.resend, create)
	r.GET("/t/:tenant/prosedyrer", m.procedures, read)
	r.POST("/t/:tenant/prosedyrer", m.registerProcedures, create)
	r.POST("/t/:tenant/prosedyrer/:id/favoritt", m.favourite, create)
	r.GET("/t/:tenant/signering", m.queue, sign)
	r.POST("/t/:tenant/signering", m.decide, sign)
}

func (m *Module) Nav(v *modules.Viewer) []modules.NavItem {
	if v.Tenant == nil {
		return nil
	}
	var items []modules.NavItem
	base := "/t/" + v.Tenant.Slug
	for _, r := range v.RolesIn(v.Tenant.ID) {
		switch r {
		case "lis":
			items = append(items, modules.NavItem{Label: "Aktiviteter", Href: base + "/aktiviteter", Order: 20},
				modules.NavItem{Label: "Prosedyrer", Href: base + "/prosedyrer", Order: 21})
		case "supervisor":
			items = append(items, modules.NavItem{Label: "Signering", Href: base + "/signering", Order: 25})
		}
	}
	return items
}

func actor(v *modules.Viewer) tenants.Actor {
	return tenants.Actor{PersonID: v.PersonID, Name: v.Name()}
}

func (m *Module) base(v *modules.Viewer) string { return "/t/" + v.Tenant.Slug }

// ---- The LIS's activities -----------------------------------------------------

type listPage struct {
	Activities []Activity
	// Waiting: what waited at an earlier workplace, to send again here.
	Waiting     []WaitingActivity
	Supervisors []Option
	Errors      map[string]string
	Q, Status   string
	Statuses    []struct{ Code, Label string }
	Message     string
	Notice      string
}

var statusOrder = []string{StatusRequested, StatusSigned, StatusRegistered, StatusRejected, StatusWithdrawn}

func (m *Module) list(c echo.Context) error { return m.renderList(c, http.StatusOK, nil) }

func (m *Module) renderList(c echo.Context, status int, problem error) error {
	v := modules.ViewerFrom(c.Request().Context())
	p := listPage{Q: c.QueryParam("q"), Status: c.QueryParam("status"), Errors: apperr.FieldsOf(problem)}
	for _, s := range statusOrder {
		p.Statuses = append(p.Statuses, struct{ Code, Label string }{s, StatusLabel(s)})
	}
	if problem != nil && p.Errors == nil {
		p.Message = apperr.MessageOf(problem)
	}
	switch c.QueryParam("ok") {
	case "sendt":
		p.Notice = "Aktiviteten er sendt til signering her."
	case "ny":
		p.Notice = "Aktiviteten er registrert."
	case "trukket":
		p.Notice = "Forespørselen er trukket tilbake."
	}
	var err error
	if p.Activities, err = m.store.List(c.Request().Context(), v.Tenant.ID, v.PersonID, p.Q, p.Status); err != nil {
		return err
	}
	if p.Waiting, err = m.store.WaitingElsewhere(c.Request().Context(), v.Tenant.ID, v.PersonID); err != nil {
		return err
	}
	if len(p.Waiting) > 0 {
		if p.Supervisors, err = m.store.SupervisorsHere(c.Request().Context(), v.Tenant.ID, v.PersonID); err != nil {
			return err
		}
	}
	return m.pages.Render(c, status, "list", "Mine aktiviteter", p)
}

// show is one of the LIS's activities with every decision on it: who, when,
// and exactly what they signed or rejected.
func (m *Module) show(c echo.Context) error {
	v := modules.ViewerFrom(c.Request().Context())
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return apperr.Default(apperr.NotFound)
	}
	a, err := m.store.Get(c.Request().Context(), v.Tenant.ID, v.PersonID, id)
	if err != nil {
		return err
	}
	return m.pages.Render(c, http.StatusOK, "activity", a.Title, a)
}

type newPage struct {
	*FormData
	Kinds  []struct{ Code, Label string }
	Form   map[string]string
	Chosen map[string]bool
	Errors map[string]string
	Today  string
}

func (m *Module) newForm(c echo.Context) error { return m.renderNew(c, http.StatusOK, nil) }

func (m *Module) renderNew(c echo.Context, status int, problem error) error {
	v := modules.ViewerFrom(c.Request().Context())
	f, err := m.store.Form(c.Request().Context(), v.Tenant.ID, v.PersonID)
	if err != nil {
		return err
	}
	p := newPage{FormData: f, Kinds: Kinds, Errors: apperr.FieldsOf(problem), Today: m.now().In(web.Oslo).Format("2006-01-02"),
		Form: map[string]string{}, Chosen: map[string]bool{}}
	for _, k := range []string{"kind", "title", "done_on", "arena", "comment", "supervisor", "document"} {
		p.Form[k] = c.FormValue(k)
	}
	if p.Form["done_on"] == "" {
		p.Form["done_on"] = p.Today
	}
	for _, g := range formValues(c, "goals") {
		p.Chosen[g] = true
	}
	if problem != nil && p.Errors == nil {
		p.Errors = map[string]string{"form": apperr.MessageOf(problem)}
	}
	return m.pages.Render(c, status, "new", "Registrer aktivitet", p)
}

func formValues(c echo.Context, name string) []string {
	if err := c.Request().ParseForm(); err != nil {
		return nil
	}
	return c.Request().Form[name]
}

func (m *Module) create(c echo.Context) error {
	v := modules.ViewerFrom(c.Request().Context())
	in := Input{Kind: c.FormValue("kind"), Title: c.FormValue("title"), DoneOn: c.FormValue("done_on"), ArenaID: c.FormValue("arena"),
		GoalCodes: formValues(c, "goals"), Comment: c.FormValue("comment"), SupervisorID: c.FormValue("supervisor"), DocumentID: c.FormValue("document")}
	if in.Kind == "procedure" {
		// Procedures are registered from the procedure list, where they are counted.
		return m.renderNew(c, http.StatusUnprocessableEntity, apperr.InvalidFields(map[string]string{"kind": "Prosedyrer registreres fra prosedyrelisten."}))
	}
	_, err := m.store.Create(c.Request().Context(), v.Tenant.ID, actor(v), in)
	return web.Answer(c, err, m.renderNew, m.base(v)+"/aktiviteter?ok=ny")
}

// resend sends an activity that waited at an earlier workplace to a
// supervisor here (Store.Resend).
func (m *Module) resend(c echo.Context) error {
	v := modules.ViewerFrom(c.Request().Context())
	activity, err1 := uuid.Parse(c.FormValue("activity"))
	supervisor, err2 := uuid.Parse(c.FormValue("supervisor"))
	var err error
	switch {
	case err1 != nil:
		err = apperr.New(apperr.Conflict, "Fant ikke aktiviteten.")
	case err2 != nil:
		err = apperr.InvalidFields(map[string]string{"supervisor": "Velg en av supervisørene dine her."})
	default:
		_, err = m.store.Resend(c.Request().Context(), v.Tenant.ID, actor(v), activity, supervisor)
	}
	if apperr.Is(err, apperr.NotFound) { // gone meanwhile: say so on the list
		err = apperr.New(apperr.Conflict, "%s", apperr.MessageOf(err))
	}
	return web.Answer(c, err, m.renderList, m.base(v)+"/aktiviteter?ok=sendt")
}

func (m *Module) withdraw(c echo.Context) error {
	v := modules.ViewerFrom(c.Request().Context())
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return apperr.Default(apperr.NotFound)
	}
	err = m.store.Withdraw(c.Request().Context(), v.Tenant.ID, actor(v), id)
	if apperr.Is(err, apperr.Conflict) {
		return m.renderList(c, http.StatusConflict, err)
	}
	if err != nil {
		return err
	}
	return web.Redirect(c, m.base(v)+"/aktiviteter?ok=trukket")
}

// ---- Procedure list -------------------------------------------------------------

type proceduresPage struct {
	*FormData
	Procedures []Procedure
	Q          string
	Form       map[string]string
	Errors     map[string]string
	Notice     string
	Today      string
}

func (m *Module) procedures(c echo.Context) error { return m.renderProcedures(c, http.StatusOK, nil) }

func (m *Module) renderProcedures(c echo.Context, status int, problem error) error {
	v := modules.ViewerFrom(c.Request().Context())
	ctx := c.Request().Context()
	f, err := m.store.Form(ctx, v.Tenant.ID, v.PersonID)
	if err != nil {
		return err
	}
	p := proceduresPage{FormData: f, Q: c.QueryParam("q"), Errors: apperr.FieldsOf(problem), Form: map[string]string{},
		Today: m.now().In(web.Oslo).Format("2006-01-02")}
	if p.Procedures, err = m.store.Procedures(ctx, v.Tenant.ID, v.PersonID, p.Q); err != nil {
		return err
	}
	p.Form["supervisor"] = f.Remembered
	p.Form["done_on"] = p.Today
	if c.Request().Method == http.MethodPost {
		p.Form["supervisor"], p.Form["done_on"] = c.FormValue("supervisor"), c.FormValue("done_on")
		for _, pr := range p.Procedures {
			p.Form["n-"+pr.Key], p.Form["role-"+pr.Key] = c.FormValue("n-"+pr.Key), c.FormValue("role-"+pr.Key)
		}
	}
	if problem != nil && p.Errors == nil {
		p.Errors = map[string]string{"form": apperr.MessageOf(problem)}
	}
	if n, err := strconv.Atoi(c.QueryParam("sendt")); err == nil && n > 0 {
		p.Notice = strconv.Itoa(n) + " registrert og sendt til signering."
	}
	return m.pages.Render(c, status, "procedures", "Prosedyrer", p)
}

func (m *Module) registerProcedures(c echo.Context) error {
	v := modules.ViewerFrom(c.Request().Context())
	if err := c.Request().ParseForm(); err != nil {
		return apperr.Default(apperr.Invalid)
	}
	var lines []Repetitions
	var keys []string
	for name := range c.Request().Form {
		if strings.HasPrefix(name, "n-") {
			keys = append(keys, strings.TrimPrefix(name, "n-"))
		}
	}
	sort.Strings(keys)
	bad := map[string]string{}
	total := 0
	for _, k := range keys {
		s := strings.TrimSpace(c.FormValue("n-" + k))
		if s == "" || s == "0" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			bad["n-"+k] = "Skriv et antall mellom 1 og 1000."
			continue
		}
		role := c.FormValue("role-" + k)
		if role != RoleAssisted && role != RolePerformed {
			bad["role-"+k] = "Velg assistert eller utført."
			continue
		}
		lines = append(lines, Repetitions{Key: k, Role: role, Count: n})
		total += n
	}
	if err := apperr.InvalidFields(bad); err != nil {
		return m.renderProcedures(c, http.StatusUnprocessableEntity, err)
	}
	_, err := m.store.RegisterProcedures(c.Request().Context(), v.Tenant.ID, actor(v), c.FormValue("supervisor"), c.FormValue("done_on"), lines)
	if apperr.Is(err, apperr.Invalid) {
		return m.renderProcedures(c, http.StatusUnprocessableEntity, err)
	}
	if err != nil {
		return err
	}
	return web.Redirect(c, m.base(v)+"/prosedyrer?sendt="+strconv.Itoa(total))
}

func (m *Module) favourite(c echo.Context) error {
	v := modules.ViewerFrom(c.Request().Context())
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return apperr.Default(apperr.NotFound)
	}
	if err := m.store.ToggleFavourite(c.Request().Context(), v.Tenant.ID, v.PersonID, id); err != nil {
		return err
	}
	return web.Redirect(c, m.base(v)+"/prosedyrer")
}

// ---- The supervisor's queue -----------------------------------------------------

type lisGroup struct {
	LisName    string
	Activities []Activity
}

type queuePage struct {
	Groups  []lisGroup
	Count   int
	Message string
	Notice  string
}

func (m *Module) queue(c echo.Context) error { return m.renderQueue(c, http.StatusOK, nil) }

func (m *Module) renderQueue(c echo.Context, status int, problem error) error {
	v := modules.ViewerFrom(c.Request().Context())
	list, err := m.store.Queue(c.Request().Context(), v.Tenant.ID, v.PersonID)
	if err != nil {
		return err
	}
	p := queuePage{Count: len(list)}
	at := map[uuid.UUID]int{}
	for _, a := range list { // oldest first; each LIS where their oldest request is
		i, ok := at[a.LisID]
		if !ok {
			i = len(p.Groups)
			at[a.LisID] = i
			p.Groups = append(p.Groups, lisGroup{LisName: a.LisName})
		}
		p.Groups[i].Activities = append(p.Groups[i].Activities, a)
	}
	if problem != nil {
		p.Message = apperr.MessageOf(problem)
	}
	switch c.QueryParam("ok") {
	case "signed":
		p.Notice = "Signert."
	case "rejected":
		p.Notice = "Avvist."
	}
	return m.pages.Render(c, status, "queue", "Til signering", p)
}

// decide takes one form: a button "one" = "<decision>:<id>" decides that
// activity with its own comment; otherwise "decision" applies to every
// checked "id".
func (m *Module) decide(c echo.Context) error {
	v := modules.ViewerFrom(c.Request().Context())
	decision := c.FormValue("decision")
	var ids []string
	if one := c.FormValue("one"); one != "" {
		d, id, _ := strings.Cut(one, ":")
		decision, ids = d, []string{id}
	} else {
		ids = formValues(c, "id")
	}
	var ds []Decision
	for _, s := range ids {
		id, err := uuid.Parse(s)
		if err != nil {
			return apperr.Default(apperr.NotFound)
		}
		ds = append(ds, Decision{ActivityID: id, Comment: c.FormValue("comment-" + s)})
	}
	err := m.store.Decide(c.Request().Context(), v.Tenant.ID, actor(v), decision, ds)
	if code := apperr.CodeOf(err); code == apperr.Conflict || code == apperr.Invalid {
		return m.renderQueue(c, apperr.Status(code), err)
	}
	if err != nil {
		return err
	}
	return web.Redirect(c, m.base(v)+"/signering?ok="+decision)
}

// QueueRow is one request in the supervisor's queue. It is written here and
// not in queue.html because html/template's escaping, called by reflection for
// each of a row's twenty values, was half of the queue page's CPU with 50
// requests waiting; every value is escaped with html.EscapeString, which is
// safe in text and in the quoted attributes it goes into.
func (a *Activity) QueueRow(slug string) template.HTML {
	e, id := html.EscapeString, a.ID.String()
	var b strings.Builder
	b.Grow(1500)
	b.WriteString(`<li class="kp-row" data-testid="request"><div class="ds-field"><input class="ds-input" type="checkbox" id="pick-` + id + `" name="id" value="` + id + `">`)
	b.WriteString(`<label class="ds-label" data-weight="regular" for="pick-` + id + `"><strong>` + e(a.Title) + `</strong>`)
	if a.ProcedureRole != "" {
		b.WriteString(" – " + strconv.Itoa(a.Count) + " " + e(a.RoleLabel()))
	}
	b.WriteString(`</label><span class="kp-muted">` + e(a.KindLabel()) + " · " + a.DoneOn.Format("2.1.2006"))
	if a.ArenaName != "" {
		b.WriteString(" · " + e(a.ArenaName))
	}
	if len(a.GoalCodes) > 0 {
		b.WriteString(" · mål " + e(strings.Join(a.GoalCodes, ", ")))
	}
	if a.Comment != "" {
		b.WriteString(" · «" + e(a.Comment) + "»")
	}
	b.WriteString(`</span>`)
	if d := a.Document; d != nil {
		doc := "/t/" + e(slug) + "/dokumenter/" + d.ID.String()
		b.WriteString(`<span data-testid="kursbevis">Kursbevis: <a class="ds-link" href="` + doc + `/vis" target="_blank" rel="noopener" data-testid="kursbevis-view">` + e(d.Name) + `</a> (` +
			e(d.TypeLabel()) + ", " + e(d.SizeLabel()) + `) · <a class="ds-link" href="` + doc + `" data-testid="kursbevis-download">Last ned</a>`)
		if d.Image() {
			b.WriteString(`<br><a href="` + doc + `/vis" target="_blank" rel="noopener"><img src="` + doc + `/vis" alt="Kursbevis: ` + e(d.Name) + `" width="160" data-testid="kursbevis-preview"></a>`)
		}
		b.WriteString(`</span>`)
	}
	b.WriteString(`</div><div class="kp-buttons"><input class="ds-input" name="comment-` + id + `" aria-label="Kommentar til ` + e(a.Title) + `" placeholder="Kommentar (valgfritt)">`)
	b.WriteString(`<button class="ds-button" type="submit" name="one" value="signed:` + id + `" data-testid="sign-one">Signer</button>`)
	b.WriteString(`<button class="ds-button" data-variant="secondary" data-color="danger" type="submit" name="one" value="rejected:` + id + `" data-testid="reject-one">Avvis</button></div></li>`)
	return template.HTML(b.String())
}
