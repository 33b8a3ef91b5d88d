// Package progress is following LIS: the veileder's and leder's overview of
// their LIS, and the UAO's overview per specialty they cover (with a CSV
// export). Each row has the figures of the LIS's home page (goals approved,
// procedures done, from overview.ProgressOf) and date and status of the last
// veiledningssamtale with the overdue flag (advisory.Summaries), never its text.
package progress

import (
	"bytes"
	"context"
	"embed"
	"encoding/csv"
	"io/fs"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/uptrace/bun"

	"kportal/modules"
	"kportal/modules/activities"
	"kportal/modules/advisory"
	"kportal/modules/goals"
	"kportal/modules/overview"
	"kportal/modules/transfers/moved"
	"kportal/modules/web"
	"kportal/policies"
	"kportal/tenants"
)

//go:embed templates
var templatesFS embed.FS

// Module is the progress module.
type Module struct {
	db    bun.IDB
	pages *web.Pages
	goals *goals.Store
	acts  *activities.Store
	now   func() time.Time
}

// New returns the module.
func New(db bun.IDB, nav web.NavFunc) *Module {
	sub, _ := fs.Sub(templatesFS, "templates")
	return &Module{db: db, pages: web.MustPages(sub, nav), goals: goals.NewStore(db), acts: activities.NewStore(db), now: time.Now}
}

func (m *Module) Info() modules.Info {
	return modules.Info{ID: "progress", Title: "Oppfølging av LIS", Requires: []string{"web"}}
}

func (m *Module) Policies() []policies.Rule {
	return []policies.Rule{
		{Role: "veileder", Object: "progress", Action: "follow"},
		{Role: "leder", Object: "progress", Action: "follow"},
		{Role: "leder", Object: "progress", Action: "report"},
		{Role: "uao", Object: "progress", Action: "oversee"},
	}
}

func (m *Module) Routes(r *modules.Router) {
	r.GET("/t/:tenant/mine-lis", m.mine, modules.Need("progress", "follow"))
	oversee := modules.Need("progress", "oversee")
	r.GET("/t/:tenant/utdanningsoversikt", m.education, oversee)
	r.GET("/t/:tenant/utdanningsoversikt/csv", m.export, oversee)
	// The fremdriftsrapport: the leder's for their LIS, the UAO's for the specialties they cover.
	report := modules.Need("progress", "report")
	r.GET("/t/:tenant/mine-lis/rapport", m.reportPage(false), report)
	r.GET("/t/:tenant/mine-lis/rapport/csv", m.reportCSV(false), report)
	r.GET("/t/:tenant/mine-lis/rapport/pdf", m.reportPDF(false), report)
	r.GET("/t/:tenant/utdanningsoversikt/rapport", m.reportPage(true), oversee)
	r.GET("/t/:tenant/utdanningsoversikt/rapport/csv", m.reportCSV(true), oversee)
	r.GET("/t/:tenant/utdanningsoversikt/rapport/pdf", m.reportPDF(true), oversee)
}

func (m *Module) Nav(v *modules.Viewer) []modules.NavItem {
	if v == nil || v.Tenant == nil {
		return nil
	}
	base := "/t/" + v.Tenant.Slug
	var out []modules.NavItem
	if v.Holds("veileder") || v.Holds("leder") {
		out = append(out, modules.NavItem{Label: "Mine LIS", Href: base + "/mine-lis", Order: 36})
	}
	if v.Holds("uao") {
		out = append(out, modules.NavItem{Label: "Utdanningsoversikt", Href: base + "/utdanningsoversikt", Order: 37})
	}
	return out
}

// Row is one LIS (under one specialty, on the UAO's overview).
type Row struct {
	LisID         uuid.UUID `bun:"lis_id"`
	Name          string    `bun:"name"`
	Email         string    `bun:"email"`
	Specialty     string    `bun:"specialty"`
	SpecialtyName string    `bun:"specialty_name"`
	Veileder      string    `bun:"veileder"`
	Advised       bool      `bun:"advised"` // the viewer is the LIS's veileder
	Leads         bool      `bun:"leads"`   // the viewer is the LIS's leder (the fremdriftsrapport)
	Plan          string    `bun:"-"`
	// Left: the LIS has moved to another workplace (the plan here ended).
	Left *moved.Departure `bun:"-"`
	overview.Progress
	Samtale advisory.Summary `bun:"-"`
}

