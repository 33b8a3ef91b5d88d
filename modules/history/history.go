// Package history is Min utdanning: a LIS's own record across every tenant
// they have belonged to (plans, approved goals, activities and procedure
// counts, samtaler, documents), readable also after a workplace removed their
// role. It reads through the owning modules' Own* functions inside
// tenants.OwnRecordTx, so the own_record row policies decide what is seen.
package history

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
	"kportal/modules/accesslog"
	"kportal/modules/activities"
	"kportal/modules/advisory"
	"kportal/modules/documents"
	"kportal/modules/goals"
	"kportal/modules/plans"
	"kportal/modules/transfers"
	"kportal/modules/web"
	"kportal/tenants"
)

//go:embed templates
var templatesFS embed.FS

// ActivityLimit is how many of the newest activities the page lists (the
// procedure counts cover all of them).
const ActivityLimit = 300

// ReadLimit is how many of the newest reads of the record the page lists.
const ReadLimit = 200

// Module is the history module.
type Module struct {
	db      bun.IDB
	pages   *web.Pages
	baseURL string // where the dossier says its code can be checked
}

// New returns the module.
func New(db bun.IDB, nav web.NavFunc) *Module {
	sub, _ := fs.Sub(templatesFS, "templates")
	return &Module{db: db, pages: web.MustPages(sub, nav)}
}

// VerifyAt sets kportal's address, printed in the dossier with its code.
func (m *Module) VerifyAt(baseURL string) *Module {
	m.baseURL = strings.TrimRight(baseURL, "/")
	return m
}

func (m *Module) Info() modules.Info {
	return modules.Info{ID: "history", Title: "Min utdanning", Requires: []string{"web"}}
}

func (m *Module) Routes(r *modules.Router) {
	r.GET("/min-utdanning", m.page, modules.SignedIn())
	r.GET("/min-utdanning/dossier.pdf", m.dossierPDF, modules.SignedIn())
	r.GET("/min-utdanning/dossier.json", m.dossierJSON, modules.SignedIn())
}

// Nav shows the entry to whoever holds lis somewhere; someone whose lis roles
// were all removed finds the page from Mine roller.
func (m *Module) Nav(v *modules.Viewer) []modules.NavItem {
	if v == nil {
		return nil
	}
	for _, ms := range v.Memberships {
		for _, r := range ms.Roles {
			if r == "lis" {
				return []modules.NavItem{{Label: "Min utdanning", Href: "/min-utdanning", Order: 890}}
			}
		}
	}
	return nil
}

// Section is the record from one tenant.
type Section struct {
	Tenant tenants.Tenant
	Member bool // the viewer still belongs to it (its name links home)
	Plans  []plans.OwnAssignment
	Goals  []goals.Progress
	// Carried counts approvals made elsewhere that hold in this tenant's plan
	// (listed once, where they were approved).
	Carried    int
	Activities []activities.Activity
	Procedures []activities.ProcedureCount
	Sessions   []advisory.Session
	Documents  []documents.Document
}

// Current reports whether the section has a plan not ended.
func (s *Section) Current() bool {
	for _, p := range s.Plans {
		if p.ArchivedAt == nil {
			return true
		}
	}
	return false
}

// Record is the viewer's whole record, one section per tenant.
type Record struct {
	Sections []*Section
	// Moves are the LIS's changes of workplace, newest first.
	Moves []transfers.Transfer
	// Truncated: the activity list stops at ActivityLimit.
	Truncated bool
}

// Load reads person's record through tenants.RecordTx. person is the
// signed-in viewer (Min utdanning), or a LIS whose record a reader with the
// right to it reads after the read was written to the access log (the hdir
// module); never an id taken from a request unchecked.
func Load(ctx context.Context, db bun.IDB, person uuid.UUID) (*Record, error) {
	return load(ctx, db, person, tenants.OwnRecordTx, ActivityLimit, true)
}

// LoadFor reads lis's record for a reader who is not lis (the API): the
// caller has checked the reader's right and logged the read. Its activities
// are every course and nothing else (the API lists no other activity; a
// long record's activities cost more than the rest of it).
func LoadFor(ctx context.Context, db bun.IDB, lis uuid.UUID) (*Record, error) {
	return load(ctx, db, lis, tenants.RecordTx, coursesOnly, false)
}

// coursesOnly, as load's limit, has it read every course and no other activity.
const coursesOnly = -1

// recordTx puts a person's record in force (tenants.OwnRecordTx or RecordTx).
type recordTx func(context.Context, bun.IDB, uuid.UUID, func(context.Context, bun.Tx) error) error

