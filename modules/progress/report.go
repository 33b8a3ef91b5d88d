package progress

// The leder's fremdriftsrapport: per LIS, goal by goal, the status (carried
// approvals count as approved), the last supporting activity here and at
// earlier workplaces, the inputs asked of and given by veileder and
// supervisors, and what waits (activities for a signature, goals for
// approval). For one LIS or all of a leder's (their leder relations), and for
// a UAO all LIS of the specialties they cover. On screen, CSV and PDF. It lives
// here, not in a package of its own, because it is the same following of LIS
// as Mine LIS and the UAO's overview: the same people queries, guards and nav.

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/uptrace/bun"

	"kportal/modules"
	"kportal/modules/activities"
	"kportal/modules/apperr"
	"kportal/modules/goals"
	"kportal/modules/transfers/moved"
	"kportal/modules/web"
	"kportal/tenants"
)

// ReportGoal is one goal of a LIS's active plan in the report.
type ReportGoal struct {
	goals.PlanGoal
	activities.GoalUse
}

// LastHereText is the date of the last supporting activity here ("" = none).
func (g *ReportGoal) LastHereText() string { return dateText(g.LastHere) }

// LastEarlierText is the same at earlier workplaces.
func (g *ReportGoal) LastEarlierText() string { return dateText(g.LastEarlier) }

// DecidedText is the date of the decision ("" = none).
func (g *ReportGoal) DecidedText() string {
	if g.DecidedAt == nil || g.Status == "" || g.Status == goals.StatusSent || g.Status == goals.StatusOpen {
		return ""
	}
	return web.Date(g.DecidedAt.In(web.Oslo))
}

// AwaitsApproval: the goal is sent and waits for the leder or a delegate.
func (g *ReportGoal) AwaitsApproval() bool { return g.Status == goals.StatusSent }

func dateText(t *time.Time) string {
	if t == nil {
		return ""
	}
	return web.Date(*t)
}

// ReportLIS is one LIS in the report.
type ReportLIS struct {
	LisID     uuid.UUID         `bun:"lis_id"`
	Name      string            `bun:"name"`
	Email     string            `bun:"email"`
	Specialty string            `bun:"specialty_name"` // the LIS's specialties here, comma separated
	Veileder  string            `bun:"veileder"`
	Leder     string            `bun:"leder"`
	Plan      string            `bun:"-"`
	Left      *moved.Departure  `bun:"-"`
	Earlier   []moved.Workplace `bun:"-"`
	Goals     []ReportGoal      `bun:"-"`
	// Figures over the goals, and the LIS's activities waiting for a
	// signature (also those without a goal, and in flight at an earlier workplace).
	Approved, Sent, Open, InputsOpen, WaitingSignature int `bun:"-"`
}

// EarlierNames names the earlier workplaces, most recent first.
func (l *ReportLIS) EarlierNames() string {
	var out []string
	for _, w := range l.Earlier {
		out = append(out, w.Name)
	}
	return strings.Join(out, ", ")
}

// reportLeaderQuery lists the LIS a person is leder for; reportCoveredQuery
// those of the specialties a UAO covers (once each, with their specialties).
var reportLeaderQuery = `SELECT p.id AS lis_id, trim(p.given_name || ' ' || p.family_name) AS name, p.email,
		coalesce((SELECT string_agg(coalesce(sp.name, s.specialty), ', ' ORDER BY coalesce(sp.name, s.specialty)) FROM person_specialties s
			LEFT JOIN specialties sp ON sp.code = s.specialty WHERE s.tenant_id = r.tenant_id AND s.person_id = p.id AND s.role = 'lis'), '') AS specialty_name,
		` + relName("r.tenant_id", "veileder") + ` AS veileder, ` + relName("r.tenant_id", "leder") + ` AS leder
	FROM relations r JOIN people p ON p.id = r.lis_id
	WHERE r.tenant_id = ? AND r.person_id = ? AND r.kind = 'leder'`

var reportCoveredQuery = `SELECT p.id AS lis_id, trim(p.given_name || ' ' || p.family_name) AS name, p.email,
		string_agg(DISTINCT coalesce(sp.name, u.specialty), ', ') AS specialty_name,
		` + relName("u.tenant_id", "veileder") + ` AS veileder, ` + relName("u.tenant_id", "leder") + ` AS leder
	FROM person_specialties u
	JOIN person_specialties l ON l.tenant_id = u.tenant_id AND l.specialty = u.specialty AND l.role = 'lis'
	JOIN people p ON p.id = l.person_id
	LEFT JOIN specialties sp ON sp.code = u.specialty
	WHERE u.tenant_id = ? AND u.person_id = ? AND u.role = 'uao' AND (? = '' OR u.specialty = ?)
	GROUP BY p.id, u.tenant_id`