// mineQuery lists the LIS a person follows as veileder or leder; coveredQuery
// those of each specialty a UAO covers (a LIS once per specialty).
const mineQuery = `SELECT p.id AS lis_id, trim(p.given_name || ' ' || p.family_name) AS name, p.email, '' AS specialty, '' AS specialty_name,
		coalesce((SELECT trim(v.given_name || ' ' || v.family_name) FROM relations rv JOIN people v ON v.id = rv.person_id
			WHERE rv.tenant_id = r.tenant_id AND rv.lis_id = p.id AND rv.kind = 'veileder'), '') AS veileder,
		bool_or(r.kind = 'veileder') AS advised, bool_or(r.kind = 'leder') AS leads
	FROM relations r JOIN people p ON p.id = r.lis_id
	WHERE r.tenant_id = ? AND r.person_id = ? AND r.kind IN ('veileder', 'leder')
	GROUP BY p.id, r.tenant_id`

const coveredQuery = `SELECT p.id AS lis_id, trim(p.given_name || ' ' || p.family_name) AS name, p.email, u.specialty, coalesce(sp.name, u.specialty) AS specialty_name,
		coalesce((SELECT trim(v.given_name || ' ' || v.family_name) FROM relations rv JOIN people v ON v.id = rv.person_id
			WHERE rv.tenant_id = u.tenant_id AND rv.lis_id = p.id AND rv.kind = 'veileder'), '') AS veileder,
		false AS advised, false AS leads
	FROM person_specialties u
	JOIN person_specialties l ON l.tenant_id = u.tenant_id AND l.specialty = u.specialty AND l.role = 'lis'
	JOIN people p ON p.id = l.person_id
	LEFT JOIN specialties sp ON sp.code = u.specialty
	WHERE u.tenant_id = ? AND u.person_id = ? AND u.role = 'uao'`

