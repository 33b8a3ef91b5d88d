package registrations

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"kportal/modules"
	"kportal/modules/apperr"
	"kportal/modules/web"
	"kportal/modules/workflow"
	"kportal/tenants"
	"kportal/workers"
)

// partials are rendered on their own and handed to the pages as HTML, so the
// virksomhet's page and Helsedirektoratet's share them.
var partials = template.Must(template.New("partials").ParseFS(templatesFS, "templates/partials/*.html"))

func renderPartial(name string, data any) (template.HTML, error) {
	var b bytes.Buffer
	if err := partials.ExecuteTemplate(&b, name, data); err != nil {
		return "", err
	}
	return template.HTML(b.String()), nil //nolint:gosec // produced by html/template, escaped
}

var months = [...]string{"januar", "februar", "mars", "april", "mai", "juni", "juli", "august", "september", "oktober", "november", "desember"}

func formatDate(t *time.Time) string {
	if t == nil {
		return ""
	}
	l := t.In(workers.Oslo)
	return fmt.Sprintf("%d. %s %d", l.Day(), months[l.Month()-1], l.Year())
}

func formatTime(t time.Time) string {
	return formatDate(&t) + " kl. " + t.In(workers.Oslo).Format("15.04")
}

func stateColor(s State) string {
	switch s {
	case Submitted:
		return "info"
	case ChangesRequested:
		return "warning"
	case Approved:
		return "success"
	case Rejected:
		return "danger"
	}
	return "neutral"
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// granted is the Can of an actor whose route guard checked acts on the
// registration object: the workflow then refuses transitions needing others.
func granted(acts ...string) workflow.Can {
	return func(obj, act string) (bool, error) {
		return obj == Object && slices.Contains(acts, act), nil
	}
}

func tenantActor(v *modules.Viewer) Actor {
	return Actor{PersonID: v.PersonID, Name: v.Name(), Role: "tenant_admin", Can: granted(ActionRead, ActionEdit)}
}

func reviewActor(v *modules.Viewer) Actor {
	return Actor{PersonID: v.PersonID, Name: v.Name(), Role: tenants.RoleHdir, Can: granted(ActionReview)}
}

// ---- views shared by both sides ----

type summaryArena struct {
	Name        string
	Description []string
	Goals       string
}

type summaryView struct {
	Specialties       []string
	Arenas            []summaryArena
	UncoveredLIS1     string
	Supervision       []string
	PartnerAgreements []string
	ContactName       string
	ContactEmail      string
	ContactPhone      string
}

func summaryOf(c Content) summaryView {
	s := summaryView{Supervision: lines(c.Supervision), PartnerAgreements: lines(c.PartnerAgreements),
		ContactName: c.ContactName, ContactEmail: c.ContactEmail, ContactPhone: c.ContactPhone}
	lis1 := false
	for _, code := range c.Specialties {
		s.Specialties = append(s.Specialties, specialtyLabel(code))
		lis1 = lis1 || code == "LIS1"
	}
	covered := map[string]bool{}
	for _, a := range c.Arenas {
		for _, g := range a.LIS1Goals {
			covered[g] = true
		}
		s.Arenas = append(s.Arenas, summaryArena{Name: a.Name, Description: lines(a.Description), Goals: strings.Join(a.codes(), ", ")})
	}
	if lis1 {
		var missing []string
		for _, g := range LIS1Goals {
			if !covered[g] {
				missing = append(missing, g)
			}
		}
		s.UncoveredLIS1 = strings.Join(missing, ", ")
	}
	return s
}

type eventView struct {
	What    string
	When    string
	Who     string
	Comment []string
}

func eventLabel(e Event) string {
	switch e.Kind {
	case Submitted:
		if e.FromState == ChangesRequested {
			return "Sendt på nytt til Helsedirektoratet"
		}
		return "Sendt til Helsedirektoratet"
	case ChangesRequested:
		return "Helsedirektoratet ba om endringer"
	case Approved:
		return "Godkjent av Helsedirektoratet"
	case Rejected:
		return "Avslått av Helsedirektoratet"
	}
	return StateLabel(e.Kind)
}

func eventsOf(evs []Event) []eventView {
	out := make([]eventView, 0, len(evs))
	for _, e := range evs {
		who := e.ActorName
		if e.ActorRole == tenants.RoleHdir {
			who += " (Helsedirektoratet)"
		}
		out = append(out, eventView{What: eventLabel(e), When: formatTime(e.CreatedAt), Who: who, Comment: lines(e.Comment)})
	}
	return out
}

// ---- the virksomhet's page ----

type goalOption struct {
	Code    string
	Checked bool
}

type arenaRow struct {
	Index       int
	Number      int
	Name        string
	Description string
	OtherGoals  string
	Goals       []goalOption
	Chosen      int
	New         bool
	Errors      map[string]string // name, description, goals, lis1
}

type specialtyOption struct {
	Code, Label string
	Checked     bool
}

type formView struct {
	Action      string
	SendAction  string
	SendLabel   string
	Specialties []specialtyOption
	Arenas      []arenaRow
	ArenaCount  int
	Content
	Errors map[string]string
}

func newForm(slug string, c Content, emptyRows int, p Problems, resend bool) *formView {
	errs := p.fields()
	f := &formView{Action: "/t/" + slug + "/utdanningsvirksomhet", SendAction: "/t/" + slug + "/utdanningsvirksomhet/send",
		SendLabel: "Send til Helsedirektoratet", Content: c, Errors: errs}
	if resend {
		f.SendLabel = "Send på nytt til Helsedirektoratet"
	}
	for _, s := range Specialties {
		f.Specialties = append(f.Specialties, specialtyOption{Code: s.Code, Label: s.Label, Checked: slices.Contains(c.Specialties, s.Code)})
	}
	rows := append([]Arena(nil), c.Arenas...)
	for i := 0; i < emptyRows; i++ {
		rows = append(rows, Arena{})
	}
	for i, a := range rows {
		r := arenaRow{Index: i, Number: i + 1, Name: a.Name, Description: a.Description, OtherGoals: a.OtherGoals,
			New: i >= len(c.Arenas), Errors: map[string]string{}}
		for _, g := range LIS1Goals {
			on := slices.Contains(a.LIS1Goals, g)
			if on {
				r.Chosen++
			}
			r.Goals = append(r.Goals, goalOption{Code: g, Checked: on})
		}
		for _, k := range []string{"name", "description", "goals", "lis1"} {
			if msg, ok := errs[arenaField(i, k)]; ok {
				r.Errors[k] = msg
			}
		}
		f.Arenas = append(f.Arenas, r)
	}
	f.ArenaCount = len(rows)
	return f
}

type pageData struct {
	Tenant        *tenants.Tenant
	Signed        bool
	AgreementHref string
	StateLabel    string
	StateColor    string
	RegisteredOn  string
	LastSent      string
	Restart       bool
	Feedback      *eventView
	FeedbackColor string
	Form          *formView
	Summary       template.HTML
	History       template.HTML
	Notice        string
	Problem       string
	Problems      Problems
}

// virksomhet is the viewer and the tenant of a registration page; tenants
// that do not register (helseforetak, the national authority) have no such
// page.
func virksomhet(c echo.Context) (*modules.Viewer, *tenants.Tenant, error) {
	v := modules.ViewerFrom(c.Request().Context())
	if v == nil || v.Tenant == nil || !eligible(v.Tenant.Kind) {
		return nil, nil, apperr.Default(apperr.NotFound)
	}
	return v, v.Tenant, nil
}

func (m *Module) isSigned(c echo.Context, t *tenants.Tenant) (bool, error) {
	if m.signed == nil {
		return false, nil
	}
	return m.signed(c.Request().Context(), t.ID)
}

// pageFor builds the page from what is stored; the form (when the
// registration can be edited) shows posted, unsaved content when given.
func (m *Module) pageFor(c echo.Context, t *tenants.Tenant, posted *Content, emptyRows int, p Problems) (*pageData, error) {
	signed, err := m.isSigned(c, t)
	if err != nil {
		return nil, err
	}
	reg, evs, err := m.store.Current(c.Request().Context(), t.ID)
	if err != nil {
		return nil, err
	}
	d := &pageData{Tenant: t, Signed: signed, AgreementHref: "/t/" + t.Slug + "/databehandleravtale",
		StateLabel: "Ikke påbegynt", StateColor: "neutral"}
	content := Content{}
	editable := true
	if reg != nil {
		content = reg.Content
		d.StateLabel, d.StateColor = StateLabel(reg.State), stateColor(reg.State)
		d.RegisteredOn, d.LastSent = formatDate(reg.FirstSubmittedAt), formatDate(reg.LastSubmittedAt)
		d.Restart = reg.State == Rejected
		editable = reg.State == Draft || reg.State == ChangesRequested || reg.State == Rejected
		if reg.State == ChangesRequested || reg.State == Rejected {
			for i := len(evs) - 1; i >= 0; i-- {
				if evs[i].Kind == reg.State {
					ev := eventsOf(evs[i : i+1])[0]
					d.Feedback, d.FeedbackColor = &ev, stateColor(reg.State)
					break
				}
			}
		}
		if d.History, err = renderPartial("history", eventsOf(evs)); err != nil {
			return nil, err
		}
	}
	if !signed {
		return d, nil
	}
	if editable {
		if posted != nil {
			content = *posted
		}
		d.Form = newForm(t.Slug, content, emptyRows, p, reg != nil && reg.State == ChangesRequested)
		d.Problems = p
	} else if d.Summary, err = renderPartial("summary", summaryOf(content)); err != nil {
		return nil, err
	}
	return d, nil
}

func (m *Module) renderPage(c echo.Context, status int, d *pageData) error {
	return m.pages.Render(c, status, "registration", "Registrering som utdanningsvirksomhet", d)
}

func (m *Module) page(c echo.Context) error {
	_, t, err := virksomhet(c)
	if err != nil {
		return err
	}
	empty, _ := strconv.Atoi(c.QueryParam("tomme"))
	empty = min(max(empty, 1), 10)
	d, err := m.pageFor(c, t, nil, empty, nil)
	if err != nil {
		return err
	}
	switch {
	case c.QueryParam("lagret") != "":
		d.Notice = "Utkastet er lagret."
	case c.QueryParam("sendt") != "":
		d.Notice = "Registreringen er sendt til Helsedirektoratet. Du ser svaret her når den er behandlet."
	}
	return m.renderPage(c, http.StatusOK, d)
}

// parseForm reads the registration form: the content, and how many arena
// rows were left empty.
func parseForm(c echo.Context) (Content, int, error) {
	form, err := c.FormParams()
	if err != nil {
		return Content{}, 0, apperr.New(apperr.Invalid, "Skjemaet kunne ikke leses.")
	}
	ct := Content{
		Specialties: form["specialty"], Supervision: form.Get("supervision"), PartnerAgreements: form.Get("partner_agreements"),
		ContactName: form.Get("contact_name"), ContactEmail: form.Get("contact_email"), ContactPhone: form.Get("contact_phone"),
	}
	n, _ := strconv.Atoi(form.Get("arena_count"))
	n = min(max(n, 0), maxArenas+10)
	rows := 0
	for i := 0; i < n; i++ {
		if form.Get(arenaField(i, "remove")) != "" {
			continue
		}
		rows++
		ct.Arenas = append(ct.Arenas, Arena{Name: form.Get(arenaField(i, "name")), Description: form.Get(arenaField(i, "description")),
			LIS1Goals: form[arenaField(i, "lis1")], OtherGoals: form.Get(arenaField(i, "goals"))})
	}
	ct.normalize()
	return ct, rows - len(ct.Arenas), nil
}

const unsignedMessage = "Virksomheten må signere databehandleravtalen før den kan registrere seg som utdanningsvirksomhet."

// refused shows the page again after a refused save or submission: with the
// posted content and the problems next to the fields (422), or with the
// reason at the top (409: no agreement, or the registration cannot change).
func (m *Module) refused(c echo.Context, t *tenants.Tenant, posted Content, cause error) error {
	var d *pageData
	var err error
	switch apperr.CodeOf(cause) {
	case apperr.Invalid:
		p := ProblemsOf(cause)
		if p == nil {
			return cause
		}
		if d, err = m.pageFor(c, t, &posted, 1, p); err != nil {
			return err
		}
		d.Problem = apperr.MessageOf(cause)
		if d.Form == nil { // the agreement went away meanwhile
			d.Problem = unsignedMessage
			return m.renderPage(c, http.StatusConflict, d)
		}
		return m.renderPage(c, http.StatusUnprocessableEntity, d)
	case apperr.Conflict:
		if d, err = m.pageFor(c, t, &posted, 1, nil); err != nil {
			return err
		}
		d.Problem = apperr.MessageOf(cause)
		return m.renderPage(c, http.StatusConflict, d)
	}
	return cause
}

// posted reads a kommune's form, refusing it while no databehandleravtale is
// signed: nothing is saved before there is one.
// posted reads a form post. A nil viewer with a nil error means the post was
// refused and the answer is already written.
func (m *Module) posted(c echo.Context) (v *modules.Viewer, t *tenants.Tenant, content Content, emptyRows int, refused error) {
	v, t, err := virksomhet(c)
	if err != nil {
		return nil, nil, content, 0, err
	}
	if content, emptyRows, err = parseForm(c); err != nil {
		return nil, nil, content, 0, err
	}
	signed, err := m.isSigned(c, t)
	if err != nil {
		return nil, nil, content, 0, err
	}
	if !signed {
		return nil, nil, content, 0, m.refused(c, t, content, apperr.New(apperr.Conflict, unsignedMessage))
	}
	return v, t, content, emptyRows, nil
}

func (m *Module) save(c echo.Context) error {
	v, t, content, emptyRows, err := m.posted(c)
	if err != nil || v == nil {
		return err
	}
	reg, err := m.store.SaveDraft(c.Request().Context(), tenantActor(v), t.ID, content)
	if err != nil {
		return m.refused(c, t, content, err)
	}
	base := "/t/" + t.Slug + "/utdanningsvirksomhet"
	if c.FormValue("action") == "add_arena" {
		return web.Redirect(c, fmt.Sprintf("%s?tomme=%d#arena-%d", base, emptyRows+1, len(reg.Arenas)+emptyRows))
	}
	return web.Redirect(c, base+"?lagret=1")
}

func (m *Module) submit(c echo.Context) error {
	v, t, content, _, err := m.posted(c)
	if err != nil || v == nil {
		return err
	}
	if _, err := m.store.Submit(c.Request().Context(), tenantActor(v), t.ID, content); err != nil {
		return m.refused(c, t, content, err)
	}
	return web.Redirect(c, "/t/"+t.Slug+"/utdanningsvirksomhet?sendt=1")
}

// ---- Helsedirektoratet's pages ----

// reviewer is the signed-in person holding the hdir role. The route guard
// checked it already; withReviewTx is never reached without it.
func reviewer(c echo.Context) (*modules.Viewer, error) {
	v := modules.ViewerFrom(c.Request().Context())
	if v == nil || !v.HasPlatformRole(tenants.RoleHdir) {
		return nil, apperr.Default(apperr.Forbidden)
	}
	return v, nil
}

type queueRow struct {
	Href         string
	TenantName   string
	KindLabel    string
	RegisteredOn string
	LastSent     string
	Resent       bool
	DecidedOn    string
	StateLabel   string
	StateColor   string
}

type queueData struct {
	Waiting  []queueRow
	Returned []queueRow
	Decided  []queueRow
}

func (m *Module) queue(c echo.Context) error {
	v, err := reviewer(c)
	if err != nil {
		return err
	}
	items, err := m.store.Queue(c.Request().Context(), v.PersonID)
	if err != nil {
		return err
	}
	var d queueData
	for _, s := range items {
		row := queueRow{Href: "/hdir/registreringer/" + s.TenantSlug + "/" + s.ID.String(), TenantName: s.TenantName,
			KindLabel: kindLabel(s.TenantKind), RegisteredOn: formatDate(s.FirstSubmittedAt), LastSent: formatDate(s.LastSubmittedAt),
			DecidedOn: formatDate(s.DecidedAt), StateLabel: StateLabel(s.State), StateColor: stateColor(s.State)}
		row.Resent = s.LastSubmittedAt != nil && s.FirstSubmittedAt != nil && !s.LastSubmittedAt.Equal(*s.FirstSubmittedAt)
		switch s.State {
		case Submitted:
			d.Waiting = append(d.Waiting, row)
		case ChangesRequested:
			d.Returned = append(d.Returned, row)
		default:
			d.Decided = append(d.Decided, row)
		}
	}
	return m.pages.Render(c, http.StatusOK, "queue", "Registreringer av utdanningsvirksomheter", d)
}

type reviewData struct {
	Tenant       *tenants.Tenant
	KindLabel    string
	StateLabel   string
	StateColor   string
	RegisteredOn string
	LastSent     string
	DecidedOn    string
	Summary      template.HTML
	History      template.HTML
	CanDecide    bool
	Action       string
	Comment      string
	Errors       map[string]string
	Notice       string
	Problem      string
}

// loadReview finds the registration named in the URL through the review
// transaction: drafts and unknown ids are not found.
func (m *Module) loadReview(c echo.Context, v *modules.Viewer) (*reviewData, *tenants.Tenant, *Registration, error) {
	t, err := tenants.BySlug(c.Request().Context(), m.db, c.Param("org"))
	if err != nil {
		return nil, nil, nil, err
	}
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return nil, nil, nil, apperr.Default(apperr.NotFound)
	}
	reg, evs, err := m.store.Review(c.Request().Context(), v.PersonID, t.ID, id)
	if err != nil {
		return nil, nil, nil, err
	}
	d := &reviewData{Tenant: t, KindLabel: kindLabel(t.Kind), StateLabel: StateLabel(reg.State), StateColor: stateColor(reg.State),
		RegisteredOn: formatDate(reg.FirstSubmittedAt), LastSent: formatDate(reg.LastSubmittedAt), DecidedOn: formatDate(reg.DecidedAt),
		CanDecide: reg.State == Submitted, Action: "/hdir/registreringer/" + url.PathEscape(t.Slug) + "/" + reg.ID.String() + "/beslutning"}
	if d.Summary, err = renderPartial("summary", summaryOf(reg.Content)); err != nil {
		return nil, nil, nil, err
	}
	if d.History, err = renderPartial("history", eventsOf(evs)); err != nil {
		return nil, nil, nil, err
	}
	return d, t, reg, nil
}

