package advisory

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/uptrace/bun"

	"kportal/modules/apperr"
	"kportal/modules/web"
	"kportal/storage/testenv"
	"kportal/tenants"
	"kportal/workers"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type fixture struct {
	s *Store
	// a and b are helseforetak of the same RHF, c of another.
	a, b, c                                                            *tenants.Tenant
	lis, veileder, leder, uao, otherVeileder, newVeileder, farVeileder tenants.Actor
}

func newPerson(t *testing.T, db bun.IDB, given string) tenants.Actor {
	t.Helper()
	return tenants.Actor{PersonID: testenv.NewPerson(t, db, given, "Testesen"), Name: given + " Testesen"}
}

func newTenant(t *testing.T, db bun.IDB, name, rhf string) *tenants.Tenant {
	t.Helper()
	tn := &tenants.Tenant{Slug: "t-" + uuid.NewString()[:8], Name: name, Kind: tenants.KindHF, RHFCode: rhf}
	if err := tenants.Create(context.Background(), db, tn); err != nil {
		t.Fatal(err)
	}
	return tn
}

func relate(t *testing.T, db bun.IDB, tn *tenants.Tenant, lis uuid.UUID, kind string, person uuid.UUID) {
	t.Helper()
	err := tenants.WithTenantTx(context.Background(), db, tenants.Scope{TenantID: tn.ID}, func(ctx context.Context, tx bun.Tx) error {
		return tenants.SetRelation(ctx, tx, tn.ID, lis, kind, person, tenants.Actor{Name: "test"})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// newFixture: in A a LIS (ORT, with a plan of KLS-001) with veileder, leder
// and a UAO of ORT; another veileder with no relation to the LIS. B (same
// RHF) and C (another RHF) have veiledere of their own.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	env := testenv.Get(t)
	ctx := context.Background()
	for _, r := range []struct{ code, orgnr string }{{"TA", "900000001"}, {"TB", "900000002"}} {
		if _, err := env.Owner.ExecContext(ctx, "INSERT INTO rhf (code, name, orgnr) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", r.code, "Helse "+r.code, r.orgnr); err != nil {
			t.Fatal(err)
		}
	}
	f := &fixture{s: NewStore(env.App), a: newTenant(t, env.App, "Helse A HF", "TA"), b: newTenant(t, env.App, "Helse B HF", "TA"), c: newTenant(t, env.App, "Helse C HF", "TB")}
	f.lis, f.veileder, f.leder, f.uao = newPerson(t, env.App, "Lise"), newPerson(t, env.App, "Vera"), newPerson(t, env.App, "Leif"), newPerson(t, env.App, "Unni")
	f.otherVeileder, f.newVeileder, f.farVeileder = newPerson(t, env.App, "Oda"), newPerson(t, env.App, "Nina"), newPerson(t, env.App, "Frode")
	relate(t, env.App, f.a, f.lis.PersonID, tenants.RelVeileder, f.veileder.PersonID)
	relate(t, env.App, f.a, f.lis.PersonID, tenants.RelLeder, f.leder.PersonID)
	var version int
	if err := env.Owner.NewRaw("INSERT INTO catalog_versions (label) VALUES (?) RETURNING id", "test-"+uuid.NewString()[:8]).Scan(ctx, &version); err != nil {
		t.Fatal(err)
	}
	err := tenants.WithTenantTx(ctx, env.App, tenants.Scope{TenantID: f.a.ID}, func(ctx context.Context, tx bun.Tx) error {
		if err := tenants.GrantRole(ctx, tx, f.a.ID, f.otherVeileder.PersonID, "veileder", tenants.Actor{Name: "test"}); err != nil {
			return err
		}
		if err := tenants.SetSpecialties(ctx, tx, f.a.ID, f.lis.PersonID, "lis", []string{"ORT"}); err != nil {
			return err
		}
		if err := tenants.SetSpecialties(ctx, tx, f.a.ID, f.uao.PersonID, "uao", []string{"ORT"}); err != nil {
			return err
		}
		var tpl uuid.UUID
		if err := tx.NewRaw("INSERT INTO plan_templates (tenant_id, name, specialty, version_id) VALUES (?, 'Ortopedi', 'ORT', ?) RETURNING id", f.a.ID, version).Scan(ctx, &tpl); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO plan_template_goals (tenant_id, template_id, goal_code) VALUES (?, ?, 'KLS-001')", f.a.ID, tpl); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO plan_assignments (tenant_id, lis_id, template_id, version_id) VALUES (?, ?, ?, ?)", f.a.ID, f.lis.PersonID, tpl, version)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) plan(t *testing.T, in time.Duration) *Session {
	t.Helper()
	at := time.Now().Add(in).In(time.UTC)
	s, err := f.s.Create(context.Background(), f.a.ID, f.veileder, Plan{LisID: f.lis.PersonID.String(), Date: at.In(oslo()).Format("2006-01-02"),
		Time: at.In(oslo()).Format("15:04"), Place: "https://video.example.no/rom/42", Topics: "Prosedyrer og vakter", Goals: "kls-001"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func oslo() *time.Location { loc, _ := time.LoadLocation("Europe/Oslo"); return loc }

func TestPlanWriteAndComplete(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	env := testenv.Get(t)

	_, err := f.s.Create(ctx, f.a.ID, f.veileder, Plan{LisID: f.lis.PersonID.String(), Date: "2026-13-01", Time: "", Place: "", Goals: "PED-001"})
	fields := apperr.FieldsOf(err)
	if fields["date"] == "" || fields["place"] == "" || !strings.Contains(fields["goals"], "PED-001") {
		t.Fatalf("bad plan: %v", err)
	}
	if _, err := f.s.Create(ctx, f.a.ID, f.otherVeileder, Plan{LisID: f.lis.PersonID.String(), Date: "2026-12-01", Time: "10:00", Place: "Rom 1"}); apperr.FieldsOf(err)["lis"] == "" {
		t.Fatalf("a veileder who is not the LIS's planned a samtale: %v", err)
	}

	s := f.plan(t, 72*time.Hour)
	if s.Status != StatusPlanned || len(s.GoalCodes) != 1 || s.GoalCodes[0] != "KLS-001" || !s.IsVideo() {
		t.Fatalf("planned: %+v", s)
	}
	if n := testenv.Count(t, env.App, f.a.ID, `SELECT count(*) FROM outbox WHERE topic = 'advisory.planned' AND recipient_id = ? AND payload->>'session_id' = ?
		AND payload->>'path' = '/veiledning/' || ? AND payload->>'when' = ? AND payload->>'advisor_name' <> ''`,
		f.lis.PersonID, s.ID.String(), s.ID.String(), s.StartsAt.In(web.Oslo).Format("2.1.2006 kl. 15.04")); n != 1 {
		t.Fatalf("advisory.planned events for the LIS: %d", n)
	}

	if err := f.s.SaveNote(ctx, f.a.ID, f.lis, s.ID, KindPreparation, "Jeg vil snakke om vaktbelastning."); err != nil {
		t.Fatal(err)
	}
	if err := f.s.SaveNote(ctx, f.a.ID, f.lis, s.ID, KindPreparation, "Jeg vil snakke om vaktbelastning og prosedyrer."); err != nil {
		t.Fatal(err) // a second draft replaces the first
	}
	if err := f.s.SaveNote(ctx, f.a.ID, f.veileder, s.ID, KindPreparation, "Gå gjennom prosedyrelisten."); err != nil {
		t.Fatal(err)
	}
	if err := f.s.SaveNote(ctx, f.a.ID, f.lis, s.ID, "other", "x"); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("unknown kind: %v", err)
	}
	if err := f.s.Complete(ctx, f.a.ID, f.veileder, s.ID); !apperr.Is(err, apperr.Conflict) || !strings.Contains(apperr.MessageOf(err), "referat") {
		t.Fatalf("complete without a referat: %v", err)
	}
	if err := f.s.SaveNote(ctx, f.a.ID, f.veileder, s.ID, KindMinutes, "Avtalt: 10 artroskopier før neste samtale."); err != nil {
		t.Fatal(err)
	}
	if err := f.s.Complete(ctx, f.a.ID, f.lis, s.ID); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("the LIS completed: %v", err)
	}

	got, party, err := f.s.Get(ctx, f.a.ID, f.lis.PersonID, s.ID)
	if err != nil || party != PartyLIS || got.NoteBy(KindPreparation, f.lis.PersonID) != "Jeg vil snakke om vaktbelastning og prosedyrer." ||
		got.NoteBy(KindMinutes, f.veileder.PersonID) == "" || len(got.Notes) != 3 {
		t.Fatalf("the LIS reads: %+v %v %v", got, party, err)
	}

	if err := f.s.Complete(ctx, f.a.ID, f.veileder, s.ID); err != nil {
		t.Fatal(err)
	}
	got, _, _ = f.s.Get(ctx, f.a.ID, f.veileder.PersonID, s.ID)
	if !got.Completed() || got.CompletedAt == nil {
		t.Fatalf("after completing: %+v", got)
	}
	for _, who := range []tenants.Actor{f.lis, f.veileder} {
		err := f.s.SaveNote(ctx, f.a.ID, who, s.ID, KindMinutes, "Endret etterpå")
		if !apperr.Is(err, apperr.Conflict) || !strings.Contains(apperr.MessageOf(err), "ferdigstilt og kan ikke endres") {
			t.Fatalf("%s edits a completed samtale: %v", who.Name, err)
		}
	}
	if err := f.s.Complete(ctx, f.a.ID, f.veileder, s.ID); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("completed twice: %v", err)
	}
	if got, _, _ := f.s.Get(ctx, f.a.ID, f.lis.PersonID, s.ID); got.NoteBy(KindMinutes, f.veileder.PersonID) != "Avtalt: 10 artroskopier før neste samtale." {
		t.Fatalf("the referat changed after completion: %+v", got.Notes)
	}
}

// The text is the LIS's and the veileder's: a leder, a UAO and another
// veileder in the tenant get nothing (not found), and their lists carry date
// and status only.
func TestPrivacyReferatLederUAOOtherVeileder(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.plan(t, 24*time.Hour)
	if err := f.s.SaveNote(ctx, f.a.ID, f.veileder, s.ID, KindMinutes, "Fortrolig referat"); err != nil {
		t.Fatal(err)
	}
	for _, who := range []tenants.Actor{f.leder, f.uao, f.otherVeileder} {
		if got, _, err := f.s.Get(ctx, f.a.ID, who.PersonID, s.ID); !apperr.Is(err, apperr.NotFound) || got != nil {
			t.Errorf("%s reads the samtale: %+v %v", who.Name, got, err)
		}
		if err := f.s.SaveNote(ctx, f.a.ID, who, s.ID, KindMinutes, "x"); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("%s writes: %v", who.Name, err)
		}
		if err := f.s.Complete(ctx, f.a.ID, who, s.ID); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("%s completes: %v", who.Name, err)
		}
	}
	for _, who := range []tenants.Actor{f.leder, f.uao} {
		list, err := f.s.List(ctx, f.a.ID, who.PersonID)
		if err != nil || len(list) != 1 || list[0].Readable || list[0].Topics != "" || list[0].Place != "" || list[0].Status != StatusPlanned {
			t.Errorf("%s's list: %+v %v", who.Name, list, err)
		}
	}
	if list, _ := f.s.List(ctx, f.a.ID, f.otherVeileder.PersonID); len(list) != 0 {
		t.Errorf("another veileder lists %d samtaler", len(list))
	}
	if list, _ := f.s.List(ctx, f.a.ID, f.veileder.PersonID); len(list) != 1 || !list[0].Readable || list[0].Topics == "" {
		t.Errorf("the veileder's list: %+v", list)
	}
	// After a change of veileder the new one reads earlier samtaler; the
	// old one still reads the samtaler they held.
	relate(t, testenv.Get(t).App, f.a, f.lis.PersonID, tenants.RelVeileder, f.otherVeileder.PersonID)
	if got, party, err := f.s.Get(ctx, f.a.ID, f.otherVeileder.PersonID, s.ID); err != nil || party != PartyAdvisor || got.NoteBy(KindMinutes, f.veileder.PersonID) != "Fortrolig referat" {
		t.Fatalf("the new veileder: %+v %v", got, err)
	}
	if _, party, err := f.s.Get(ctx, f.a.ID, f.veileder.PersonID, s.ID); err != nil || party != PartyAdvisor {
		t.Fatalf("the veileder who held it: %v %v", party, err)
	}
}

// Within the same RHF the LIS's new veileder in another helseforetak reads
// the earlier samtaler, read-only; in another RHF nobody does.
func TestIsolationAdvisoryAcrossTenants(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	env := testenv.Get(t)
	s := f.plan(t, 24*time.Hour)
	if err := f.s.SaveNote(ctx, f.a.ID, f.veileder, s.ID, KindMinutes, "Fortrolig referat"); err != nil {
		t.Fatal(err)
	}
	relate(t, env.App, f.b, f.lis.PersonID, tenants.RelVeileder, f.newVeileder.PersonID)
	relate(t, env.App, f.c, f.lis.PersonID, tenants.RelVeileder, f.farVeileder.PersonID)

	t.Run("another RHF: nothing", func(t *testing.T) {
		for _, who := range []tenants.Actor{f.farVeileder, f.veileder, f.lis} {
			if _, _, err := f.s.Get(ctx, f.c.ID, who.PersonID, s.ID); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("%s reads through C: %v", who.Name, err)
			}
			if list, _ := f.s.List(ctx, f.c.ID, who.PersonID); len(list) != 0 {
				t.Errorf("%s lists through C: %d", who.Name, len(list))
			}
		}
		err := tenants.WithTenantTx(ctx, env.App, tenants.Scope{TenantID: f.c.ID, PersonID: f.farVeileder.PersonID}, func(ctx context.Context, tx bun.Tx) error {
			var n int
			if err := tx.NewRaw("SELECT (SELECT count(*) FROM advisory_sessions) + (SELECT count(*) FROM advisory_notes)").Scan(ctx, &n); err != nil || n != 0 {
				t.Errorf("raw read through C: %d %v", n, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("same RHF: the new veileder and the LIS read, nobody writes", func(t *testing.T) {
		for _, who := range []tenants.Actor{f.newVeileder, f.lis} {
			got, _, err := f.s.Get(ctx, f.b.ID, who.PersonID, s.ID)
			if err != nil || got.TenantID != f.a.ID || got.NoteBy(KindMinutes, f.veileder.PersonID) != "Fortrolig referat" {
				t.Fatalf("%s reads through B: %+v %v", who.Name, got, err)
			}
			if list, _ := f.s.List(ctx, f.b.ID, who.PersonID); len(list) != 1 || !list[0].Readable {
				t.Fatalf("%s lists through B: %+v", who.Name, list)
			}
			if err := f.s.SaveNote(ctx, f.b.ID, who, s.ID, KindMinutes, "x"); !apperr.Is(err, apperr.NotFound) {
				t.Fatalf("%s writes through B: %v", who.Name, err)
			}
		}
		// B's old veileder of nobody (the A veileder acting in B) reads nothing.
		if _, _, err := f.s.Get(ctx, f.b.ID, f.veileder.PersonID, s.ID); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("A's veileder through B: %v", err)
		}
		err := tenants.WithTenantTx(ctx, env.App, tenants.Scope{TenantID: f.b.ID, PersonID: f.newVeileder.PersonID}, func(ctx context.Context, tx bun.Tx) error {
			for _, q := range []string{"UPDATE advisory_sessions SET status = 'completed', completed_at = now() WHERE id = ?",
				"UPDATE advisory_notes SET text = 'endret' WHERE session_id = ?"} {
				res, err := tx.ExecContext(ctx, q, s.ID)
				if err != nil {
					return err
				}
				if n, _ := res.RowsAffected(); n != 0 {
					t.Errorf("%s: %d rows", q, n)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		err = tenants.WithTenantTx(ctx, env.App, tenants.Scope{TenantID: f.b.ID, PersonID: f.newVeileder.PersonID}, func(ctx context.Context, tx bun.Tx) error {
			_, err := tx.ExecContext(ctx, "INSERT INTO advisory_notes (tenant_id, session_id, kind, author_id, text) VALUES (?, ?, 'minutes', ?, 'plantet')", f.a.ID, s.ID, f.newVeileder.PersonID)
			return err
		})
		if err == nil || !strings.Contains(err.Error(), "row-level security") {
			t.Fatalf("planting a note into A from B: %v", err)
		}
		// A leder in B (not the LIS's veileder there) sees nothing.
		if _, _, err := f.s.Get(ctx, f.b.ID, f.leder.PersonID, s.ID); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("someone else through B: %v", err)
		}
	})
	if got, _, _ := f.s.Get(ctx, f.a.ID, f.lis.PersonID, s.ID); got.Status != StatusPlanned || got.NoteBy(KindMinutes, f.veileder.PersonID) != "Fortrolig referat" {
		t.Fatalf("after the other tenants' attempts: %+v", got)
	}
}

func TestRemindPreparationsOncePerSessionAndPerson(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	env := testenv.Get(t)
	soon, later := f.plan(t, 30*time.Hour), f.plan(t, 5*24*time.Hour)
	if err := f.s.SaveNote(ctx, f.a.ID, f.lis, soon.ID, KindPreparation, "Klar"); err != nil {
		t.Fatal(err)
	}
	if err := f.s.SaveNote(ctx, f.a.ID, f.veileder, soon.ID, KindPreparation, "   "); err != nil {
		t.Fatal(err) // an empty draft is no forberedelse
	}
	if _, err := RemindPreparations(ctx, env.App, time.Now()); err != nil {
		t.Fatal(err)
	}
	due := "SELECT count(*) FROM outbox WHERE topic = 'advisory.preparation_due' AND recipient_id = ? AND payload->>'session_id' = ?"
	if n := testenv.Count(t, env.App, f.a.ID, due, f.veileder.PersonID, soon.ID.String()); n != 1 {
		t.Fatalf("veileder reminded %d times", n)
	}
	if n := testenv.Count(t, env.App, f.a.ID, due, f.lis.PersonID, soon.ID.String()); n != 0 {
		t.Fatalf("the LIS with a forberedelse reminded %d times", n)
	}
	if n := testenv.Count(t, env.App, f.a.ID, "SELECT count(*) FROM outbox WHERE topic = 'advisory.preparation_due' AND payload->>'session_id' = ?", later.ID.String()); n != 0 {
		t.Fatalf("a samtale in five days reminded %d times", n)
	}
	// The next day's run, and one two days later when the other is near: each person once per samtale.
	if _, err := RemindPreparations(ctx, env.App, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := RemindPreparations(ctx, env.App, time.Now().Add(4*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := testenv.Count(t, env.App, f.a.ID, due, f.veileder.PersonID, soon.ID.String()); n != 1 {
		t.Fatalf("veileder reminded %d times after three runs", n)
	}
	for _, who := range []uuid.UUID{f.lis.PersonID, f.veileder.PersonID} {
		if n := testenv.Count(t, env.App, f.a.ID, due, who, later.ID.String()); n != 1 {
			t.Fatalf("reminders for the later samtale to %s: %d", who, n)
		}
	}
}

func TestSummariesOverdueBySetting(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	env := testenv.Get(t)
	summary := func(now time.Time) Summary {
		t.Helper()
		var out map[uuid.UUID]Summary
		err := tenants.WithTenantTx(ctx, env.App, tenants.Scope{TenantID: f.a.ID}, func(ctx context.Context, tx bun.Tx) error {
			var err error
			out, err = Summaries(ctx, tx, f.a.ID, []uuid.UUID{f.lis.PersonID}, now)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out[f.lis.PersonID]
	}
	// A new plan and no samtale: not overdue until the setting's months have passed.
	if s := summary(time.Now()); s.Overdue || s.LastAt != nil || s.LastStatusText() != "Ingen samtale" {
		t.Fatalf("new LIS: %+v", s)
	}
	if s := summary(time.Now().AddDate(0, 7, 0)); !s.Overdue {
		t.Fatalf("seven months on without a samtale: %+v", s)
	}
	held := f.plan(t, -24*time.Hour)
	if err := f.s.SaveNote(ctx, f.a.ID, f.veileder, held.ID, KindMinutes, "Referat"); err != nil {
		t.Fatal(err)
	}
	if err := f.s.Complete(ctx, f.a.ID, f.veileder, held.ID); err != nil {
		t.Fatal(err)
	}
	next := f.plan(t, 24*time.Hour)
	s := summary(time.Now().AddDate(0, 4, 0))
	if s.Overdue || s.LastStatus != StatusPlanned || !s.LastAt.Equal(next.StartsAt) || s.LastCompleted == nil {
		t.Fatalf("four months after a completed samtale: %+v", s)
	}
	if err := f.s.SetReminderMonths(ctx, f.a.ID, 3); err != nil {
		t.Fatal(err)
	}
	if s := summary(time.Now().AddDate(0, 4, 0)); !s.Overdue {
		t.Fatalf("with a setting of 3 months: %+v", s)
	}
	if err := f.s.SetReminderMonths(ctx, f.a.ID, 0); apperr.FieldsOf(err)["months"] == "" {
		t.Fatalf("0 months: %v", err)
	}
	// The setting is the tenant's own.
	if m, _ := f.s.Months(ctx, f.b.ID); m != DefaultReminderMonths {
		t.Fatalf("B's setting: %d", m)
	}
}

// The module's job runs the reminders through asynq's mux, and its schedule
// is a valid daily cron in Oslo time.
func TestPreparationDueJobAndSchedule(t *testing.T) {
	f := newFixture(t)
	env := testenv.Get(t)
	s := f.plan(t, 20*time.Hour)
	m := New(env.App, nil)
	mux := asynq.NewServeMux()
	m.Tasks(mux)
	if err := mux.ProcessTask(context.Background(), asynq.NewTask(TypePreparationDue, nil)); err != nil {
		t.Fatal(err)
	}
	if n := testenv.Count(t, env.App, f.a.ID, "SELECT count(*) FROM outbox WHERE topic = 'advisory.preparation_due' AND payload->>'session_id' = ?", s.ID.String()); n != 2 {
		t.Fatalf("reminders from the job: %d", n)
	}
	sched, err := workers.NewScheduler(asynq.RedisClientOpt{Addr: testenv.RedisAddr, DB: env.RedisDB}, slog.New(slog.NewTextHandler(io.Discard, nil)), m.Schedules())
	if err != nil {
		t.Fatal(err)
	}
	sched.Shutdown()
}

// After a change of veileder the one who planned a samtale still reads it but
// can no longer write in it or complete it; the new veileder can.
func TestReplacedVeilederReadsButDoesNotWrite(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.plan(t, 24*time.Hour)
	relate(t, testenv.Get(t).App, f.a, f.lis.PersonID, tenants.RelVeileder, f.otherVeileder.PersonID)
	if err := f.s.SaveNote(ctx, f.a.ID, f.veileder, s.ID, KindMinutes, "Etter byttet"); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("the replaced veileder wrote: %v", err)
	}
	if err := f.s.Complete(ctx, f.a.ID, f.veileder, s.ID); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("the replaced veileder completed: %v", err)
	}
	if _, party, err := f.s.Get(ctx, f.a.ID, f.veileder.PersonID, s.ID); err != nil || party != PartyAdvisor {
		t.Fatalf("the replaced veileder reads: %v %v", party, err)
	}
	if err := f.s.SaveNote(ctx, f.a.ID, f.otherVeileder, s.ID, KindMinutes, "Ny veileder"); err != nil {
		t.Fatalf("the new veileder: %v", err)
	}
}
