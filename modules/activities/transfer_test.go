package activities

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/apperr"
	"kportal/modules/transfers/transferstest"
	"kportal/storage/testenv"
	"kportal/tenants"
)

// National procedures done at an earlier workplace count in the current
// plan's procedure list, matched by name within the specialty across
// catalogue versions; waiting, rejected and local ones, another specialty's
// and a namesake's do not. Within Helse Vest and across RHFs.
func TestTransferProceduresCountEarlierNational(t *testing.T) {
	for _, c := range []struct{ name, toRHF string }{{"within Helse Vest", "TV"}, {"to another RHF", "TS"}} {
		t.Run(c.name, func(t *testing.T) {
			env := testenv.Get(t)
			ctx := context.Background()
			db := env.App
			transferstest.RHF(t, "TV", "TS")
			bergen := testenv.NewTenant(t, db, &tenants.Tenant{Name: "Helse Bergen HF", RHFCode: "TV"})
			to := testenv.NewTenant(t, db, &tenants.Tenant{Name: "Ny arbeidsplass HF", RHFCode: c.toRHF})
			kari, twin, stay, sup := newPerson(t, db, "Kari"), newPerson(t, db, "Kari"), newPerson(t, db, "Stein"), newPerson(t, db, "Sigurd")
			leder := newPerson(t, db, "Leder")
			if err := tenants.AddMembership(ctx, db, to.ID, leder.PersonID, "leder"); err != nil {
				t.Fatal(err)
			}
			if _, err := env.Owner.ExecContext(ctx, "INSERT INTO specialties (code, name) VALUES ('ORT', 'Ortopedisk kirurgi') ON CONFLICT DO NOTHING"); err != nil {
				t.Fatal(err)
			}
			// Two catalogue versions: the old one spells the specialty as a
			// slug, the new one by name; each has its own procedure ids.
			var v1, v2 int
			proc := map[string]uuid.UUID{}
			for _, v := range []*int{&v1, &v2} {
				if err := env.Owner.NewRaw("INSERT INTO catalog_versions (label) VALUES (?) RETURNING id", "np-"+uuid.NewString()[:8]).Scan(ctx, v); err != nil {
					t.Fatal(err)
				}
			}
			for _, p := range []struct {
				key, specialty, name string
				version              int
			}{
				{"old", "ortopedisk-kirurgi", "Seneskader", v1}, {"oldGEN", "GEN", "Seneskader", v1}, {"oldOther", "ortopedisk-kirurgi", "Artroskopi", v1},
				{"new", "Ortopedisk kirurgi", "Seneskader", v2}, {"newOther", "Ortopedisk kirurgi", "Artroskopi", v2},
			} {
				var id uuid.UUID
				if err := env.Owner.NewRaw(`INSERT INTO national_procedures (version_id, specialty, number, name, assisted, performed) VALUES (?, ?, '1', ?, 5, 10) RETURNING id`,
					p.version, p.specialty, p.name).Scan(ctx, &id); err != nil {
					t.Fatal(err)
				}
				proc[p.key] = id
			}
			templates := map[uuid.UUID]uuid.UUID{}
			for _, x := range []struct {
				tn      uuid.UUID
				version int
			}{{bergen.ID, v1}, {to.ID, v2}} {
				err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: x.tn}, func(ctx context.Context, tx bun.Tx) error {
					var tpl uuid.UUID
					if err := tx.NewRaw("INSERT INTO plan_templates (tenant_id, name, specialty, version_id) VALUES (?, 'Ortopedi', 'ORT', ?) RETURNING id", x.tn, x.version).Scan(ctx, &tpl); err != nil {
						return err
					}
					templates[x.tn] = tpl
					_, err := tx.ExecContext(ctx, `INSERT INTO local_activities (tenant_id, template_id, kind, name, required) VALUES (?, ?, 'procedure', 'Gipsing', 3)`, x.tn, tpl)
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			// At Bergen: Kari, her namesake and Stein (who stays) each have a plan and procedures.
			err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: bergen.ID}, func(ctx context.Context, tx bun.Tx) error {
				var local uuid.UUID
				if err := tx.NewRaw("SELECT id FROM local_activities WHERE tenant_id = ?", bergen.ID).Scan(ctx, &local); err != nil {
					return err
				}
				for _, lis := range []tenants.Actor{kari, twin, stay} {
					if err := tenants.GrantRole(ctx, tx, bergen.ID, lis.PersonID, "lis", tenants.Actor{Name: "test"}); err != nil {
						return err
					}
					if _, err := tx.ExecContext(ctx, "INSERT INTO plan_assignments (tenant_id, lis_id, template_id, version_id) VALUES (?, ?, ?, ?)", bergen.ID, lis.PersonID, templates[bergen.ID], v1); err != nil {
						return err
					}
				}
				for _, a := range []struct {
					lis          tenants.Actor
					proc, local  *uuid.UUID
					role, status string
					n            int
				}{
					{kari, ptr(proc["old"]), nil, "performed", "signed", 4},
					{kari, ptr(proc["old"]), nil, "assisted", "registered", 2},
					{kari, ptr(proc["old"]), nil, "performed", "requested", 3},
					{kari, ptr(proc["old"]), nil, "performed", "rejected", 7},
					{kari, ptr(proc["oldGEN"]), nil, "performed", "signed", 5},
					{kari, nil, &local, "performed", "signed", 2},
					{twin, ptr(proc["old"]), nil, "performed", "signed", 9},
					{stay, ptr(proc["old"]), nil, "performed", "signed", 1},
				} {
					if _, err := tx.ExecContext(ctx, `INSERT INTO activities (tenant_id, lis_id, kind, title, procedure_id, local_id, procedure_role, count, done_on, status, supervisor_id)
						VALUES (?, ?, 'procedure', 'Prosedyre', ?, ?, ?, ?, current_date, ?, ?)`, bergen.ID, a.lis.PersonID, a.proc, a.local, a.role, a.n, a.status, sup.PersonID); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			transferstest.Move(t, db, bergen, to, kari.PersonID, templates[to.ID], leder.PersonID)

			s := NewStore(db)
			list, err := s.Procedures(ctx, to.ID, kari.PersonID, "")
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]Procedure{}
			for _, p := range list {
				got[p.Name] = p
			}
			sene := got["Seneskader"]
			if len(list) != 3 || sene.ID != proc["new"] || sene.DonePerformed != 4 || sene.DoneAssisted != 2 || sene.EarlierPerformed != 4 || sene.EarlierAssisted != 2 || sene.Waiting() != 0 {
				t.Fatalf("Seneskader at the new workplace: %+v (list %+v)", sene, list)
			}
			if o := got["Artroskopi"]; o.DoneTotal() != 0 || o.EarlierTotal() != 0 {
				t.Fatalf("Artroskopi: %+v", o)
			}
			if g := got["Gipsing"]; !g.Local || g.DoneTotal() != 0 {
				t.Fatalf("the old workplace's local procedure carried: %+v", g)
			}
			// Done here adds to it; the earlier part stays apart (2 of 5 assisted: not complete yet).
			err = tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: to.ID}, func(ctx context.Context, tx bun.Tx) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO activities (tenant_id, lis_id, kind, title, procedure_id, procedure_role, count, done_on, status)
					VALUES (?, ?, 'procedure', 'Seneskader', ?, 'performed', 6, current_date, 'signed')`, to.ID, kari.PersonID, proc["new"])
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			list, _ = s.Procedures(ctx, to.ID, kari.PersonID, "sene")
			if len(list) != 1 || list[0].DonePerformed != 10 || list[0].EarlierPerformed != 4 || list[0].Complete() {
				t.Fatalf("after 6 more here: %+v", list)
			}
		})
	}
}

// The old workplace counts nothing of what the LIS does at the new one, and a
// LIS who never moved counts only their own.
func TestTransferIsolationProcedureCounts(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	env := testenv.Get(t)
	// Lise moves from A to B (B gets a plan of the same catalogue version).
	var tpl uuid.UUID
	err := tenants.WithTenantTx(ctx, env.App, tenants.Scope{TenantID: f.b.ID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw("INSERT INTO plan_templates (tenant_id, name, specialty, version_id) VALUES (?, 'Ortopedi del 3', 'ORT', ?) RETURNING id", f.b.ID, f.version).Scan(ctx, &tpl)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tenants.AddMembership(ctx, env.App, f.a.ID, f.lis.PersonID, "lis"); err != nil {
		t.Fatal(err)
	}
	signed := func(tn uuid.UUID, lis tenants.Actor, n int) {
		t.Helper()
		err := tenants.WithTenantTx(ctx, env.App, tenants.Scope{TenantID: tn}, func(ctx context.Context, tx bun.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO activities (tenant_id, lis_id, kind, title, procedure_id, procedure_role, count, done_on, status)
				VALUES (?, ?, 'procedure', 'Seneskader', ?, 'performed', ?, current_date, 'signed')`, tn, lis.PersonID, f.procID, n)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	signed(f.a.ID, f.lis, 2)
	// lis2 has a plan at A too, and never moves.
	err = tenants.WithTenantTx(ctx, env.App, tenants.Scope{TenantID: f.a.ID}, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO plan_assignments (tenant_id, lis_id, template_id, version_id) VALUES (?, ?, ?, ?)", f.a.ID, f.lis2.PersonID, f.templateID, f.version)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	signed(f.a.ID, f.lis2, 1)
	leder := newPerson(t, env.App, "Leder")
	if err := tenants.AddMembership(ctx, env.App, f.b.ID, leder.PersonID, "leder"); err != nil {
		t.Fatal(err)
	}
	transferstest.Move(t, env.App, f.a, f.b, f.lis.PersonID, tpl, leder.PersonID)
	signed(f.b.ID, f.lis, 5)

	if list, err := f.s.Procedures(ctx, f.b.ID, f.lis.PersonID, ""); err != nil || len(list) != 1 || list[0].DonePerformed != 7 || list[0].EarlierPerformed != 2 {
		t.Fatalf("at B: %+v %v", list, err)
	}
	if list, err := f.s.Procedures(ctx, f.a.ID, f.lis2.PersonID, ""); err != nil || len(list) != 2 || list[0].DonePerformed != 1 || list[0].EarlierTotal() != 0 {
		t.Fatalf("lis2 at A: %+v %v", list, err)
	}
	// A still counts Lise's repetitions there and none of B's (her plan at A
	// is ended, so the query is run directly).
	var n int
	err = tenants.WithTenantTx(ctx, env.App, tenants.Scope{TenantID: f.a.ID}, func(ctx context.Context, tx bun.Tx) error {
		var rows []Procedure
		if err := tx.NewRaw(ProceduresQuery, f.a.ID, f.lis.PersonID, f.templateID, f.version, "%").Scan(ctx, &rows); err != nil {
			return err
		}
		for _, r := range rows {
			if r.ID == f.procID {
				n = r.DonePerformed
			}
		}
		return nil
	})
	if err != nil || n != 2 {
		t.Fatalf("A counts %d of Lise's repetitions: %v", n, err)
	}
}

func ptr(id uuid.UUID) *uuid.UUID { return &id }

// What waited for a signature at the old workplace, the LIS sends to a
// supervisor at the new one: a copy here with its origin, the one there
// withdrawn (never signed twice), once; nobody else can send it.
func TestTransferResendAtNewWorkplace(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	db := env.App
	transferstest.RHF(t, "TV")
	bergen := testenv.NewTenant(t, db, &tenants.Tenant{Name: "Helse Bergen HF", RHFCode: "TV"})
	forde := testenv.NewTenant(t, db, &tenants.Tenant{Name: "Helse Førde HF", RHFCode: "TV"})
	kari, ola, leder, siri := newPerson(t, db, "Kari"), newPerson(t, db, "Ola"), newPerson(t, db, "Leder"), newPerson(t, db, "Siri")
	templates := map[uuid.UUID]uuid.UUID{}
	var version int
	if err := env.Owner.NewRaw("INSERT INTO catalog_versions (label) VALUES (?) RETURNING id", "resend-"+uuid.NewString()[:8]).Scan(ctx, &version); err != nil {
		t.Fatal(err)
	}
	for _, tn := range []*tenants.Tenant{bergen, forde} {
		err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: tn.ID}, func(ctx context.Context, tx bun.Tx) error {
			var tpl uuid.UUID
			err := tx.NewRaw("INSERT INTO plan_templates (tenant_id, name, specialty, version_id) VALUES (?, 'Ortopedi', 'ORT', ?) RETURNING id", tn.ID, version).Scan(ctx, &tpl)
			templates[tn.ID] = tpl
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := tenants.AddMembership(ctx, db, forde.ID, leder.PersonID, "leder"); err != nil {
		t.Fatal(err)
	}
	var signedThere, waiting uuid.UUID
	err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: bergen.ID}, func(ctx context.Context, tx bun.Tx) error {
		if err := tenants.SetRelation(ctx, tx, bergen.ID, kari.PersonID, tenants.RelSupervisor, ola.PersonID, tenants.Actor{Name: "test"}); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO plan_assignments (tenant_id, lis_id, template_id, version_id) VALUES (?, ?, ?, ?)", bergen.ID, kari.PersonID, templates[bergen.ID], version); err != nil {
			return err
		}
		for _, x := range []struct {
			title string
			id    *uuid.UUID
		}{{"Signeres der", &signedThere}, {"Venter", &waiting}} {
			if err := tx.NewRaw(`INSERT INTO activities (tenant_id, lis_id, kind, title, done_on, status, supervisor_id, requested_at, goal_codes)
				VALUES (?, ?, 'course', ?, current_date, 'requested', ?, now(), '{KLS-001}') RETURNING id`, bergen.ID, kari.PersonID, x.title, ola.PersonID).Scan(ctx, x.id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	transferstest.Move(t, db, bergen, forde, kari.PersonID, templates[forde.ID], leder.PersonID)
	s := NewStore(db)
	// Ola signs one at Bergen after the move: it no longer waits.
	if err := s.Decide(ctx, bergen.ID, ola, DecisionSigned, []Decision{{ActivityID: signedThere}}); err != nil {
		t.Fatal(err)
	}
	list, err := s.WaitingElsewhere(ctx, forde.ID, kari.PersonID)
	if err != nil || len(list) != 1 || list[0].ID != waiting || list[0].Where != bergen.Name {
		t.Fatalf("waiting elsewhere: %+v %v", list, err)
	}
	if _, err := s.Resend(ctx, forde.ID, kari, waiting, leder.PersonID); apperr.FieldsOf(err)["supervisor"] == "" {
		t.Fatalf("sent to someone who is not her supervisor here: %v", err)
	}
	err = tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: forde.ID}, func(ctx context.Context, tx bun.Tx) error {
		return tenants.SetRelation(ctx, tx, forde.ID, kari.PersonID, tenants.RelSupervisor, siri.PersonID, tenants.Actor{Name: "test"})
	})
	if err != nil {
		t.Fatal(err)
	}
	// Someone else (the leder) cannot send Kari's activity.
	if _, err := s.Resend(ctx, forde.ID, leder, waiting, siri.PersonID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("someone else sent her activity: %v", err)
	}
	copyID, err := s.Resend(ctx, forde.ID, kari, waiting, siri.PersonID)
	if err != nil {
		t.Fatal(err)
	}
	queue, err := s.Queue(ctx, forde.ID, siri.PersonID)
	if err != nil || len(queue) != 1 || queue[0].ID != copyID || queue[0].Title != "Venter" {
		t.Fatalf("Siri's queue: %+v %v", queue, err)
	}
	if n := testenv.Count(t, db, forde.ID, "SELECT count(*) FROM activities WHERE tenant_id = ? AND id = ? AND origin_id = ? AND origin_tenant_id = ?", forde.ID, copyID, waiting, bergen.ID); n != 1 {
		t.Fatal("the copy does not record where it came from")
	}
	if n := testenv.Count(t, db, bergen.ID, "SELECT count(*) FROM activities WHERE tenant_id = ? AND id = ? AND status = 'withdrawn'", bergen.ID, waiting); n != 1 {
		t.Fatal("the one at Bergen still waits: it could be signed twice")
	}
	if q, _ := s.Queue(ctx, bergen.ID, ola.PersonID); len(q) != 0 {
		t.Fatalf("Ola's queue still holds it: %+v", q)
	}
	if _, err := s.Resend(ctx, forde.ID, kari, waiting, siri.PersonID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("sent again twice: %v", err)
	}
	if list, _ := s.WaitingElsewhere(ctx, forde.ID, kari.PersonID); len(list) != 0 {
		t.Fatalf("still listed after sending: %+v", list)
	}
}