// load reads person's record in inTx, listing up to limit activities, and the
// approvals' frozen bases when basis (Helsedirektoratet's page shows them).
func load(ctx context.Context, db bun.IDB, person uuid.UUID, inTx recordTx, limit int, basis bool) (*Record, error) {
	rec := &Record{}
	by := map[uuid.UUID]*Section{}
	sec := func(id uuid.UUID) *Section {
		s := by[id]
		if s == nil {
			s = &Section{Tenant: tenants.Tenant{ID: id}}
			by[id] = s
		}
		return s
	}
	err := inTx(ctx, db, person, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if rec.Moves, err = transfers.Mine(ctx, tx, person); err != nil {
			return err
		}
		ps, err := plans.OwnAssignments(ctx, tx, person)
		if err != nil {
			return err
		}
		for _, p := range ps {
			p.AssignedAt = p.AssignedAt.In(web.Oslo)
			if p.ArchivedAt != nil {
				t := p.ArchivedAt.In(web.Oslo)
				p.ArchivedAt = &t
			}
			sec(p.TenantID).Plans = append(sec(p.TenantID).Plans, p)
		}
		gs, err := goals.OwnApproved(ctx, tx, person, basis)
		if err != nil {
			return err
		}
		for _, g := range gs {
			if g.OriginID != nil {
				sec(g.TenantID).Carried++
				continue
			}
			sec(g.TenantID).Goals = append(sec(g.TenantID).Goals, g)
		}
		var as []activities.Activity
		if limit == coursesOnly {
			as, err = activities.OwnCourses(ctx, tx, person)
		} else {
			as, err = activities.OwnActivities(ctx, tx, person, limit+1)
		}
		if err != nil {
			return err
		}
		if limit != coursesOnly && len(as) > limit {
			as, rec.Truncated = as[:limit], true
		}
		for _, a := range as {
			sec(a.TenantID).Activities = append(sec(a.TenantID).Activities, a)
		}
		pcs, err := activities.OwnProcedureCounts(ctx, tx, person)
		if err != nil {
			return err
		}
		for _, pc := range pcs {
			sec(pc.TenantID).Procedures = append(sec(pc.TenantID).Procedures, pc)
		}
		ss, err := advisory.OwnSessions(ctx, tx, person)
		if err != nil {
			return err
		}
		for _, s := range ss {
			sec(s.TenantID).Sessions = append(sec(s.TenantID).Sessions, s)
		}
		ds, err := documents.OwnDocuments(ctx, tx, person)
		if err != nil {
			return err
		}
		for _, d := range ds {
			d.UploadedAt = d.UploadedAt.In(web.Oslo)
			sec(d.TenantID).Documents = append(sec(d.TenantID).Documents, d)
		}
		if len(by) == 0 {
			return nil
		}
		ids := make([]uuid.UUID, 0, len(by))
		for id := range by {
			ids = append(ids, id)
		}
		ts, err := tenants.ByIDs(ctx, tx, ids)
		if err != nil {
			return err
		}
		for _, t := range ts {
			by[t.ID].Tenant = t
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, s := range by {
		rec.Sections = append(rec.Sections, s)
	}
	// Where the LIS works now first, then by name.
	sort.Slice(rec.Sections, func(i, j int) bool {
		a, b := rec.Sections[i], rec.Sections[j]
		if a.Current() != b.Current() {
			return a.Current()
		}
		return a.Tenant.Name < b.Tenant.Name
	})
	return rec, nil
}

func (m *Module) page(c echo.Context) error {
	ctx := c.Request().Context()
	v := modules.ViewerFrom(ctx)
	// The person is the session's, never anything from the request.
	rec, err := Load(ctx, m.db, v.PersonID)
	if err != nil {
		return err
	}
	for _, s := range rec.Sections {
		s.Member = v.RolesIn(s.Tenant.ID) != nil && s.Tenant.Status != tenants.StatusSuspended
	}
	// Who has read the record (Helsedirektoratet, the API), in its own
	// transaction: the log is not part of the record, and a reader of the
	// record never reads the log.
	reads, err := accesslog.About(ctx, m.db, v.PersonID, ReadLimit)
	if err != nil {
		return err
	}
	for i := range reads {
		reads[i].At = reads[i].At.In(web.Oslo)
	}
	return m.pages.Render(c, http.StatusOK, "history", "Min utdanning", map[string]any{"Record": rec, "Reads": reads, "Now": time.Now().In(web.Oslo)})
}

// ProcedureTotal is one procedure summed over every workplace, against the
// national requirement (the largest any workplace's list sets).
type ProcedureTotal struct {
	Name              string `json:"name"`
	Assisted          int    `json:"assisted"`
	Performed         int    `json:"performed"`
	AssistedSigned    int    `json:"assisted_signed"`
	PerformedSigned   int    `json:"performed_signed"`
	RequiredAssisted  int    `json:"required_assisted"`
	RequiredPerformed int    `json:"required_performed"`
	RequiredEither    int    `json:"required_either"`
}

// HasRequirement tells whether the national list sets a number.
func (p *ProcedureTotal) HasRequirement() bool {
	return p.RequiredAssisted+p.RequiredPerformed+p.RequiredEither > 0
}

// Met tells whether the signed counts meet the requirement.
func (p *ProcedureTotal) Met() bool {
	return p.AssistedSigned >= p.RequiredAssisted && p.PerformedSigned >= p.RequiredPerformed &&
		p.AssistedSigned+p.PerformedSigned >= p.RequiredEither
}

// ProcedureTotals sums the record's procedure counts over every workplace, by
// name, in name order.
func (r *Record) ProcedureTotals() []ProcedureTotal {
	by := map[string]*ProcedureTotal{}
	for _, s := range r.Sections {
		for _, pc := range s.Procedures {
			p := by[pc.Name]
			if p == nil {
				p = &ProcedureTotal{Name: pc.Name}
				by[pc.Name] = p
			}
			p.Assisted += pc.Assisted
			p.Performed += pc.Performed
			p.AssistedSigned += pc.AssistedSigned
			p.PerformedSigned += pc.PerformedSigned
			p.RequiredAssisted = max(p.RequiredAssisted, pc.RequiredAssisted)
			p.RequiredPerformed = max(p.RequiredPerformed, pc.RequiredPerformed)
			p.RequiredEither = max(p.RequiredEither, pc.RequiredEither)
		}
	}
	out := make([]ProcedureTotal, 0, len(by))
	for _, p := range by {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
