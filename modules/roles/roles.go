// Package roles is the tenant administrator's people pages: the tenant's
// people with their roles, HPR numbers and relations; adding a person;
// changing a person's roles, leder, veileder, supervisors and specialties;
// importing many people from a CSV file; and the tenant's audit log.
//
// Everything a page shows or changes is read in the tenant named in the URL
// (tenants.WithTenantTx, so row-level security holds), and a person is only
// reachable by id through a membership in that tenant: another tenant's
// person answers 404. Every change is written to the audit log, mostly by
// the tenants functions it calls (GrantRole, RevokeRole, SetRelation,
// RemoveRelation), the rest here (HPR numbers, specialties, imports).
//
// Leder and veileder: the person named must already hold that role in the
// tenant, or — in a CSV file — be on another line of the same file with that
// role. A new person is thus added in order: ledere and veiledere first (or
// in the same file), then the LIS.
package roles

import (
	"embed"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/uptrace/bun"

	"kportal/modules"
	"kportal/modules/apperr"
	"kportal/modules/identity"
	"kportal/modules/web"
	"kportal/policies"
	"kportal/tenants"
)

//go:embed templates
var templatesFS embed.FS

// Casbin objects and actions of this module.
const (
	ObjectPerson = "person"
	ObjectAudit  = "audit"
	ActionRead   = "read"
	ActionManage = "manage"
)

// Module is the roles module.
type Module struct {
	store *Store
	pages *web.Pages
}

// New returns the module; k creates the Kratos identities of new people.
func New(db bun.IDB, nav web.NavFunc, k *identity.Kratos) *Module {
	sub, _ := fs.Sub(templatesFS, "templates")
	return &Module{store: NewStore(db, k), pages: web.MustPages(sub, nav)}
}

// Store is the module's store.
func (m *Module) Store() *Store { return m.store }

func (m *Module) Info() modules.Info {
	return modules.Info{ID: "roles", Title: "Personer og roller", Requires: []string{"web"}}
}

func (m *Module) Policies() []policies.Rule {
	return []policies.Rule{
		{Role: "tenant_admin", Object: ObjectPerson, Action: ActionRead},
		{Role: "tenant_admin", Object: ObjectPerson, Action: ActionManage},
		{Role: "tenant_admin", Object: ObjectAudit, Action: ActionRead},
	}
}

func (m *Module) Routes(r *modules.Router) {
	read, manage := modules.Need(ObjectPerson, ActionRead), modules.Need(ObjectPerson, ActionManage)
	r.GET("/t/:tenant/admin/personer", m.list, read)
	r.POST("/t/:tenant/admin/personer", m.add, manage)
	r.GET("/t/:tenant/admin/personer/ny", m.addForm, manage)
	r.GET("/t/:tenant/admin/personer/import", m.importForm, manage)
	r.POST("/t/:tenant/admin/personer/import", m.importFile, manage)
	r.GET("/t/:tenant/admin/personer/import/mal.csv", m.template, manage)
	r.GET("/t/:tenant/admin/personer/:id", m.person, read)
	r.POST("/t/:tenant/admin/personer/:id/roller", m.setRoles, manage)
	r.POST("/t/:tenant/admin/personer/:id/hpr", m.setHPR, manage)
	r.POST("/t/:tenant/admin/personer/:id/leder", m.setLeaders, manage)
	r.POST("/t/:tenant/admin/personer/:id/supervisorer", m.addSupervisor, manage)
	r.POST("/t/:tenant/admin/personer/:id/supervisorer/:sid/fjern", m.removeSupervisor, manage)
	r.POST("/t/:tenant/admin/personer/:id/spesialiteter", m.setSpecialties, manage)
	r.GET("/t/:tenant/admin/logg", m.log, modules.Need(ObjectAudit, ActionRead))
}

// Nav shows "Personer" and "Logg" to the administrators of the current tenant.
func (m *Module) Nav(v *modules.Viewer) []modules.NavItem {
	if v == nil || v.Tenant == nil || !v.Holds("tenant_admin") {
		return nil
	}
	base := "/t/" + v.Tenant.Slug + "/admin/"
	return []modules.NavItem{
		{Label: "Personer", Href: base + "personer", Order: 40},
		{Label: "Logg", Href: base + "logg", Order: 45},
	}
}

func viewer(c echo.Context) *modules.Viewer { return modules.ViewerFrom(c.Request().Context()) }

func actor(c echo.Context) tenants.Actor {
	v := viewer(c)
	return tenants.Actor{PersonID: v.PersonID, Name: v.Name()}
}

// tenant is the tenant named in the URL (the route guard has checked it).
func tenant(c echo.Context) *tenants.Tenant { return viewer(c).Tenant }

func base(c echo.Context) string { return "/t/" + tenant(c).Slug + "/admin/personer" }