// rows loads the LIS person follows with their figures.
func (m *Module) rows(ctx context.Context, tenantID, person uuid.UUID, query string) ([]Row, error) {
	var rows []Row
	err := tenants.WithTenantTx(ctx, m.db, tenants.Scope{TenantID: tenantID, PersonID: person}, func(ctx context.Context, tx bun.Tx) error {
		if err := tx.NewRaw(query, tenantID, person).Scan(ctx, &rows); err != nil {
			return err
		}
		ids := make([]uuid.UUID, 0, len(rows))
		for i := range rows {
			ids = append(ids, rows[i].LisID)
			plan, err := activities.ActivePlan(ctx, tx, tenantID, rows[i].LisID)
			if err != nil {
				return err
			}
			if plan != nil {
				rows[i].Plan = plan.Name
			} else if rows[i].Left, err = moved.LeftFrom(ctx, tx, tenantID, rows[i].LisID); err != nil {
				return err
			}
		}
		sums, err := advisory.Summaries(ctx, tx, tenantID, ids, m.now())
		if err != nil {
			return err
		}
		for i := range rows {
			rows[i].Samtale = sums[rows[i].LisID]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	figures := map[uuid.UUID]overview.Progress{} // a LIS in two specialties is counted once
	for i := range rows {
		p, ok := figures[rows[i].LisID]
		if !ok {
			if p, err = overview.ProgressOf(ctx, m.goals, m.acts, tenantID, rows[i].LisID, ""); err != nil {
				return nil, err
			}
			figures[rows[i].LisID] = p
		}
		rows[i].Progress = p
	}
	return rows, nil
}

// view is the sorting and filtering asked for in the URL.
type view struct {
	Sort, Dir string // Dir: "asc" or "desc"
	Q         string // in name and e-mail
	Specialty string
	Overdue   bool
}

func viewOf(c echo.Context) view {
	v := view{Sort: c.QueryParam("sorter"), Dir: c.QueryParam("retning"), Q: strings.TrimSpace(c.QueryParam("q")),
		Specialty: c.QueryParam("spesialitet"), Overdue: c.QueryParam("forsinket") != ""}
	switch v.Sort {
	case "navn", "maal", "prosedyrer", "samtale", "forsinket":
	default:
		v.Sort = "navn"
	}
	if v.Dir != "desc" {
		v.Dir = "asc"
	}
	return v
}

// SortLink is the URL that sorts by key (the other way when it sorts by key already).
func (v view) SortLink(path, key string) string {
	q := v.query()
	dir := "asc"
	if v.Sort == key && v.Dir == "asc" {
		dir = "desc"
	}
	q.Set("sorter", key)
	q.Set("retning", dir)
	return path + "?" + q.Encode()
}

// Arrow marks the column sorted by.
func (v view) Arrow(key string) string {
	if v.Sort != key {
		return ""
	}
	if v.Dir == "asc" {
		return " ▲"
	}
	return " ▼"
}

// AriaSort is the column's aria-sort value.
func (v view) AriaSort(key string) string {
	if v.Sort != key {
		return "none"
	}
	if v.Dir == "asc" {
		return "ascending"
	}
	return "descending"
}

// Query is the view as a query string (for the CSV link).
func (v view) Query() string { return v.query().Encode() }

func (v view) query() url.Values {
	q := url.Values{}
	if v.Q != "" {
		q.Set("q", v.Q)
	}
	if v.Specialty != "" {
		q.Set("spesialitet", v.Specialty)
	}
	if v.Overdue {
		q.Set("forsinket", "1")
	}
	if v.Sort != "navn" || v.Dir != "asc" {
		q.Set("sorter", v.Sort)
		q.Set("retning", v.Dir)
	}
	return q
}

func ratio(a, b int) float64 {
	if b == 0 {
		return -1
	}
	return float64(a) / float64(b)
}

// apply filters and sorts rows (by name within equal keys).
func (v view) apply(rows []Row) []Row {
	out := rows[:0:0]
	q := strings.ToLower(v.Q)
	for _, r := range rows {
		if v.Specialty != "" && r.Specialty != v.Specialty {
			continue
		}
		if v.Overdue && !r.Samtale.Overdue {
			continue
		}
		if q != "" && !strings.Contains(strings.ToLower(r.Name), q) && !strings.Contains(strings.ToLower(r.Email), q) {
			continue
		}
		out = append(out, r)
	}
	less := func(a, b Row) int {
		switch v.Sort {
		case "maal":
			return cmpFloat(ratio(a.GoalsApproved, a.GoalsTotal), ratio(b.GoalsApproved, b.GoalsTotal))
		case "prosedyrer":
			return cmpFloat(ratio(a.ProceduresOK, a.ProceduresTotal), ratio(b.ProceduresOK, b.ProceduresTotal))
		case "samtale":
			return cmpTime(a.Samtale.LastAt, b.Samtale.LastAt)
		case "forsinket":
			return cmpBool(a.Samtale.Overdue, b.Samtale.Overdue)
		}
		return 0
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		c := less(a, b)
		if v.Sort == "navn" {
			c = strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
		}
		if v.Dir == "desc" {
			c = -c
		}
		if c == 0 {
			return strings.ToLower(a.Name) < strings.ToLower(b.Name)
		}
		return c < 0
	})
	return out
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpTime(a, b *time.Time) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return a.Compare(*b)
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// ---- Pages ----------------------------------------------------------------

// Group is the rows of one specialty.
type Group struct {
	Specialty, Name string
	Rows            []Row
}

type page struct {
	View        view
	Path        string
	Groups      []Group
	Specialties []Group // the filter's choices (no rows)
	Total       int
	UAO         bool
	Leder       bool // the viewer is a leder here: the fremdriftsrapport for all
}

func (m *Module) mine(c echo.Context) error {
	v := modules.ViewerFrom(c.Request().Context())
	rows, err := m.rows(c.Request().Context(), v.Tenant.ID, v.PersonID, mineQuery)
	if err != nil {
		return err
	}
	vw := viewOf(c)
	vw.Specialty = ""
	p := page{View: vw, Path: "/t/" + v.Tenant.Slug + "/mine-lis", Leder: v.Holds("leder")}
	p.Groups = []Group{{Rows: vw.apply(rows)}}
	p.Total = len(p.Groups[0].Rows)
	return m.pages.Render(c, http.StatusOK, "overview", "Mine LIS", &p)
}

func (m *Module) education(c echo.Context) error {
	v := modules.ViewerFrom(c.Request().Context())
	rows, err := m.rows(c.Request().Context(), v.Tenant.ID, v.PersonID, coveredQuery)
	if err != nil {
		return err
	}
	p := page{View: viewOf(c), Path: "/t/" + v.Tenant.Slug + "/utdanningsoversikt", UAO: true}
	p.Specialties, err = m.covered(c.Request().Context(), v.Tenant.ID, v.PersonID)
	if err != nil {
		return err
	}
	shown := p.View.apply(rows)
	for _, s := range p.Specialties {
		if p.View.Specialty != "" && p.View.Specialty != s.Specialty {
			continue
		}
		g := Group{Specialty: s.Specialty, Name: s.Name}
		for _, r := range shown {
			if r.Specialty == s.Specialty {
				g.Rows = append(g.Rows, r)
			}
		}
		p.Total += len(g.Rows)
		p.Groups = append(p.Groups, g)
	}
	return m.pages.Render(c, http.StatusOK, "overview", "Utdanningsoversikt", &p)
}

// covered lists the specialties the UAO covers in the tenant.
func (m *Module) covered(ctx context.Context, tenantID, person uuid.UUID) ([]Group, error) {
	var out []Group
	err := tenants.WithTenantTx(ctx, m.db, tenants.Scope{TenantID: tenantID, PersonID: person}, func(ctx context.Context, tx bun.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT u.specialty, coalesce(sp.name, u.specialty) FROM person_specialties u LEFT JOIN specialties sp ON sp.code = u.specialty
			WHERE u.tenant_id = ? AND u.person_id = ? AND u.role = 'uao' ORDER BY 2`, tenantID, person)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var g Group
			if err := rows.Scan(&g.Specialty, &g.Name); err != nil {
				return err
			}
			out = append(out, g)
		}
		return rows.Err()
	})
	return out, err
}

// csvHeader is the export's header row, in Norwegian for Excel users.
var csvHeader = []string{"Spesialitet", "LIS", "E-post", "Plan", "Veileder", "Godkjente læringsmål", "Læringsmål i alt",
	"Prosedyrer med anbefalt antall", "Prosedyrer i alt", "Siste samtale", "Status siste samtale", "Forsinket samtale"}

// export is the UAO's overview as CSV: semicolons and a byte order mark, so
// Excel in Norway opens it with æøå intact.
func (m *Module) export(c echo.Context) error {
	v := modules.ViewerFrom(c.Request().Context())
	rows, err := m.rows(c.Request().Context(), v.Tenant.ID, v.PersonID, coveredQuery)
	if err != nil {
		return err
	}
	rows = viewOf(c).apply(rows)
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].SpecialtyName < rows[j].SpecialtyName })
	var buf bytes.Buffer
	buf.WriteString("\uFEFF")
	w := csv.NewWriter(&buf)
	w.Comma = ';'
	w.UseCRLF = true
	_ = w.Write(csvHeader)
	for _, r := range rows {
		last, status := "", r.Samtale.LastStatusText()
		if r.Samtale.LastAt != nil {
			last = r.Samtale.LastAt.Format("02.01.2006")
		}
		overdue := "Nei"
		if r.Samtale.Overdue {
			overdue = "Ja"
		}
		_ = w.Write([]string{cell(r.SpecialtyName), cell(r.Name), cell(r.Email), cell(r.Plan), cell(r.Veileder),
			itoa(r.GoalsApproved), itoa(r.GoalsTotal), itoa(r.ProceduresOK), itoa(r.ProceduresTotal), last, status, overdue})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	name := "utdanningsoversikt-" + v.Tenant.Slug + "-" + m.now().In(web.Oslo).Format("2006-01-02") + ".csv"
	c.Response().Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}

// cell keeps a text from being read as a formula by a spreadsheet.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func itoa(n int) string { return strconv.Itoa(n) }
