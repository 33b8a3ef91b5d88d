package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/activities"
	"kportal/modules/goals"
	"kportal/modules/transfers/transferstest"
	"kportal/storage/testenv"
	"kportal/tenants"
)

// "Tidligere arbeidssted" over HTTP: Kari moved from Helse Bergen to Helse
// Førde. Her goal page at Førde shows Bergen's signed course under its own
// section with where and who signed, and the goal approved at Bergen with
// where, by whom and when; Førde's leder sees the course in the case's basis.
// Stein, who never moved, sees no such section.
func TestTransferGoalPagesHTTP(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	db := testenv.Get(t).App
	ctx := context.Background()
	transferstest.RHF(t, "TV")
	bergen := testenv.NewTenant(t, db, &tenants.Tenant{Name: "Helse Bergen HF", RHFCode: "TV"})
	forde := testenv.NewTenant(t, db, &tenants.Tenant{Name: "Helse Førde HF", RHFCode: "TV"})
	kariEmail, kariPassword, kari := member(t, cfg, "Kari", bergen, "lis")
	steinEmail, steinPassword, stein := member(t, cfg, "Stein", bergen, "lis")
	_, _, per := member(t, cfg, "Per", bergen, "leder")
	_, _, sune := member(t, cfg, "Sune", bergen, "supervisor")
	fridaEmail, fridaPassword, frida := member(t, cfg, "Frida", forde, "leder")

	version := goalCatalog(t, map[string]string{"KLS-001": "Kan ta opp sykehistorie", "KLS-002": "Kan skrive epikrise"})
	templates := map[uuid.UUID]uuid.UUID{}
	for _, tn := range []*tenants.Tenant{bergen, forde} {
		templates[tn.ID] = goalPlan(t, tn, version, "LIS1 sykehus", "KLS-001", "KLS-002")
	}
	for _, tn := range []*tenants.Tenant{bergen, forde} {
		err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: tn.ID}, func(ctx context.Context, tx bun.Tx) error {
			tpl := templates[tn.ID]
			if tn != bergen {
				return nil
			}
			for _, lis := range []uuid.UUID{kari, stein} {
				for kind, p := range map[string]uuid.UUID{"leder": per, "supervisor": sune} {
					if err := tenants.SetRelation(ctx, tx, tn.ID, lis, kind, p, tenants.Actor{Name: "test"}); err != nil {
						return err
					}
				}
				if _, err := tx.ExecContext(ctx, "INSERT INTO plan_assignments (tenant_id, lis_id, template_id, version_id) VALUES (?, ?, ?, ?)", tn.ID, lis, tpl, version); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// At Bergen: each signs a course for KLS-001 (Sune signs), Per approves Kari's KLS-002.
	as, gs := activities.NewStore(db), goals.NewStore(db)
	for _, x := range []struct {
		lis   uuid.UUID
		title string
	}{{kari, "Kurs i Bergen"}, {stein, "Steins kurs"}} {
		a, err := as.Create(ctx, bergen.ID, tenants.Actor{PersonID: x.lis, Name: "LIS"}, activities.Input{Kind: "course", Title: x.title,
			DoneOn: time.Now().Format("2006-01-02"), GoalCodes: []string{"KLS-001"}, SupervisorID: sune.String()})
		if err != nil {
			t.Fatal(err)
		}
		if err := as.Decide(ctx, bergen.ID, tenants.Actor{PersonID: sune, Name: "Sune"}, activities.DecisionSigned, []activities.Decision{{ActivityID: a.ID}}); err != nil {
			t.Fatal(err)
		}
	}
	p, err := gs.SendGoal(ctx, bergen.ID, tenants.Actor{PersonID: kari, Name: "Kari"}, goals.Send{Code: "KLS-002", CompletedOn: time.Now().Format("2006-01-02"),
		Approver: per.String(), Inputs: []string{sune.String()}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gs.Decide(ctx, bergen.ID, tenants.Actor{PersonID: per, Name: "Per"}, p.ID, goals.Decision{Outcome: goals.Approve, ConfirmMissing: true}); err != nil {
		t.Fatal(err)
	}
	transferstest.Move(t, db, bergen, forde, kari, templates[forde.ID], frida)

	base := "/t/" + forde.Slug
	lis := newBrowser(t, srv.URL)
	login(t, lis, kariEmail, kariPassword)
	status, _, page := lis.get(base + "/laeringsmaal/KLS-001")
	if status != http.StatusOK || !strings.Contains(page, `data-testid="earlier"`) || !strings.Contains(page, "Tidligere arbeidssted") ||
		!strings.Contains(page, "Kurs i Bergen") || !strings.Contains(page, `data-testid="where">Helse Bergen HF`) || !strings.Contains(page, "Signert av Sune") ||
		strings.Contains(page, "Steins kurs") {
		t.Fatalf("Kari's goal page at Førde: %d\n%s", status, page)
	}
	if _, _, page := lis.get(base + "/laeringsmaal/KLS-002"); !strings.Contains(page, `data-testid="goal-provenance"`) ||
		!strings.Contains(page, "Godkjent ved Helse Bergen HF av Per") || !strings.Contains(page, time.Now().Format("2.1.2006")) {
		t.Fatalf("the carried approval without its provenance:\n%s", page)
	}
	if _, _, page := lis.get(base + "/laeringsmaal"); !strings.Contains(page, "Godkjent ved Helse Bergen HF") {
		t.Fatalf("goal list without where KLS-002 was approved:\n%s", page)
	}

	// Kari sends KLS-001 to Frida, who sees Bergen's course in the basis.
	form := url.Values{"_csrf": {csrfFrom(t, page)}, "completed_on": {time.Now().Format("2006-01-02")}, "approver": {frida.String()}}
	if status, _, page := lis.post(base+"/laeringsmaal/KLS-001/send", form); status != http.StatusOK || !strings.Contains(page, "Sendt til godkjenning") {
		t.Fatalf("send at Førde: %d\n%s", status, page)
	}
	leder := newBrowser(t, srv.URL)
	login(t, leder, fridaEmail, fridaPassword)
	_, _, page = leder.get(base + "/godkjenning")
	m := goalCaseRe.FindStringSubmatch(page)
	if m == nil || !strings.Contains(page, "1 ved tidligere arbeidssted") {
		t.Fatalf("Frida's queue:\n%s", page)
	}
	if _, _, page = leder.get(base + "/godkjenning/" + m[1]); !strings.Contains(page, `data-testid="basis-earlier"`) || !strings.Contains(page, "Kurs i Bergen") ||
		!strings.Contains(page, `data-testid="where">Helse Bergen HF`) || strings.Contains(page, "Steins kurs") {
		t.Fatalf("Frida's case page:\n%s", page)
	}

	// Stein never moved: no section.
	other := newBrowser(t, srv.URL)
	login(t, other, steinEmail, steinPassword)
	if status, _, page := other.get("/t/" + bergen.Slug + "/laeringsmaal/KLS-001"); status != http.StatusOK || !strings.Contains(page, "Steins kurs") ||
		strings.Contains(page, "Tidligere arbeidssted") || strings.Contains(page, "Kurs i Bergen") {
		t.Fatalf("Stein's goal page: %d\n%s", status, page)
	}
}