// ---- the list ----

type listPage struct {
	Base      string
	Query     string
	Members   []Member
	More      bool
	Added     string // after an import: people added
	Granted   string // and roles granted
	RoleNames []string
}

func (m *Module) list(c echo.Context) error {
	t := tenant(c)
	q := strings.TrimSpace(c.QueryParam("q"))
	ms, err := m.store.Members(c.Request().Context(), t.ID, q)
	if err != nil {
		return err
	}
	p := listPage{Base: base(c), Query: q, Members: ms, Added: c.QueryParam("importert"), Granted: c.QueryParam("roller")}
	if len(ms) > ListLimit {
		p.Members, p.More = ms[:ListLimit], true
	}
	return m.pages.Render(c, http.StatusOK, "people", "Personer i "+t.Name, p)
}

// ---- adding one person ----

type addPage struct {
	Base    string
	Roles   []string
	Form    ImportRow
	Errors  map[string]string
	Message string
}

// Has reports whether the form has role ticked.
func (p addPage) Has(role string) bool { return slices.Contains(p.Form.Roles, role) }

func (m *Module) addForm(c echo.Context) error {
	return m.renderAdd(c, http.StatusOK, ImportRow{}, nil)
}

func (m *Module) renderAdd(c echo.Context, status int, form ImportRow, err error) error {
	p := addPage{Base: base(c), Roles: tenants.TenantRoles, Form: form, Errors: apperr.FieldsOf(err)}
	if err != nil {
		p.Message = apperr.MessageOf(err)
	}
	return m.pages.Render(c, status, "add", "Legg til person", p)
}

func (m *Module) add(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return apperr.Default(apperr.Invalid)
	}
	row := ImportRow{
		Email: form.Get("email"), GivenName: form.Get("given_name"), FamilyName: form.Get("family_name"),
		HPR: form.Get("hpr"), Roles: form["roles"],
		LederEmail: form.Get("leder"), VeilederEmail: form.Get("veileder"),
		LISSpecialties: form.Get("lis_specialties"), UAOSpecialties: form.Get("uao_specialties"),
	}
	res, problems, err := m.store.Import(c.Request().Context(), tenant(c).ID, actor(c), []ImportRow{row}, SourceForm)
	if err != nil {
		return err
	}
	if problems != nil {
		fields := map[string]string{}
		for _, p := range problems {
			if fields[p.Field] == "" {
				fields[p.Field] = p.Message
			}
		}
		return m.renderAdd(c, http.StatusUnprocessableEntity, row, apperr.InvalidFields(fields))
	}
	email, _ := tenants.CheckEmail(row.Email)
	return web.Redirect(c, fmt.Sprintf("%s/%s?lagret=ny", base(c), res.IDs[email]))
}

// ---- one person ----

type personPage struct {
	Base        string
	Member      *Member
	Roles       []string
	Ledere      []Person
	Veiledere   []Person
	Supervisors []Person // with the role, not yet supervisors of this LIS
	Saved       string
	Errors      map[string]string
	Message     string
	Form        map[string]string // what was typed, on an error
}

// HPRValue is the HPR field's value: what was typed after an error, else the number.
func (p personPage) HPRValue() string { return p.value("hpr", p.Member.HPR) }

// LISValue is the LIS specialties field's value.
func (p personPage) LISValue() string {
	return p.value("lis_specialties", strings.Join(p.Member.LISSpecialties, " "))
}

// UAOValue is the UAO specialties field's value.
func (p personPage) UAOValue() string {
	return p.value("uao_specialties", strings.Join(p.Member.UAOSpecialties, " "))
}

func (p personPage) value(field, current string) string {
	if v, ok := p.Form[field]; ok && p.Errors[field] != "" {
		return v
	}
	return current
}

// personID parses :id; anything that is not an id is a person that does not exist.
func personID(c echo.Context, name string) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param(name))
	if err != nil {
		return uuid.Nil, apperr.New(apperr.NotFound, "Personen finnes ikke i virksomheten.")
	}
	return id, nil
}

func (m *Module) person(c echo.Context) error {
	id, err := personID(c, "id")
	if err != nil {
		return err
	}
	return m.renderPerson(c, http.StatusOK, id, nil, nil)
}