func (m *Module) renderReview(c echo.Context, status int, d *reviewData) error {
	return m.pages.Render(c, status, "review", d.Tenant.Name+" – registrering", d)
}

func (m *Module) review(c echo.Context) error {
	v, err := reviewer(c)
	if err != nil {
		return err
	}
	d, _, _, err := m.loadReview(c, v)
	if err != nil {
		return err
	}
	switch c.QueryParam("beslutning") {
	case TransitionRequestChanges:
		d.Notice = "Registreringen er sendt tilbake til virksomheten med ønske om endringer."
	case TransitionApprove:
		d.Notice = "Registreringen er godkjent."
	case TransitionReject:
		d.Notice = "Registreringen er avslått."
	}
	return m.renderReview(c, http.StatusOK, d)
}

func (m *Module) decide(c echo.Context) error {
	v, err := reviewer(c)
	if err != nil {
		return err
	}
	_, t, reg, err := m.loadReview(c, v)
	if err != nil {
		return err
	}
	decision, comment := c.FormValue("decision"), c.FormValue("comment")
	_, err = m.store.Decide(c.Request().Context(), reviewActor(v), t.ID, reg.ID, decision, comment)
	if err == nil {
		return web.Redirect(c, "/hdir/registreringer/"+url.PathEscape(t.Slug)+"/"+reg.ID.String()+"?beslutning="+url.QueryEscape(decision))
	}
	code := apperr.CodeOf(err)
	if code != apperr.Invalid && code != apperr.Conflict {
		return err
	}
	d, _, _, lerr := m.loadReview(c, v) // the state may have changed meanwhile
	if lerr != nil {
		return lerr
	}
	d.Comment, d.Problem, d.Errors = comment, apperr.MessageOf(err), ProblemsOf(err).fields()
	return m.renderReview(c, apperr.Status(code), d)
}
