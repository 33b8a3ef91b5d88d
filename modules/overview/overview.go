// Package overview is the page a person lands on in a tenant: for a LIS the
// progress per plan (goals approved, procedures done, what waits for a
// signature or an approval), a search across their own goals and activities
// and the læringsarena filter they chose last; for supervisors, veiledere and
// approvers their queues; for administrators their pages.
package overview

import (
	"context"
	"embed"
	"io/fs"
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/uptrace/bun"

	"kportal/modules"
	"kportal/modules/activities"
	"kportal/modules/goals"
	"kportal/modules/web"
	"kportal/tenants"
)

//go:embed templates
var templatesFS embed.FS

// Module is the overview module.
type Module struct {
	db    bun.IDB
	pages *web.Pages
	acts  *activities.Store
	goals *goals.Store
}

// New returns the module.
func New(db bun.IDB, nav web.NavFunc) *Module {
	sub, _ := fs.Sub(templatesFS, "templates")
	return &Module{db: db, pages: web.MustPages(sub, nav), acts: activities.NewStore(db), goals: goals.NewStore(db)}
}

func (m *Module) Info() modules.Info {
	return modules.Info{ID: "overview", Title: "Oversikt", Requires: []string{"web"}}
}

func (m *Module) Routes(r *modules.Router) {
	r.GET("/t/:tenant/", m.home, modules.SignedIn())
}

// Progress is a LIS's progress in their active plans: the figures on the
// home page, and on the veileder's and the UAO's overviews.
type Progress struct {
	GoalsTotal, GoalsApproved     int
	GoalsWaiting                  int // sent, waiting for a decision
	ProceduresTotal, ProceduresOK int // procedures, and those that reached the recommended count
}

// ProgressOf counts a LIS's goals (of one læringsarena, or all when arena is
// "") and procedures.
func ProgressOf(ctx context.Context, gs *goals.Store, as *activities.Store, tenantID, lisID uuid.UUID, arena string) (Progress, error) {
	var p Progress
	all, err := gs.Goals(ctx, tenantID, lisID, goals.Filter{Arena: arena})
	if err != nil {
		return p, err
	}
	p.GoalsTotal = len(all)
	for _, g := range all {
		switch g.Status {
		case goals.StatusApproved:
			p.GoalsApproved++
		case goals.StatusSent:
			p.GoalsWaiting++
		}
	}
	procs, err := as.Procedures(ctx, tenantID, lisID, "")
	if err != nil {
		return p, err
	}
	p.ProceduresTotal = len(procs)
	for _, pr := range procs {
		if pr.Complete() {
			p.ProceduresOK++
		}
	}
	return p, nil
}

// lisView is the LIS's part of the page.
type lisView struct {
	Plan *activities.Plan
	Progress
	SignaturesWaiting int // activities waiting for a signature
	Arenas            []goals.Arena
	Arena             string // the remembered filter
	Query             string
	FoundGoals        []goals.Goal
	FoundActivities   []activities.Activity
}

type page struct {
	Roles     []string
	LIS       *lisView
	ToSign    int // supervisor: activities waiting for my signature
	ToApprove int // leder or delegate: goals waiting for my decision
	ToAnswer  int // veileder or supervisor: input asked of me, not yet given
	Admin     bool
}

func (m *Module) home(c echo.Context) error {
	v := modules.ViewerFrom(c.Request().Context())
	t := v.Tenant
	p := page{Roles: v.RolesIn(t.ID), Admin: v.Holds("tenant_admin")}
	// One transaction for everything the page reads.
	err := tenants.OneTx(c.Request().Context(), m.db, tenants.Scope{TenantID: t.ID, PersonID: v.PersonID}, func(ctx context.Context) error {
		var err error
		if v.Holds("lis") {
			if p.LIS, err = m.lis(ctx, c, t, v.PersonID); err != nil {
				return err
			}
		}
		if v.Holds("supervisor") {
			if p.ToSign, err = m.acts.CountQueue(ctx, t.ID, v.PersonID); err != nil {
				return err
			}
		}
		if v.Holds("supervisor") || v.Holds("veileder") {
			inputs, err := m.goals.InputsFor(ctx, t.ID, v.PersonID)
			if err != nil {
				return err
			}
			for _, in := range inputs {
				if in.AnsweredAt == nil {
					p.ToAnswer++
				}
			}
		}
		// Anyone may hold approvals delegated to them, not only ledere.
		p.ToApprove, err = m.goals.QueueCount(ctx, t.ID, v.PersonID)
		return err
	})
	if err != nil {
		return err
	}
	return m.pages.Render(c, http.StatusOK, "home", t.Name, p)
}

func (m *Module) lis(ctx context.Context, c echo.Context, t *tenants.Tenant, lisID uuid.UUID) (*lisView, error) {
	lv := &lisView{Query: strings.TrimSpace(c.QueryParam("q"))}
	err := tenants.WithTenantTx(ctx, m.db, tenants.Scope{TenantID: t.ID, PersonID: lisID}, func(ctx context.Context, tx bun.Tx) error {
		var err error
		lv.Plan, err = activities.ActivePlan(ctx, tx, t.ID, lisID)
		return err
	})
	if err != nil {
		return nil, err
	}
	// The arena filter is shared with the goals page and remembered until changed.
	if arena, set := c.QueryParams()["arena"]; set {
		lv.Arena = strings.TrimSpace(arena[0])
		if err := m.goals.SetPreference(ctx, t.ID, lisID, goals.PrefArena, lv.Arena); err != nil {
			return nil, err
		}
	} else if lv.Arena, err = m.goals.Preference(ctx, t.ID, lisID, goals.PrefArena); err != nil {
		return nil, err
	}
	if lv.Arenas, err = m.goals.Arenas(ctx, t.ID); err != nil {
		return nil, err
	}
	if _, err := uuid.Parse(lv.Arena); err != nil {
		lv.Arena = "" // a remembered arena that no longer parses: all
	}
	if lv.Progress, err = ProgressOf(ctx, m.goals, m.acts, t.ID, lisID, lv.Arena); err != nil {
		return nil, err
	}
	if lv.SignaturesWaiting, err = m.acts.CountRequested(ctx, t.ID, lisID); err != nil {
		return nil, err
	}
	if lv.Query != "" {
		if lv.FoundGoals, err = m.goals.Goals(ctx, t.ID, lisID, goals.Filter{Arena: lv.Arena, Search: lv.Query}); err != nil {
			return nil, err
		}
		if lv.FoundActivities, err = m.acts.List(ctx, t.ID, lisID, lv.Query, ""); err != nil {
			return nil, err
		}
	}
	return lv, nil
}
