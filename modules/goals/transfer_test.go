package goals

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/activities"
	"kportal/modules/apperr"
	"kportal/modules/transfers/transferstest"
	"kportal/storage/testenv"
	"kportal/tenants"
)

// moveWorld: Kari is LIS at Helse Bergen (Helse Vest) with leder Per and
// supervisor Sune. There she has, for KLS-001, a course signed by Sune, an
// e-learning she registered herself and a course still waiting for Sune;
// KLS-002 approved by Per; KLS-003 sent to Per and waiting. A namesake (also
// Kari Test) at Bergen has a signed course for KLS-001. Helse Førde (Helse
// Vest) and OUS (Helse Sør-Øst) each have the same plan and a leder.
type moveWorld struct {
	s                        *Store
	acts                     *activities.Store
	db                       bun.IDB
	bergen, forde, ous       *tenants.Tenant
	kari, namesake, per, sun tenants.Actor
	leders                   map[uuid.UUID]tenants.Actor
	templates                map[uuid.UUID]uuid.UUID
	signed, waiting, twin    uuid.UUID // activity ids at Bergen
	waitingGoal              uuid.UUID // KLS-003 sent to Per
}

func newMoveWorld(t *testing.T) *moveWorld {
	t.Helper()
	env := testenv.Get(t)
	ctx := context.Background()
	db := env.App
	transferstest.RHF(t, "TV", "TS")
	w := &moveWorld{s: NewStore(db), acts: activities.NewStore(db), db: db, leders: map[uuid.UUID]tenants.Actor{}, templates: map[uuid.UUID]uuid.UUID{}}
	w.bergen = testenv.NewTenant(t, db, &tenants.Tenant{Name: "Helse Bergen HF", RHFCode: "TV"})
	w.forde = testenv.NewTenant(t, db, &tenants.Tenant{Name: "Helse Førde HF", RHFCode: "TV"})
	w.ous = testenv.NewTenant(t, db, &tenants.Tenant{Name: "Oslo universitetssykehus HF", RHFCode: "TS"})
	w.kari, w.namesake, w.per, w.sun = newPerson(t, db, "Kari"), newPerson(t, db, "Kari"), newPerson(t, db, "Per"), newPerson(t, db, "Sune")
	var version int
	if err := db.NewRaw("INSERT INTO catalog_versions (label, published_at) VALUES (?, now()) RETURNING id", "move-"+uuid.NewString()[:8]).Scan(ctx, &version); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO goals (version_id, code, text, plan) VALUES (?, 'KLS-001', 'Kan gjøre en klinisk undersøkelse', 'KLS'),
		(?, 'KLS-002', 'Kan skrive en epikrise', 'KLS'), (?, 'KLS-003', 'Kan lede et team', 'KLS')`, version, version, version); err != nil {
		t.Fatal(err)
	}
	// The same plan at each workplace.
	for _, tn := range []*tenants.Tenant{w.bergen, w.forde, w.ous} {
		inTenant(t, db, tn.ID, func(ctx context.Context, tx bun.Tx) error {
			var tpl uuid.UUID
			if err := tx.NewRaw("INSERT INTO plan_templates (tenant_id, name, specialty, version_id) VALUES (?, 'LIS1 sykehus', 'LIS1', ?) RETURNING id", tn.ID, version).Scan(ctx, &tpl); err != nil {
				return err
			}
			w.templates[tn.ID] = tpl
			_, err := tx.ExecContext(ctx, `INSERT INTO plan_template_goals (tenant_id, template_id, goal_code) VALUES (?0, ?1, 'KLS-001'), (?0, ?1, 'KLS-002'), (?0, ?1, 'KLS-003')`, tn.ID, tpl)
			return err
		})
		if tn != w.bergen {
			w.leders[tn.ID] = newPerson(t, db, "Leder "+strings.Fields(tn.Name)[1])
			if err := tenants.AddMembership(ctx, db, tn.ID, w.leders[tn.ID].PersonID, "leder"); err != nil {
				t.Fatal(err)
			}
		}
	}
	inTenant(t, db, w.bergen.ID, func(ctx context.Context, tx bun.Tx) error {
		sys := tenants.Actor{Name: "test"}
		for _, lis := range []tenants.Actor{w.kari, w.namesake} {
			if err := tenants.GrantRole(ctx, tx, w.bergen.ID, lis.PersonID, "lis", sys); err != nil {
				return err
			}
			for kind, p := range map[string]uuid.UUID{"leder": w.per.PersonID, "supervisor": w.sun.PersonID} {
				if err := tenants.SetRelation(ctx, tx, w.bergen.ID, lis.PersonID, kind, p, sys); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO plan_assignments (tenant_id, lis_id, template_id, version_id) VALUES (?, ?, ?, ?)",
				w.bergen.ID, lis.PersonID, w.templates[w.bergen.ID], version); err != nil {
				return err
			}
		}
		return nil
	})
	w.signed = w.activity(t, w.bergen.ID, w.kari, "course", "Kurs i Bergen", true)
	w.activity(t, w.bergen.ID, w.kari, "elearning", "E-læring i Bergen", false)
	w.waiting = w.request(t, w.bergen.ID, w.kari, "Venter i Bergen", "KLS-001")
	w.twin = w.activity(t, w.bergen.ID, w.namesake, "course", "Navnebrorens kurs", true)
	p := w.sendTo(t, w.bergen.ID, w.kari, "KLS-002", w.per)
	if _, err := w.s.Decide(ctx, w.bergen.ID, w.per, p.ID, Decision{Outcome: Approve, ConfirmMissing: true}); err != nil {
		t.Fatal(err)
	}
	w.waitingGoal = w.sendTo(t, w.bergen.ID, w.kari, "KLS-003", w.per).ID
	return w
}

func (w *moveWorld) request(t *testing.T, tn uuid.UUID, lis tenants.Actor, title string, goals ...string) uuid.UUID {
	t.Helper()
	a, err := w.acts.Create(context.Background(), tn, lis, activities.Input{Kind: "course", Title: title, DoneOn: time.Now().Format("2006-01-02"),
		GoalCodes: goals, SupervisorID: w.sun.PersonID.String()})
	if err != nil {
		t.Fatalf("%s: %v %v", title, err, apperr.FieldsOf(err))
	}
	return a.ID
}

// activity registers one for KLS-001: signed by Sune, or self-registered.
func (w *moveWorld) activity(t *testing.T, tn uuid.UUID, lis tenants.Actor, kind, title string, sign bool) uuid.UUID {
	t.Helper()
	if sign {
		id := w.request(t, tn, lis, title, "KLS-001")
		if err := w.acts.Decide(context.Background(), tn, w.sun, activities.DecisionSigned, []activities.Decision{{ActivityID: id, Comment: "Godt gjort"}}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	a, err := w.acts.Create(context.Background(), tn, lis, activities.Input{Kind: kind, Title: title, DoneOn: time.Now().Format("2006-01-02"), GoalCodes: []string{"KLS-001"}})
	if err != nil {
		t.Fatal(err)
	}
	return a.ID
}

func (w *moveWorld) sendTo(t *testing.T, tn uuid.UUID, lis tenants.Actor, code string, to tenants.Actor) *Progress {
	t.Helper()
	p, err := w.s.SendGoal(context.Background(), tn, lis, Send{Code: code, CompletedOn: time.Now().Format("2006-01-02"), Approver: to.PersonID.String(),
		Inputs: []string{w.sun.PersonID.String()}})
	if err != nil {
		t.Fatalf("send %s: %v %v", code, err, apperr.FieldsOf(err))
	}
	return p
}

// move moves Kari from Bergen into tn, with its leder as hers.
func (w *moveWorld) move(t *testing.T, tn *tenants.Tenant) {
	t.Helper()
	transferstest.Move(t, w.db, w.bergen, tn, w.kari.PersonID, w.templates[tn.ID], w.leders[tn.ID].PersonID)
}

func (w *moveWorld) detail(t *testing.T, tn uuid.UUID, lis tenants.Actor, code string) (*Goal, *Detail) {
	t.Helper()
	ctx := context.Background()
	gs, err := w.s.Goals(ctx, tn, lis.PersonID, Filter{Code: code})
	if err != nil || len(gs) != 1 {
		t.Fatalf("goal %s: %+v %v", code, gs, err)
	}
	d, err := w.s.Detail(ctx, tn, lis.PersonID, &gs[0])
	if err != nil {
		t.Fatal(err)
	}
	return &gs[0], d
}

func titles(acts []Activity) string {
	var out []string
	for _, a := range acts {
		out = append(out, a.Title+"@"+a.Where)
	}
	return strings.Join(out, ", ")
}

// At the new workplace, within Helse Vest and across RHFs: the goal page
// shows Bergen's completed activities for the goal under "Tidligere
// arbeidssted", each with where and its signature as stored, and the carried
// approval with where, by whom and when; the leder deciding sees them in the
// basis, and the decision freezes them.
func TestTransferGoalShowsEarlierWorkplace(t *testing.T) {
	for _, c := range []struct {
		name string
		to   func(w *moveWorld) *tenants.Tenant
	}{
		{"within Helse Vest", func(w *moveWorld) *tenants.Tenant { return w.forde }},
		{"to another RHF", func(w *moveWorld) *tenants.Tenant { return w.ous }},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newMoveWorld(t)
			ctx := context.Background()
			to := c.to(w)
			w.move(t, to)
			leder := w.leders[to.ID]
			inTenant(t, w.db, to.ID, func(ctx context.Context, tx bun.Tx) error {
				return tenants.SetRelation(ctx, tx, to.ID, w.kari.PersonID, tenants.RelSupervisor, w.sun.PersonID, tenants.Actor{Name: "test"})
			})
			w.request(t, to.ID, w.kari, "Kurs her", "KLS-001")

			_, d := w.detail(t, to.ID, w.kari, "KLS-001")
			if len(d.Support.Places) != 1 || d.Support.Places[0].Name != "Helse Bergen HF" {
				t.Fatalf("earlier workplaces: %+v", d.Support.Places)
			}
			if got := titles(d.Support.Here); got != "Kurs her@" {
				t.Fatalf("here: %s", got)
			}
			// Completed ones only (not the one still waiting at Bergen), never the namesake's.
			if got := titles(d.Support.Earlier); got != "Kurs i Bergen@Helse Bergen HF, E-læring i Bergen@Helse Bergen HF" {
				t.Fatalf("earlier: %s", got)
			}
			e := d.Support.Earlier[0]
			if e.ID != w.signed || e.Status != activities.StatusSigned || len(e.Signatures) != 1 || e.Signatures[0].SupervisorName != "Sune Test" ||
				e.Signatures[0].Comment != "Godt gjort" || e.Signatures[0].SignedAt.IsZero() {
				t.Fatalf("earlier signed activity: %+v", e)
			}

			// The carried approval: where, by whom, when.
			g, d2 := w.detail(t, to.ID, w.kari, "KLS-002")
			if g.Status != StatusApproved || g.OriginName != "Helse Bergen HF" || d2.Progress == nil || d2.Progress.OriginName != "Helse Bergen HF" ||
				d2.Progress.DecidedByName != "Per Test" || d2.Progress.DecidedAt == nil || *d2.Progress.OriginTenantID != w.bergen.ID {
				t.Fatalf("carried approval: %+v %+v", g, d2.Progress)
			}

			// The leder here decides KLS-001, seeing Bergen's activities.
			p := w.sendTo(t, to.ID, w.kari, "KLS-001", leder)
			q, err := w.s.Queue(ctx, to.ID, leder.PersonID)
			if err != nil || len(q) != 1 || q[0].ID != p.ID {
				t.Fatalf("queue: %+v %v", q, err)
			}
			if got := titles(q[0].Basis.Earlier); got != "Kurs i Bergen@Helse Bergen HF, E-læring i Bergen@Helse Bergen HF" {
				t.Fatalf("the leder's live basis: %s", got)
			}
			if _, err := w.s.Decide(ctx, to.ID, leder, p.ID, Decision{Outcome: Approve, ConfirmMissing: true}); err != nil {
				t.Fatal(err)
			}
			// Sune signs the waiting one at Bergen afterwards: the LIS's page
			// shows it, the frozen basis does not.
			if err := w.acts.Decide(ctx, w.bergen.ID, w.sun, activities.DecisionSigned, []activities.Decision{{ActivityID: w.waiting}}); err != nil {
				t.Fatal(err)
			}
			if _, d := w.detail(t, to.ID, w.kari, "KLS-001"); len(d.Support.Earlier) != 3 {
				t.Fatalf("live after the late signature: %s", titles(d.Support.Earlier))
			}
			cs, err := w.s.CaseFor(ctx, to.ID, leder.PersonID, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got := titles(cs.Basis.Earlier); got != "Kurs i Bergen@Helse Bergen HF, E-læring i Bergen@Helse Bergen HF" || cs.Basis.FrozenAt == nil ||
				titles(cs.Basis.Activities) != "Kurs her@" || len(cs.Basis.Earlier[0].Signatures) != 1 {
				t.Fatalf("frozen basis: earlier %s, here %s", got, titles(cs.Basis.Activities))
			}
			var raw string
			inTenant(t, w.db, to.ID, func(ctx context.Context, tx bun.Tx) error {
				return tx.NewRaw("SELECT basis::text FROM goal_progress WHERE tenant_id = ? AND id = ?", to.ID, p.ID).Scan(ctx, &raw)
			})
			if !strings.Contains(raw, `"where": "Helse Bergen HF"`) || !strings.Contains(raw, `"supervisor_name": "Sune Test"`) {
				t.Fatalf("stored basis: %s", raw)
			}
		})
	}
}

// Who must not see: the namesake's earlier activities never appear (they did
// not move); the old workplace's leder deciding work in flight sees Bergen's
// basis only, nothing of the new workplace; a LIS who has not moved has no
// earlier workplace; a basis frozen before moves existed still reads.
func TestTransferIsolationGoalBasis(t *testing.T) {
	w := newMoveWorld(t)
	ctx := context.Background()
	w.move(t, w.forde)
	inTenant(t, w.db, w.forde.ID, func(ctx context.Context, tx bun.Tx) error {
		return tenants.SetRelation(ctx, tx, w.forde.ID, w.kari.PersonID, tenants.RelSupervisor, w.sun.PersonID, tenants.Actor{Name: "test"})
	})
	w.request(t, w.forde.ID, w.kari, "Kurs i Førde", "KLS-001", "KLS-003")

	_, d := w.detail(t, w.forde.ID, w.kari, "KLS-001")
	for _, a := range d.Support.Earlier {
		if a.ID == w.twin {
			t.Fatal("the namesake's activity shows as Kari's")
		}
	}
	// Per at Bergen decides KLS-003 (sent before the move): Bergen's own
	// basis, no earlier workplace, nothing from Førde.
	q, err := w.s.Queue(ctx, w.bergen.ID, w.per.PersonID)
	if err != nil || len(q) != 1 || q[0].ID != w.waitingGoal {
		t.Fatalf("Per's queue: %+v %v", q, err)
	}
	if len(q[0].Basis.Earlier) != 0 || strings.Contains(titles(q[0].Basis.Activities), "Førde") {
		t.Fatalf("the old leder's basis: here %s, earlier %s", titles(q[0].Basis.Activities), titles(q[0].Basis.Earlier))
	}
	cs, err := w.s.Decide(ctx, w.bergen.ID, w.per, w.waitingGoal, Decision{Outcome: Approve, ConfirmMissing: true})
	if err != nil || len(cs.Basis.Earlier) != 0 || strings.Contains(titles(cs.Basis.Activities), "Førde") {
		t.Fatalf("the old leder's frozen basis: %+v %v", cs, err)
	}
	// The namesake never moved: no earlier workplace, no earlier activity.
	_, d = w.detail(t, w.bergen.ID, w.namesake, "KLS-001")
	if len(d.Support.Places) != 0 || len(d.Support.Earlier) != 0 || titles(d.Support.Here) != "Navnebrorens kurs@" {
		t.Fatalf("the namesake: places %+v, here %s, earlier %s", d.Support.Places, titles(d.Support.Here), titles(d.Support.Earlier))
	}
	// OUS (never Kari's workplace) reads none of her activities through the store.
	acts, err := func() ([]activities.Activity, error) {
		var out []activities.Activity
		err := tenants.WithTenantTx(ctx, w.db, tenants.Scope{TenantID: w.ous.ID}, func(ctx context.Context, tx bun.Tx) error {
			var err error
			out, err = activities.ForGoalEarlier(ctx, tx, []uuid.UUID{w.bergen.ID, w.forde.ID}, w.kari.PersonID, "KLS-001")
			return err
		})
		return out, err
	}()
	if err != nil || len(acts) != 0 {
		t.Fatalf("OUS reads %d of Kari's activities: %v", len(acts), err)
	}
	// A basis frozen before moves existed (no "earlier") still reads.
	var b Basis
	if err := json.Unmarshal([]byte(`{"frozen_at":"2026-01-02T10:00:00Z","activities":[{"title":"Gammelt kurs","signatures":[]}],"inputs":[]}`), &b); err != nil ||
		len(b.Activities) != 1 || b.Earlier != nil || b.Activities[0].Where != "" {
		t.Fatalf("old basis: %+v %v", b, err)
	}
}