func relName(tenant, kind string) string {
	return `coalesce((SELECT trim(v.given_name || ' ' || v.family_name) FROM relations rv JOIN people v ON v.id = rv.person_id
			WHERE rv.tenant_id = ` + tenant + ` AND rv.lis_id = p.id AND rv.kind = '` + kind + `'), '')`
}

// reportScope is whose LIS a report covers.
type reportScope struct {
	UAO       bool
	LisID     *uuid.UUID // one LIS; nil: all
	Specialty string     // the UAO's filter
}

// Report loads the report for person in tenantID: a handful of queries
// whatever the number of LIS and goals. One LIS outside the scope is not
// found.
func (m *Module) Report(ctx context.Context, tenantID, person uuid.UUID, s reportScope) ([]ReportLIS, error) {
	var out []ReportLIS
	err := tenants.WithTenantTx(ctx, m.db, tenants.Scope{TenantID: tenantID, PersonID: person}, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if s.UAO {
			err = tx.NewRaw(reportCoveredQuery, tenantID, person, s.Specialty, s.Specialty).Scan(ctx, &out)
		} else {
			err = tx.NewRaw(reportLeaderQuery, tenantID, person).Scan(ctx, &out)
		}
		if err != nil {
			return err
		}
		if s.LisID != nil {
			out = filterLIS(out, *s.LisID)
			if len(out) == 0 {
				return apperr.New(apperr.NotFound, "Fant ikke LIS-en.")
			}
		}
		sort.SliceStable(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
		return m.fill(ctx, tx, tenantID, out)
	})
	return out, err
}

func filterLIS(rows []ReportLIS, id uuid.UUID) []ReportLIS {
	for _, r := range rows {
		if r.LisID == id {
			return []ReportLIS{r}
		}
	}
	return nil
}

// fill adds goals, activity dates and waiting counts to the LIS in rows.
func (m *Module) fill(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, rows []ReportLIS) error {
	if len(rows) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(rows))
	for i := range rows {
		ids[i] = rows[i].LisID
	}
	earlier, err := moved.EarlierOf(ctx, tx, tenantID, ids)
	if err != nil {
		return err
	}
	var places []uuid.UUID
	for _, ws := range earlier {
		for _, w := range ws {
			if !containsID(places, w.TenantID) {
				places = append(places, w.TenantID)
			}
		}
	}
	gs, err := goals.PlanGoals(ctx, tx, tenantID, ids)
	if err != nil {
		return err
	}
	uses, err := activities.GoalUses(ctx, tx, tenantID, places, ids)
	if err != nil {
		return err
	}
	waiting, err := activities.WaitingOf(ctx, tx, tenantID, places, ids)
	if err != nil {
		return err
	}
	at := make(map[uuid.UUID]int, len(rows))
	for i := range rows {
		at[rows[i].LisID] = i
		rows[i].Earlier = earlier[rows[i].LisID]
		rows[i].WaitingSignature = waiting[rows[i].LisID]
	}
	for _, g := range gs {
		r := &rows[at[g.LisID]]
		if r.Plan == "" {
			r.Plan = g.Plan
		} else if !strings.Contains(", "+r.Plan+", ", ", "+g.Plan+", ") {
			r.Plan += ", " + g.Plan
		}
		rg := ReportGoal{PlanGoal: g, GoalUse: uses[activities.GoalKey{LisID: g.LisID, Code: g.Code}]}
		switch g.Status {
		case goals.StatusApproved:
			r.Approved++
		case goals.StatusSent:
			r.Sent++
			r.InputsOpen += g.VeilederAsked - g.VeilederGiven + g.SupAsked - g.SupGiven
		}
		r.Goals = append(r.Goals, rg)
	}
	for i := range rows {
		if len(rows[i].Goals) > 0 {
			continue
		}
		// No goals: an active plan without any, or none (a LIS who left).
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
	return nil
}

