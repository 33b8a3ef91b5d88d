package transfers

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/apperr"
	"kportal/modules/history/historytest"
	"kportal/storage/testenv"
	"kportal/tenants"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// world: Kari is LIS at Helse Bergen (Helse Vest) with a record written by
// historytest (an approved goal, a signed procedure, a samtale held by her
// veileder Ola, a document). Helse Førde is in Helse Vest, OUS in Helse
// Sør-Øst, Bergen kommune in no RHF. Each new workplace has a plan template
// and a leder.
type world struct {
	s                       *Store
	db                      bun.IDB
	bergen, forde, ous, kom *tenants.Tenant
	kari, per, ola          uuid.UUID
	rec                     historytest.Record
	email                   string
	templates, leders       map[uuid.UUID]uuid.UUID
}

func newWorld(t *testing.T) *world {
	t.Helper()
	env := testenv.Get(t)
	ctx := context.Background()
	for _, r := range []struct{ code, orgnr string }{{"TV", "910000001"}, {"TS", "910000002"}} {
		if _, err := env.Owner.ExecContext(ctx, "INSERT INTO rhf (code, name, orgnr) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", r.code, "Helse "+r.code, r.orgnr); err != nil {
			t.Fatal(err)
		}
	}
	db := env.App
	w := &world{s: NewStore(db), db: db, templates: map[uuid.UUID]uuid.UUID{}, leders: map[uuid.UUID]uuid.UUID{}}
	w.bergen = testenv.NewTenant(t, db, &tenants.Tenant{Name: "Helse Bergen HF", RHFCode: "TV"})
	w.forde = testenv.NewTenant(t, db, &tenants.Tenant{Name: "Helse Førde HF", RHFCode: "TV"})
	w.ous = testenv.NewTenant(t, db, &tenants.Tenant{Name: "Oslo universitetssykehus HF", RHFCode: "TS"})
	w.kom = testenv.NewTenant(t, db, &tenants.Tenant{Name: "Bergen kommune", Kind: tenants.KindKommune})
	w.kari, w.per, w.ola = testenv.NewPerson(t, db, "Kari", "Nordmann"), testenv.NewPerson(t, db, "Per", "Leder"), testenv.NewPerson(t, db, "Ola", "Veileder")
	if err := db.NewRaw("SELECT email FROM people WHERE id = ?", w.kari).Scan(ctx, &w.email); err != nil {
		t.Fatal(err)
	}
	w.rec = historytest.Write(t, db, w.bergen.ID, w.kari, w.per, w.ola, "B1")
	err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: w.bergen.ID}, func(ctx context.Context, tx bun.Tx) error {
		return tenants.SetRelation(ctx, tx, w.bergen.ID, w.kari, tenants.RelVeileder, w.ola, tenants.Actor{Name: "test"})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range []*tenants.Tenant{w.forde, w.ous, w.kom} {
		leder := testenv.NewPerson(t, db, "Leder", tn.Name)
		if err := tenants.AddMembership(ctx, db, tn.ID, leder, "leder"); err != nil {
			t.Fatal(err)
		}
		w.leders[tn.ID] = leder
		err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: tn.ID}, func(ctx context.Context, tx bun.Tx) error {
			var tpl uuid.UUID
			err := tx.NewRaw(`INSERT INTO plan_templates (tenant_id, name, specialty, version_id)
				VALUES (?, 'Ortopedi', 'ORT', (SELECT max(id) FROM catalog_versions)) RETURNING id`, tn.ID).Scan(ctx, &tpl)
			w.templates[tn.ID] = tpl
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func (w *world) today() string { return time.Now().In(time.UTC).Format("2006-01-02") }

// move registers Kari's move into to, starting today, and syncs it.
func (w *world) move(t *testing.T, to *tenants.Tenant) *Transfer {
	t.Helper()
	ctx := context.Background()
	tr, err := w.s.Register(ctx, to.ID, tenants.Actor{PersonID: w.leders[to.ID], Name: "Leder"}, Arrival{Who: w.email, StartsOn: w.s.today().Format("2006-01-02"),
		TemplateID: w.templates[to.ID].String(), LederID: w.leders[to.ID].String()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	done, err := w.s.Sync(ctx, to.ID, tr.ID)
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != StatusDone {
		t.Fatalf("move to %s: %s %+v", to.Name, done.Status, done.Report)
	}
	return done
}

// count counts rows as person in the tenant in force.
func (w *world) count(t *testing.T, tenant, person uuid.UUID, query string, args ...any) int {
	t.Helper()
	var n int
	err := tenants.WithTenantTx(context.Background(), w.db, tenants.Scope{TenantID: tenant, PersonID: person}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw(query, args...).Scan(ctx, &n)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Each row of DOMAIN.md's table, both the "yes" and the "no", for a move
// within Helse Vest, to another RHF, and from hospital to kommune.
func TestTransferCarriesWhatTheTableSays(t *testing.T) {
	for _, c := range []struct {
		name    string
		to      func(w *world) *tenants.Tenant
		sameRHF bool
	}{
		{"within Helse Vest", func(w *world) *tenants.Tenant { return w.forde }, true},
		{"to another RHF", func(w *world) *tenants.Tenant { return w.ous }, false},
		{"hospital to kommune", func(w *world) *tenants.Tenant { return w.kom }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			to := c.to(w)
			tr := w.move(t, to)
			if tr.SameRHF != c.sameRHF {
				t.Fatalf("same RHF = %v", tr.SameRHF)
			}
			// The old plan is ended, the new one active.
			if n := w.count(t, w.bergen.ID, uuid.Nil, "SELECT count(*) FROM plan_assignments WHERE tenant_id = ? AND lis_id = ? AND archived_at IS NULL", w.bergen.ID, w.kari); n != 0 {
				t.Fatalf("%d active plans left at Bergen", n)
			}
			if n := w.count(t, to.ID, uuid.Nil, "SELECT count(*) FROM plan_assignments WHERE tenant_id = ? AND lis_id = ? AND archived_at IS NULL", to.ID, w.kari); n != 1 {
				t.Fatalf("%d active plans at the new workplace", n)
			}
			// Approvals: yes, with who approved, where and when.
			var p struct {
				DecidedBy uuid.UUID `bun:"decided_by"`
				Origin    uuid.UUID `bun:"origin_tenant_id"`
			}
			err := tenants.WithTenantTx(context.Background(), w.db, tenants.Scope{TenantID: to.ID}, func(ctx context.Context, tx bun.Tx) error {
				return tx.NewRaw("SELECT decided_by, origin_tenant_id FROM goal_progress WHERE tenant_id = ? AND lis_id = ? AND goal_code = ? AND status = 'approved'",
					to.ID, w.kari, w.rec.Goal).Scan(ctx, &p.DecidedBy, &p.Origin)
			})
			if err != nil || p.DecidedBy != w.per || p.Origin != w.bergen.ID {
				t.Fatalf("carried approval: %+v %v", p, err)
			}
			// Completed activities: yes, read at the new workplace as they were.
			if n := w.count(t, to.ID, w.leders[to.ID], "SELECT count(*) FROM activities WHERE lis_id = ? AND tenant_id = ? AND status = 'signed'", w.kari, w.bergen.ID); n != 1 {
				t.Fatalf("earlier activities read at the new workplace: %d", n)
			}
			if n := w.count(t, to.ID, w.leders[to.ID], "SELECT count(*) FROM signatures WHERE tenant_id = ? AND activity_id = ?", w.bergen.ID, w.rec.ActivityID); n != 1 {
				t.Fatalf("earlier signatures read at the new workplace: %d", n)
			}
			// Veileder: only within the RHF.
			veileder := w.count(t, to.ID, uuid.Nil, "SELECT count(*) FROM relations WHERE tenant_id = ? AND lis_id = ? AND kind = 'veileder' AND person_id = ?", to.ID, w.kari, w.ola)
			if (veileder == 1) != c.sameRHF {
				t.Fatalf("veileder carried = %d", veileder)
			}
			// Samtaler: the (carried) veileder reads them only within the RHF.
			if c.sameRHF {
				if n := w.count(t, to.ID, w.ola, "SELECT count(*) FROM advisory_sessions WHERE id = ?", w.rec.SessionID); n != 1 {
					t.Fatal("the veileder does not read the samtale at the new workplace within the RHF")
				}
			} else {
				// A veileder added by hand at the new RHF reads nothing from the old one.
				newV := testenv.NewPerson(t, w.db, "Nina", "Ny")
				err := tenants.WithTenantTx(context.Background(), w.db, tenants.Scope{TenantID: to.ID}, func(ctx context.Context, tx bun.Tx) error {
					return tenants.SetRelation(ctx, tx, to.ID, w.kari, tenants.RelVeileder, newV, tenants.Actor{Name: "test"})
				})
				if err != nil {
					t.Fatal(err)
				}
				if n := w.count(t, to.ID, newV, "SELECT count(*) FROM advisory_sessions WHERE id = ?", w.rec.SessionID); n != 0 {
					t.Fatal("a veileder at another RHF reads the samtale")
				}
				if n := w.count(t, to.ID, newV, "SELECT count(*) FROM advisory_notes WHERE session_id = ?", w.rec.SessionID); n != 0 {
					t.Fatal("a veileder at another RHF reads the referat")
				}
			}
			// Dokumentarkiv: only within the RHF.
			docs := w.count(t, to.ID, w.leders[to.ID], "SELECT count(*) FROM documents WHERE tenant_id = ? AND person_id = ?", w.bergen.ID, w.kari)
			if (docs == 1) != c.sameRHF {
				t.Fatalf("documents read at the new workplace: %d", docs)
			}
			// Nothing of the earlier record can be written from the new workplace.
			err = tenants.WithTenantTx(context.Background(), w.db, tenants.Scope{TenantID: to.ID}, func(ctx context.Context, tx bun.Tx) error {
				res, err := tx.ExecContext(ctx, "UPDATE activities SET comment = 'endret' WHERE tenant_id = ? AND lis_id = ?", w.bergen.ID, w.kari)
				if err != nil {
					return err
				}
				if n, _ := res.RowsAffected(); n != 0 {
					t.Fatalf("updated %d earlier activities from the new workplace", n)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Who must not see: another tenant, the old workplace's leder after the move
// (nothing of the new one), and another LIS of the same name.
func TestTransferIsolationAfterMove(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	namesake := testenv.NewPerson(t, w.db, "Kari", "Nordmann")
	nrec := historytest.Write(t, w.db, w.bergen.ID, namesake, w.per, w.ola, "N1")
	tr := w.move(t, w.forde)

	// Kari registers at Førde; Per (at Bergen) sees none of it.
	err := tenants.WithTenantTx(ctx, w.db, tenants.Scope{TenantID: w.forde.ID}, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO activities (tenant_id, lis_id, kind, title, done_on, status) VALUES (?, ?, 'course', 'Kurs i Førde', current_date, 'registered')`, w.forde.ID, w.kari)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := w.count(t, w.bergen.ID, w.per, "SELECT count(*) FROM activities WHERE lis_id = ? AND tenant_id <> ?", w.kari, w.bergen.ID); n != 0 {
		t.Fatalf("the old workplace reads %d activities of the new one", n)
	}
	if n := w.count(t, w.bergen.ID, w.per, "SELECT count(*) FROM goal_progress WHERE lis_id = ? AND tenant_id <> ?", w.kari, w.bergen.ID); n != 0 {
		t.Fatal("the old workplace reads the carried approvals")
	}
	// The old workplace sees that she left, and when; nothing else of the move.
	if n := w.count(t, w.bergen.ID, w.per, "SELECT count(*) FROM transfers WHERE id = ? AND from_tenant_id = ?", tr.ID, w.bergen.ID); n != 1 {
		t.Fatal("the old workplace does not see that the LIS left")
	}
	if n := w.count(t, w.bergen.ID, w.per, "SELECT count(*) FROM earlier_workplaces"); n != 0 {
		t.Fatal("the old workplace reads the new one's earlier_workplaces")
	}
	// A third tenant (OUS) sees nothing of Kari at Bergen or Førde.
	for _, q := range []string{"activities", "goal_progress", "documents WHERE person_id = ?", "transfers"} {
		query := "SELECT count(*) FROM " + q
		args := []any{}
		if q == "documents WHERE person_id = ?" {
			args = append(args, w.kari)
		} else {
			query += " WHERE lis_id = ?"
			args = append(args, w.kari)
		}
		if n := w.count(t, w.ous.ID, w.leders[w.ous.ID], query, args...); n != 0 {
			t.Fatalf("OUS reads %d rows: %s", n, query)
		}
	}
	// The namesake's record stays at Bergen: Førde reads none of it.
	if n := w.count(t, w.forde.ID, w.leders[w.forde.ID], "SELECT count(*) FROM activities WHERE lis_id = ?", namesake); n != 0 {
		t.Fatal("Førde reads the namesake's activities")
	}
	if n := w.count(t, w.forde.ID, w.leders[w.forde.ID], "SELECT count(*) FROM documents WHERE person_id = ?", namesake); n != 0 {
		t.Fatalf("Førde reads the namesake's document %s", nrec.Document)
	}
	// Without a tenant in force, nothing at all.
	if n := w.count(t, uuid.Nil, w.kari, "SELECT count(*) FROM activities WHERE lis_id = ?", w.kari); n != 0 {
		t.Fatal("activities read without a tenant")
	}
}

// The sync job run twice, at the same time, or again after it was killed
// mid-way: the result of one run.
func TestTransferSyncIdempotentAndConcurrent(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	tr, err := w.s.Register(ctx, w.ous.ID, tenants.Actor{PersonID: w.leders[w.ous.ID]}, Arrival{Who: w.email, StartsOn: w.s.today().Format("2006-01-02"),
		TemplateID: w.templates[w.ous.ID].String()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = tenants.WithTenantTx(ctx, w.db, tenants.Scope{TenantID: w.bergen.ID}, func(ctx context.Context, tx bun.Tx) error {
		return tenants.SetRelation(ctx, tx, w.bergen.ID, w.kari, tenants.RelLeder, w.per, tenants.Actor{Name: "test"})
	})
	if err != nil {
		t.Fatal(err)
	}
	// Killed mid-way: a transaction that did the move's first half and died.
	killed, cancel := context.WithCancel(ctx)
	err = tenants.WithTenantTx(killed, w.db, tenants.Scope{TenantID: w.ous.ID}, func(ctx context.Context, tx bun.Tx) error {
		t2, err := get(ctx, tx, w.ous.ID, tr.ID)
		if err != nil {
			return err
		}
		if _, err := w.s.move(ctx, tx, t2); err != nil {
			return err
		}
		cancel() // the worker dies before commit
		return ctx.Err()
	})
	if err == nil {
		t.Fatal("the killed transaction committed")
	}
	if n := w.count(t, w.bergen.ID, uuid.Nil, "SELECT count(*) FROM plan_assignments WHERE tenant_id = ? AND lis_id = ? AND archived_at IS NULL", w.bergen.ID, w.kari); n != 1 {
		t.Fatal("a killed run left the old plan ended")
	}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, errs[i] = w.s.Sync(ctx, w.ous.ID, tr.ID)
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.s.Sync(ctx, w.ous.ID, tr.ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		q    string
		want int
	}{
		{"SELECT count(*) FROM goal_progress WHERE tenant_id = ?0 AND lis_id = ?1", 1},
		{"SELECT count(*) FROM plan_assignments WHERE tenant_id = ?0 AND lis_id = ?1", 1},
		{"SELECT count(*) FROM earlier_workplaces WHERE tenant_id = ?0 AND lis_id = ?1", 1},
		{"SELECT count(*) FROM outbox WHERE tenant_id = ?0 AND topic = 'transfer.started'", 1},
		{"SELECT count(*) FROM audit_log WHERE tenant_id = ?0 AND action = 'transfer.done'", 1},
		// The leder who registered it (no leder chosen) is told once.
		{"SELECT count(*) FROM outbox WHERE tenant_id = ?0 AND topic = 'transfer.arrived'", 1},
	} {
		if n := w.count(t, w.ous.ID, uuid.Nil, c.q, w.ous.ID, w.kari); n != c.want {
			t.Fatalf("%s = %d, want %d", c.q, n, c.want)
		}
	}
	if n := w.count(t, w.bergen.ID, uuid.Nil, "SELECT count(*) FROM audit_log WHERE tenant_id = ? AND action = 'transfer.left'", w.bergen.ID); n != 1 {
		t.Fatalf("transfer.left audited %d times", n)
	}
	if n := w.count(t, w.bergen.ID, uuid.Nil, "SELECT count(*) FROM outbox WHERE tenant_id = ? AND topic = 'transfer.left' AND recipient_id = ?", w.bergen.ID, w.per); n != 1 {
		t.Fatalf("the old leder was told %d times", n)
	}
}

// Bad input: each a clear message, nothing registered.
func TestTransferRefusesBadArrivals(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	by := tenants.Actor{PersonID: w.leders[w.forde.ID], Name: "Leder"}
	today := w.s.today().Format("2006-01-02")
	tpl := w.templates[w.forde.ID].String()
	stranger := testenv.NewPerson(t, w.db, "Ukjent", "Lege")
	var strangerEmail string
	if err := w.db.NewRaw("SELECT email FROM people WHERE id = ?", stranger).Scan(ctx, &strangerEmail); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		in    Arrival
		field string
	}{
		{"unknown HPR number", Arrival{Who: "99999999", StartsOn: today, TemplateID: tpl}, "who"},
		{"unknown e-mail", Arrival{Who: "ingen@example.org", StartsOn: today, TemplateID: tpl}, "who"},
		{"not a LIS anywhere", Arrival{Who: strangerEmail, StartsOn: today, TemplateID: tpl}, "who"},
		{"no date", Arrival{Who: w.email, StartsOn: "i morgen", TemplateID: tpl}, "starts_on"},
		{"no plan", Arrival{Who: w.email, StartsOn: today}, "template"},
		{"another tenant's plan", Arrival{Who: w.email, StartsOn: today, TemplateID: w.templates[w.ous.ID].String()}, "template"},
	} {
		_, err := w.s.Register(ctx, w.forde.ID, by, c.in, nil)
		if msg := apperr.FieldsOf(err)[c.field]; msg == "" {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
	if n := w.count(t, w.forde.ID, uuid.Nil, "SELECT count(*) FROM transfers"); n != 0 {
		t.Fatalf("%d moves registered from bad input", n)
	}
	// A move; a second while it waits; then (after it) a start before it.
	first := w.move(t, w.forde)
	_ = first
	_, err := w.s.Register(ctx, w.ous.ID, tenants.Actor{PersonID: w.leders[w.ous.ID]}, Arrival{Who: w.email, StartsOn: w.s.today().AddDate(0, 0, -1).Format("2006-01-02"),
		TemplateID: w.templates[w.ous.ID].String()}, nil)
	if apperr.FieldsOf(err)["starts_on"] == "" {
		t.Fatalf("start before the previous move: %v", err)
	}
	// Moving into a tenant where she has an active plan of the same specialty.
	_, err = w.s.Register(ctx, w.forde.ID, by, Arrival{Who: w.email, StartsOn: today, TemplateID: tpl, From: w.bergen.Slug}, nil)
	if err == nil {
		t.Fatal("a move into an active plan of the same specialty")
	}
}

// A move registered by mistake is cancelled before its start date, and then
// does nothing; after the start date it can no longer be cancelled.
func TestTransferCancelBeforeStart(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	by := tenants.Actor{PersonID: w.leders[w.forde.ID], Name: "Leder"}
	tr, err := w.s.Register(ctx, w.forde.ID, by, Arrival{Who: w.email, StartsOn: w.s.today().AddDate(0, 0, 14).Format("2006-01-02"), TemplateID: w.templates[w.forde.ID].String()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Not due: the job changes nothing.
	if got, err := w.s.Sync(ctx, w.forde.ID, tr.ID); err != nil || got.Status != StatusRegistered {
		t.Fatalf("sync before the start date: %v %v", got, err)
	}
	if err := w.s.Cancel(ctx, w.forde.ID, by, tr.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := w.s.Sync(ctx, w.forde.ID, tr.ID); err != nil || got.Status != StatusCancelled {
		t.Fatalf("sync of a cancelled move: %v %v", got, err)
	}
	if n := w.count(t, w.bergen.ID, uuid.Nil, "SELECT count(*) FROM plan_assignments WHERE tenant_id = ? AND archived_at IS NULL", w.bergen.ID); n != 1 {
		t.Fatal("a cancelled move ended the old plan")
	}
	if n := w.count(t, w.bergen.ID, uuid.Nil, "SELECT count(*) FROM outbox WHERE tenant_id = ? AND topic = 'transfer.cancelled' AND recipient_id = ?", w.bergen.ID, w.kari); n != 1 {
		t.Fatal("the LIS was not told of the cancellation")
	}
	done := w.move(t, w.forde)
	if err := w.s.Cancel(ctx, w.forde.ID, by, done.ID); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("cancel after the start: %v", err)
	}
	// Another tenant cannot cancel (or see) it.
	if err := w.s.Cancel(ctx, w.ous.ID, by, done.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("cancel from another tenant: %v", err)
	}
}

// Work in flight: a signature asked for before the move is decided at the old
// workplace after it; what still waits after the period returns to the LIS.
func TestTransferWorkInFlight(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	var waiting, waitingGoal uuid.UUID
	err := tenants.WithTenantTx(ctx, w.db, tenants.Scope{TenantID: w.bergen.ID}, func(ctx context.Context, tx bun.Tx) error {
		if err := tenants.SetRelation(ctx, tx, w.bergen.ID, w.kari, tenants.RelSupervisor, w.ola, tenants.Actor{Name: "test"}); err != nil {
			return err
		}
		if err := tx.NewRaw(`INSERT INTO activities (tenant_id, lis_id, kind, title, done_on, status, supervisor_id, requested_at)
			VALUES (?, ?, 'course', 'Venter', current_date, 'requested', ?, now()) RETURNING id`, w.bergen.ID, w.kari, w.ola).Scan(ctx, &waiting); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO activities (tenant_id, lis_id, kind, title, done_on, status, supervisor_id, requested_at)
			VALUES (?, ?, 'course', 'Venter også', current_date, 'requested', ?, now())`, w.bergen.ID, w.kari, w.ola); err != nil {
			return err
		}
		return tx.NewRaw(`INSERT INTO goal_progress (tenant_id, lis_id, goal_code, version_id, status, sent_to, sent_at)
			VALUES (?, ?, 'KLS-VENT', (SELECT max(id) FROM catalog_versions), 'sent', ?, now()) RETURNING id`, w.bergen.ID, w.kari, w.per).Scan(ctx, &waitingGoal)
	})
	if err != nil {
		t.Fatal(err)
	}
	tr := w.move(t, w.forde)
	if tr.Report.InFlight["activities"] != 2 || tr.Report.InFlight["goals"] != 1 {
		t.Fatalf("in flight: %+v", tr.Report.InFlight)
	}
	// Within the period nothing returns.
	if n, err := w.s.ReturnInFlight(ctx); err != nil || n != 0 {
		t.Fatalf("returned within the period: %d %v", n, err)
	}
	// Ola signs one at Bergen after the move (as the supervisor queue does).
	err = tenants.WithTenantTx(ctx, w.db, tenants.Scope{TenantID: w.bergen.ID}, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE activities SET status = 'signed' WHERE tenant_id = ? AND id = ?", w.bergen.ID, waiting)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Førde reads it signed, as done at Bergen.
	if n := w.count(t, w.forde.ID, w.leders[w.forde.ID], "SELECT count(*) FROM activities WHERE tenant_id = ? AND id = ? AND status = 'signed'", w.bergen.ID, waiting); n != 1 {
		t.Fatal("a signature given after the move is not read at the new workplace")
	}
	// Per approves the waiting goal at Bergen after the move: it carries.
	err = tenants.WithTenantTx(ctx, w.db, tenants.Scope{TenantID: w.bergen.ID}, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE goal_progress SET status = 'approved', decided_by = ?, decided_at = now() + interval '1 second' WHERE tenant_id = ? AND id = ?", w.per, w.bergen.ID, waitingGoal)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := w.s.CarryLate(ctx); err != nil || n != 1 {
		t.Fatalf("carried late: %d %v", n, err)
	}
	if n, err := w.s.CarryLate(ctx); err != nil || n != 0 {
		t.Fatalf("carried late twice: %d %v", n, err)
	}
	if n := w.count(t, w.forde.ID, uuid.Nil, "SELECT count(*) FROM goal_progress WHERE tenant_id = ? AND origin_id = ? AND status = 'approved' AND decided_by = ?", w.forde.ID, waitingGoal, w.per); n != 1 {
		t.Fatal("the late approval is not in the new plan")
	}
	// After the period (Bergen sets 0 days here: the move started today).
	if err := w.s.SetInFlightDays(ctx, w.bergen.ID, "0"); err != nil {
		t.Fatal(err)
	}
	n, err := w.s.ReturnInFlight(ctx)
	if err != nil || n != 1 {
		t.Fatalf("returned %d, %v: one activity waited", n, err)
	}
	// Something still waiting at the end of the period returns.
	err = tenants.WithTenantTx(ctx, w.db, tenants.Scope{TenantID: w.bergen.ID}, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO activities (tenant_id, lis_id, kind, title, done_on, status, supervisor_id, requested_at)
			VALUES (?, ?, 'course', 'Glemt', current_date, 'requested', ?, now())`, w.bergen.ID, w.kari, w.ola); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO goal_progress (tenant_id, lis_id, goal_code, version_id, status, sent_to, sent_at)
			VALUES (?, ?, 'KLS-GLEMT', (SELECT max(id) FROM catalog_versions), 'sent', ?, now()) RETURNING id`, w.bergen.ID, w.kari, w.per)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	n, err = w.s.ReturnInFlight(ctx)
	if err != nil || n != 2 {
		t.Fatalf("returned %d, %v", n, err)
	}
	if n, _ := w.s.ReturnInFlight(ctx); n != 0 {
		t.Fatalf("a second run returned %d", n)
	}
	if n := w.count(t, w.bergen.ID, uuid.Nil, "SELECT count(*) FROM goal_progress WHERE tenant_id = ? AND goal_code = 'KLS-GLEMT' AND status = 'returned'", w.bergen.ID); n != 1 {
		t.Fatal("the waiting goal was not returned")
	}
	if n := w.count(t, w.forde.ID, uuid.Nil, "SELECT count(*) FROM outbox WHERE tenant_id = ? AND topic = 'transfer.returned' AND recipient_id = ?", w.forde.ID, w.kari); n != 2 {
		t.Fatalf("the LIS was told %d times, once per run that returned something", n)
	}
	if err := w.s.SetInFlightDays(ctx, w.bergen.ID, "900"); apperr.FieldsOf(err)["days"] == "" {
		t.Fatalf("900 days: %v", err)
	}
}

// The LIS announces the move; the new workplace confirms it with a plan; the
// job moves her. An announcement is never a move by itself.
func TestTransferAnnouncedByLISConfirmedByNewWorkplace(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	kari := tenants.Actor{PersonID: w.kari, Name: "Kari Nordmann"}
	if _, err := w.s.Announce(ctx, w.bergen.ID, kari, Announcement{To: w.bergen.Slug, StartsOn: w.s.today().Format("2006-01-02")}); apperr.FieldsOf(err)["to"] == "" {
		t.Fatalf("announcing a move to where she is: %v", err)
	}
	if _, err := w.s.Announce(ctx, w.bergen.ID, kari, Announcement{To: w.ous.Slug, StartsOn: "snart"}); apperr.FieldsOf(err)["starts_on"] == "" {
		t.Fatalf("a bad date: %v", err)
	}
	tr, err := w.s.Announce(ctx, w.bergen.ID, kari, Announcement{To: w.ous.Slug, StartsOn: w.s.today().Format("2006-01-02")})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Status != StatusAnnounced || tr.TenantID != w.ous.ID || tr.FromTenantID != w.bergen.ID {
		t.Fatalf("announced: %+v", tr)
	}
	// OUS's leder is told; the sync does nothing until it is confirmed.
	if n := w.count(t, w.ous.ID, uuid.Nil, "SELECT count(*) FROM outbox WHERE tenant_id = ? AND topic = 'transfer.announced' AND recipient_id = ?", w.ous.ID, w.leders[w.ous.ID]); n != 1 {
		t.Fatal("the new workplace's leder was not told")
	}
	if got, err := w.s.Sync(ctx, w.ous.ID, tr.ID); err != nil || got.Status != StatusAnnounced {
		t.Fatalf("sync of an unconfirmed announcement: %v %v", got, err)
	}
	// A second announcement while one waits.
	if _, err := w.s.Announce(ctx, w.bergen.ID, kari, Announcement{To: w.forde.Slug, StartsOn: w.s.today().Format("2006-01-02")}); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("a second announcement: %v", err)
	}
	// Another tenant cannot confirm it; OUS must choose a plan.
	by := tenants.Actor{PersonID: w.leders[w.ous.ID], Name: "Leder"}
	if _, err := w.s.Confirm(ctx, w.forde.ID, by, tr.ID, Confirmation{TemplateID: w.templates[w.forde.ID].String()}); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("confirmed from another tenant: %v", err)
	}
	if _, err := w.s.Confirm(ctx, w.ous.ID, by, tr.ID, Confirmation{}); apperr.FieldsOf(err)["template"] == "" {
		t.Fatalf("confirmed without a plan: %v", err)
	}
	if _, err := w.s.Confirm(ctx, w.ous.ID, by, tr.ID, Confirmation{TemplateID: w.templates[w.ous.ID].String()}); err != nil {
		t.Fatal(err)
	}
	done, err := w.s.Sync(ctx, w.ous.ID, tr.ID)
	if err != nil || done.Status != StatusDone || len(done.Report.Carried) != 1 {
		t.Fatalf("after confirmation: %+v %v", done, err)
	}
	// Kari reads her move in her own record.
	err = tenants.OwnRecordTx(ctx, w.db, w.kari, func(ctx context.Context, tx bun.Tx) error {
		mine, err := Mine(ctx, tx, w.kari)
		if err != nil {
			return err
		}
		if len(mine) != 1 || mine[0].ToName != w.ous.Name {
			t.Fatalf("her moves: %+v", mine)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A move whose job gave up shows as failed with the reason, changed nothing,
// and runs when retried.
func TestTransferFailedThenRetried(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	by := tenants.Actor{PersonID: w.leders[w.ous.ID], Name: "Leder"}
	tr, err := w.s.Register(ctx, w.ous.ID, by, Arrival{Who: w.email, StartsOn: w.s.today().Format("2006-01-02"), TemplateID: w.templates[w.ous.ID].String()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.s.Fail(ctx, w.ous.ID, tr.ID, "Teknisk feil."); err != nil {
		t.Fatal(err)
	}
	got, err := w.s.Sync(ctx, w.ous.ID, tr.ID)
	if err != nil || got.Status != StatusFailed || got.Report.Reason != "Teknisk feil." {
		t.Fatalf("failed: %+v %v", got, err)
	}
	if n := w.count(t, w.bergen.ID, uuid.Nil, "SELECT count(*) FROM plan_assignments WHERE tenant_id = ? AND archived_at IS NULL", w.bergen.ID); n != 1 {
		t.Fatal("a failed move ended the old plan")
	}
	if _, err := w.s.Retry(ctx, w.forde.ID, by, tr.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("retried from another tenant: %v", err)
	}
	if _, err := w.s.Retry(ctx, w.ous.ID, by, tr.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.s.Retry(ctx, w.ous.ID, by, tr.ID); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("a second retry: %v", err)
	}
	if got, err := w.s.Sync(ctx, w.ous.ID, tr.ID); err != nil || got.Status != StatusDone {
		t.Fatalf("after retry: %+v %v", got, err)
	}
}

// An approval does not carry into a plan whose catalogue version has made the
// goal stricter since: the report says so, and the goal is open there.
func TestTransferStricterGoalDoesNotCarry(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	env := testenv.Get(t)
	var v2 int
	if err := env.Owner.NewRaw("INSERT INTO catalog_versions (label, published_at) VALUES (?, now()) RETURNING id", "strengere-"+uuid.NewString()[:8]).Scan(ctx, &v2); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Owner.ExecContext(ctx, "INSERT INTO goals (version_id, code, plan, changed, stricter) VALUES (?, ?, 'KLS', true, true)", v2, w.rec.Goal); err != nil {
		t.Fatal(err)
	}
	err := tenants.WithTenantTx(ctx, w.db, tenants.Scope{TenantID: w.ous.ID}, func(ctx context.Context, tx bun.Tx) error {
		var tpl uuid.UUID
		err := tx.NewRaw("INSERT INTO plan_templates (tenant_id, name, specialty, version_id) VALUES (?, 'Ortopedi ny katalog', 'ORT', ?) RETURNING id", w.ous.ID, v2).Scan(ctx, &tpl)
		w.templates[w.ous.ID] = tpl
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	tr := w.move(t, w.ous)
	if len(tr.Report.Carried) != 0 || len(tr.Report.NotCarried) != 1 || tr.Report.NotCarried[0].Goal != w.rec.Goal || !strings.Contains(tr.Report.NotCarried[0].Reason, "skjerpet") {
		t.Fatalf("report: %+v", tr.Report)
	}
	if n := w.count(t, w.ous.ID, uuid.Nil, "SELECT count(*) FROM goal_progress WHERE tenant_id = ? AND lis_id = ?", w.ous.ID, w.kari); n != 0 {
		t.Fatalf("%d approvals carried into the stricter plan", n)
	}
	// The approval stays as it was where it was made.
	if n := w.count(t, w.bergen.ID, uuid.Nil, "SELECT count(*) FROM goal_progress WHERE tenant_id = ? AND lis_id = ? AND status = 'approved'", w.bergen.ID, w.kari); n != 1 {
		t.Fatal("the approval at Bergen changed")
	}
}
