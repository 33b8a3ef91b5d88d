package main

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/activities"
	"kportal/modules/catalog"
	"kportal/modules/goals"
	"kportal/modules/plans"
	"kportal/modules/transfers"
	"kportal/tenants"
)

// LIS1Hospital is the name of the demo's LIS1 hospital plan (KLS goals), the
// same at Helse Bergen and Helse Førde.
const LIS1Hospital = "LIS1 sykehusdel"

// seedMove gives the demo a LIS who has already changed workplace, so a
// newcomer sees "Tidligere arbeidssted" at once: Lars did the first months of
// LIS1 at Helse Bergen (two goals approved by Per, activities signed by Ola,
// Ingrid his veileder) and moved within Helse Vest to Helse Førde three weeks
// ago, through the real registration and sync job. Only once.
func seedMove(ctx context.Context, db *bun.DB, ids map[string]uuid.UUID, p func(string) uuid.UUID) error {
	hb, forde := ids["helse-bergen"], ids["helse-forde"]
	lars := tenants.Actor{PersonID: p("lars.lis1"), Name: "Lars Eide"}
	moves := transfers.NewStore(db)
	lists, err := moves.List(ctx, forde)
	if err != nil {
		return err
	}
	for _, t := range append(lists.Arrived, lists.Arriving...) {
		if t.LisID == lars.PersonID {
			return nil
		}
	}
	var version int
	if err := db.NewRaw("SELECT id FROM catalog_versions WHERE label = ?", DemoCatalog).Scan(ctx, &version); err != nil {
		return err
	}
	kls, err := catalog.Goals(ctx, db, version, "KLS")
	if err != nil {
		return err
	}
	if len(kls) < 3 {
		return fmt.Errorf("the demo catalogue has %d KLS goals", len(kls))
	}
	template := func(tenant uuid.UUID) (uuid.UUID, error) {
		ts, err := plans.Templates(ctx, db, tenant)
		if err != nil {
			return uuid.Nil, err
		}
		for _, t := range ts {
			if t.Name == LIS1Hospital && t.ArchivedAt == nil {
				return t.ID, nil
			}
		}
		t := &plans.Template{Name: LIS1Hospital, Specialty: plans.LIS1, VersionID: version}
		for _, g := range kls {
			t.Goals = append(t.Goals, plans.TemplateGoal{Code: g.Code})
		}
		return t.ID, plans.SaveTemplate(ctx, db, tenant, t)
	}
	hbPlan, err := template(hb)
	if err != nil {
		return err
	}
	fordePlan, err := template(forde)
	if err != nil {
		return err
	}
	seeder := tenants.Actor{Name: "demo"}
	err = tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: hb}, func(ctx context.Context, tx bun.Tx) error {
		for _, r := range []struct{ kind, person string }{{"leder", "per.leder"}, {"veileder", "ingrid.veileder"}, {"supervisor", "ola.supervisor"}} {
			if err := tenants.SetRelation(ctx, tx, hb, lars.PersonID, r.kind, p(r.person), seeder); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	per := tenants.Actor{PersonID: p("per.leder"), Name: "Per Johansen"}
	ola := tenants.Actor{PersonID: p("ola.supervisor"), Name: "Ola Hansen"}
	has, err := plans.Assignments(ctx, db, hb, []uuid.UUID{lars.PersonID})
	if err != nil {
		return err
	}
	if !hasActive(has, hbPlan) {
		if _, err := plans.Assign(ctx, db, hb, per, lars.PersonID, hbPlan); err != nil {
			return err
		}
	}
	acts := activities.NewStore(db)
	day := func(d int) string { return time.Now().AddDate(0, 0, d).Format("2006-01-02") }
	// Two goals approved at Bergen, one activity signed there for a third.
	for i, g := range kls[:3] {
		a, err := acts.Create(ctx, hb, lars, activities.Input{Kind: "supervisjon", Title: "Supervisjon på akuttmottaket (" + g.Code + ")",
			DoneOn: day(-60 + i), GoalCodes: []string{g.Code}, SupervisorID: ola.PersonID.String()})
		if err != nil {
			return err
		}
		if err := acts.Decide(ctx, hb, ola, activities.DecisionSigned, []activities.Decision{{ActivityID: a.ID, Comment: "Godt gjennomført."}}); err != nil {
			return err
		}
		if i == 2 {
			break
		}
		gs := goals.NewStore(db)
		sent, err := gs.SendGoal(ctx, hb, lars, goals.Send{Code: g.Code, CompletedOn: day(-50 + i), Approver: per.PersonID.String(),
			Inputs: []string{p("ingrid.veileder").String(), ola.PersonID.String()}})
		if err != nil {
			return err
		}
		if _, err := gs.Decide(ctx, hb, per, sent.ID, goals.Decision{Outcome: goals.Approve, ConfirmMissing: true}); err != nil {
			return err
		}
	}
	astrid := tenants.Actor{PersonID: p("astrid.admin"), Name: "Astrid Lie"}
	t, err := moves.Register(ctx, forde, astrid, transfers.Arrival{Who: "lars.lis1@demo.kportal.no", StartsOn: day(-21),
		TemplateID: fordePlan.String(), LederID: p("hilde.leder").String()}, nil)
	if err != nil {
		return err
	}
	done, err := moves.Sync(ctx, forde, t.ID)
	if err != nil {
		return err
	}
	if done.Status != transfers.StatusDone {
		return fmt.Errorf("Lars's move: %s", done.Report.Reason)
	}
	return nil
}