func containsID(ids []uuid.UUID, id uuid.UUID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// ---- Pages ----------------------------------------------------------------

type reportPage struct {
	LIS       []ReportLIS
	UAO, One  bool
	Base      string // the report's path, without format
	Query     string // ?lis=…&spesialitet=… for the CSV and PDF links
	Back      string
	Generated string
}

// scopeOf reads the report's scope from the URL; a malformed LIS id is not found.
func scopeOf(c echo.Context, uao bool) (reportScope, url.Values, error) {
	s := reportScope{UAO: uao}
	q := url.Values{}
	if raw := c.QueryParam("lis"); raw != "" {
		id, err := uuid.Parse(raw)
		if err != nil {
			return s, q, apperr.New(apperr.NotFound, "Fant ikke LIS-en.")
		}
		s.LisID = &id
		q.Set("lis", id.String())
	}
	if uao {
		if s.Specialty = strings.TrimSpace(c.QueryParam("spesialitet")); s.Specialty != "" {
			q.Set("spesialitet", s.Specialty)
		}
	}
	return s, q, nil
}

func (m *Module) load(c echo.Context, uao bool) (*reportPage, []ReportLIS, *modules.Viewer, error) {
	v := modules.ViewerFrom(c.Request().Context())
	s, q, err := scopeOf(c, uao)
	if err != nil {
		return nil, nil, v, err
	}
	rows, err := m.Report(c.Request().Context(), v.Tenant.ID, v.PersonID, s)
	if err != nil {
		return nil, nil, v, err
	}
	base, back := "/t/"+v.Tenant.Slug+"/mine-lis", "/t/"+v.Tenant.Slug+"/mine-lis"
	if uao {
		base, back = "/t/"+v.Tenant.Slug+"/utdanningsoversikt", "/t/"+v.Tenant.Slug+"/utdanningsoversikt"
	}
	p := &reportPage{LIS: rows, UAO: uao, One: s.LisID != nil, Base: base + "/rapport", Back: back,
		Generated: web.Date(m.now().In(web.Oslo))}
	if len(q) > 0 {
		p.Query = "?" + q.Encode()
	}
	return p, rows, v, nil
}

func (m *Module) reportTitle(p *reportPage) string {
	if p.One && len(p.LIS) == 1 {
		return "Fremdriftsrapport for " + p.LIS[0].Name
	}
	return "Fremdriftsrapport"
}

func (m *Module) reportPage(uao bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, _, _, err := m.load(c, uao)
		if err != nil {
			return err
		}
		return m.pages.Render(c, http.StatusOK, "report", m.reportTitle(p), p)
	}
}

// reportCSVHeader is the CSV's header row, in Norwegian for Excel users.
var reportCSVHeader = []string{"LIS", "E-post", "Spesialitet", "Plan", "Veileder", "Leder", "Kode", "Læringsmål", "Status",
	"Avgjort av", "Avgjort dato", "Godkjent ved tidligere arbeidssted", "Siste aktivitet", "Siste aktivitet tidligere arbeidssted",
	"Innspill veileder bedt om", "Innspill veileder gitt", "Innspill supervisør bedt om", "Innspill supervisør gitt",
	"Aktiviteter som venter på signatur", "Venter på godkjenning"}

func (m *Module) reportCSV(uao bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, rows, v, err := m.load(c, uao)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		buf.WriteString("\uFEFF") // Excel in Norway opens UTF-8 with æøå only with the BOM
		w := csv.NewWriter(&buf)
		w.Comma = ';'
		w.UseCRLF = true
		_ = w.Write(reportCSVHeader)
		for _, l := range rows {
			who := []string{cell(l.Name), cell(l.Email), cell(l.Specialty), cell(l.Plan), cell(l.Veileder), cell(l.Leder)}
			if len(l.Goals) == 0 {
				_ = w.Write(append(who, make([]string, len(reportCSVHeader)-len(who))...))
				continue
			}
			for _, g := range l.Goals {
				text, awaits := "", "Nei"
				if g.Text != nil {
					text = *g.Text
				}
				if g.AwaitsApproval() {
					awaits = "Ja"
				}
				_ = w.Write(append(append([]string(nil), who...), cell(g.Code), cell(text), g.StatusText(), cell(g.DecidedByName), g.DecidedText(),
					cell(g.OriginName), g.LastHereText(), g.LastEarlierText(), itoa(g.VeilederAsked), itoa(g.VeilederGiven),
					itoa(g.SupAsked), itoa(g.SupGiven), itoa(g.Waiting), awaits))
			}
		}
		w.Flush()
		if err := w.Error(); err != nil {
			return err
		}
		c.Response().Header().Set("Content-Disposition", `attachment; filename="`+m.reportFile(v, p, "csv")+`"`)
		return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
	}
}

func (m *Module) reportPDF(uao bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, _, v, err := m.load(c, uao)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := writeReportPDF(&buf, v.Tenant.Name, m.reportTitle(p), m.now(), p.LIS); err != nil {
			return err
		}
		c.Response().Header().Set("Content-Disposition", `attachment; filename="`+m.reportFile(v, p, "pdf")+`"`)
		return c.Blob(http.StatusOK, "application/pdf", buf.Bytes())
	}
}

// reportFile names a download: fremdriftsrapport-<tenant>[-<lis>]-<date>.<ext>, ASCII only.
func (m *Module) reportFile(v *modules.Viewer, p *reportPage, ext string) string {
	name := "fremdriftsrapport-" + v.Tenant.Slug
	if p.One && len(p.LIS) == 1 {
		name += "-" + slug(p.LIS[0].Name)
	}
	return name + "-" + m.now().In(web.Oslo).Format("2006-01-02") + "." + ext
}

func slug(s string) string {
	r := strings.NewReplacer("æ", "ae", "ø", "o", "å", "a", "Æ", "ae", "Ø", "o", "Å", "a")
	var b strings.Builder
	for _, c := range strings.ToLower(r.Replace(s)) {
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			b.WriteRune(c)
		case c == ' ' || c == '-':
			b.WriteByte('-')
		}
	}
	return b.String()
}