func (m *Module) renderPerson(c echo.Context, status int, id uuid.UUID, problem error, form map[string]string) error {
	ctx, t := c.Request().Context(), tenant(c)
	mb, err := m.store.Member(ctx, t.ID, id)
	if err != nil {
		return err
	}
	p := personPage{Base: base(c), Member: mb, Roles: tenants.TenantRoles, Saved: c.QueryParam("lagret"), Errors: apperr.FieldsOf(problem), Form: form}
	if problem != nil {
		p.Message, p.Saved = apperr.MessageOf(problem), ""
	}
	if mb.IsLIS() {
		if p.Ledere, err = m.store.Holders(ctx, t.ID, tenants.RelLeder); err != nil {
			return err
		}
		if p.Veiledere, err = m.store.Holders(ctx, t.ID, tenants.RelVeileder); err != nil {
			return err
		}
		sups, err := m.store.Holders(ctx, t.ID, tenants.RelSupervisor)
		if err != nil {
			return err
		}
		for _, s := range sups {
			if s.ID != mb.ID && !slices.ContainsFunc(mb.Supervisors, func(r tenants.Relation) bool { return r.PersonID == s.ID }) {
				p.Supervisors = append(p.Supervisors, s)
			}
		}
	}
	return m.pages.Render(c, status, "person", mb.Name(), p)
}

// afterChange shows the person page again: with the problem when the change
// was refused, or (redirected) with "lagret" when it was saved. A person who
// left the tenant (no roles) goes back to the list.
func (m *Module) afterChange(c echo.Context, id uuid.UUID, err error, form map[string]string) error {
	if apperr.Is(err, apperr.Invalid) || apperr.Is(err, apperr.Conflict) {
		return m.renderPerson(c, apperr.Status(apperr.CodeOf(err)), id, err, form)
	}
	if err != nil {
		return err
	}
	if _, err := m.store.Member(c.Request().Context(), tenant(c).ID, id); apperr.Is(err, apperr.NotFound) {
		return web.Redirect(c, base(c))
	}
	return web.Redirect(c, fmt.Sprintf("%s/%s?lagret=1", base(c), id))
}

func (m *Module) setRoles(c echo.Context) error {
	id, err := personID(c, "id")
	if err != nil {
		return err
	}
	form, err := c.FormParams()
	if err != nil {
		return apperr.Default(apperr.Invalid)
	}
	err = m.store.SetRoles(c.Request().Context(), tenant(c).ID, actor(c), id, form["roles"])
	return m.afterChange(c, id, err, nil)
}

func (m *Module) setHPR(c echo.Context) error {
	id, err := personID(c, "id")
	if err != nil {
		return err
	}
	err = m.store.SetHPR(c.Request().Context(), tenant(c).ID, actor(c), id, c.FormValue("hpr"))
	return m.afterChange(c, id, err, map[string]string{"hpr": c.FormValue("hpr")})
}

// optionalID parses a chosen person; "" is none.
func optionalID(s string) (uuid.UUID, error) {
	if s == "" {
		return uuid.Nil, nil
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, apperr.Default(apperr.Invalid)
	}
	return id, nil
}

func (m *Module) setLeaders(c echo.Context) error {
	id, err := personID(c, "id")
	if err != nil {
		return err
	}
	leder, err := optionalID(c.FormValue("leder"))
	if err != nil {
		return err
	}
	veileder, err := optionalID(c.FormValue("veileder"))
	if err != nil {
		return err
	}
	err = m.store.SetLeaders(c.Request().Context(), tenant(c).ID, actor(c), id, leder, veileder)
	return m.afterChange(c, id, err, nil)
}

func (m *Module) addSupervisor(c echo.Context) error {
	id, err := personID(c, "id")
	if err != nil {
		return err
	}
	sup, err := optionalID(c.FormValue("supervisor"))
	if err != nil {
		return err
	}
	if sup == uuid.Nil {
		err = apperr.InvalidFields(map[string]string{"supervisor": "Velg en supervisør."})
	} else {
		err = m.store.AddSupervisor(c.Request().Context(), tenant(c).ID, actor(c), id, sup)
	}
	return m.afterChange(c, id, err, nil)
}

func (m *Module) removeSupervisor(c echo.Context) error {
	id, err := personID(c, "id")
	if err != nil {
		return err
	}
	sup, err := personID(c, "sid")
	if err != nil {
		return err
	}
	err = m.store.RemoveSupervisor(c.Request().Context(), tenant(c).ID, actor(c), id, sup)
	return m.afterChange(c, id, err, nil)
}

func (m *Module) setSpecialties(c echo.Context) error {
	id, err := personID(c, "id")
	if err != nil {
		return err
	}
	lis, uao := c.FormValue("lis_specialties"), c.FormValue("uao_specialties")
	err = m.store.SetSpecialties(c.Request().Context(), tenant(c).ID, actor(c), id, lis, uao)
	return m.afterChange(c, id, err, map[string]string{"lis_specialties": lis, "uao_specialties": uao})
}

// ---- CSV import ----

type importPage struct {
	Base     string
	Example  string
	MaxLines int
	Problems []Problem
	FileName string
}

func (m *Module) importForm(c echo.Context) error {
	return m.renderImport(c, http.StatusOK, "", nil)
}

func (m *Module) renderImport(c echo.Context, status int, name string, problems []Problem) error {
	p := importPage{Base: base(c), Example: strings.ReplaceAll(strings.TrimPrefix(TemplateCSV, "\ufeff"), "\r\n", "\n"),
		MaxLines: MaxImportLines, Problems: problems, FileName: name}
	return m.pages.Render(c, status, "import", "Importer personer", p)
}

func (m *Module) importFile(c echo.Context) error {
	fh, err := c.FormFile("fil")
	if err != nil {
		return m.renderImport(c, http.StatusUnprocessableEntity, "", []Problem{{Message: "Velg en CSV-fil å laste opp."}})
	}
	if fh.Size > MaxImportBytes {
		return m.renderImport(c, http.StatusUnprocessableEntity, fh.Filename, []Problem{{Message: "Filen er for stor: høyst 2 MB. Del den opp i flere filer."}})
	}
	f, err := fh.Open()
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxImportBytes+1))
	if err != nil {
		return err
	}
	rows, problems := ParseCSV(data)
	if problems != nil {
		return m.renderImport(c, http.StatusUnprocessableEntity, fh.Filename, problems)
	}
	res, problems, err := m.store.Import(c.Request().Context(), tenant(c).ID, actor(c), rows, SourceCSV)
	if err != nil {
		return err
	}
	if problems != nil {
		return m.renderImport(c, http.StatusUnprocessableEntity, fh.Filename, problems)
	}
	return web.Redirect(c, fmt.Sprintf("%s?importert=%d&roller=%d", base(c), res.PeopleAdded, res.RolesGranted))
}

func (m *Module) template(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="personer-mal.csv"`)
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", []byte(TemplateCSV))
}

// ---- the audit log ----

// LogPageSize is how many entries one page of the log shows.
const LogPageSize = 50

type logEntry struct {
	ID      int64
	At      string
	Who     string
	What    string
	Whom    string
	Details string
}

type logPage struct {
	Entries []logEntry
	Older   string // link to the next page, or ""
	Newest  string // link to the first page when paging
}

var uuidRe = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

func (m *Module) log(c echo.Context) error {
	ctx, t := c.Request().Context(), tenant(c)
	var before int64
	if s := c.QueryParam("før"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return apperr.New(apperr.Invalid, "Ugyldig side i loggen.")
		}
		before = n
	}
	es, err := tenants.AuditLog(ctx, m.store.db, t.ID, before, LogPageSize+1)
	if err != nil {
		return err
	}
	p := logPage{}
	if len(es) > LogPageSize {
		es = es[:LogPageSize]
		p.Older = "/t/" + t.Slug + "/admin/logg?" + url.Values{"før": {strconv.FormatInt(es[len(es)-1].ID, 10)}}.Encode()
	}
	if before > 0 {
		p.Newest = "/t/" + t.Slug + "/admin/logg"
	}
	var ids []uuid.UUID
	for _, e := range es {
		if e.SubjectID != nil {
			ids = append(ids, *e.SubjectID)
		}
		for _, s := range uuidRe.FindAllString(e.Details, -1) {
			ids = append(ids, uuid.MustParse(s))
		}
	}
	names, err := m.store.AuditNames(ctx, ids)
	if err != nil {
		return err
	}
	for _, e := range es {
		le := logEntry{ID: e.ID, At: e.At.In(web.Oslo).Format("2.1.2006 15:04"), Who: e.ActorName, What: e.ActionText(), Whom: e.SubjectName}
		if le.Who == "" {
			le.Who = "kportal"
		}
		if e.SubjectID != nil && names[*e.SubjectID] != "" {
			le.Whom = names[*e.SubjectID]
		}
		le.Details = auditDetails(e, names)
		p.Entries = append(p.Entries, le)
	}
	return m.pages.Render(c, http.StatusOK, "log", "Logg for "+t.Name, p)
}

// auditDetails writes an entry's details for people: role codes by their
// names, person ids by the person's name.
func auditDetails(e tenants.AuditEntry, names map[uuid.UUID]string) string {
	switch e.Action {
	case tenants.AuditRoleGranted, tenants.AuditRoleRevoked:
		return web.RoleName(e.Details)
	case tenants.AuditRelationAdded, tenants.AuditRelationRemoved:
		// "<kind> for LIS <id>"
		if kind, lis, ok := strings.Cut(e.Details, " for LIS "); ok {
			who := lis
			if id, err := uuid.Parse(lis); err == nil && names[id] != "" {
				who = names[id]
			}
			return web.RoleName(kind) + " for LIS " + who
		}
	}
	return uuidRe.ReplaceAllStringFunc(e.Details, func(s string) string {
		if n := names[uuid.MustParse(s)]; n != "" {
			return n
		}
		return s
	})
}
