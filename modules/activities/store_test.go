package activities

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/apperr"
	"kportal/modules/documents"
	"kportal/storage/testenv"
	"kportal/tenants"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type fixture struct {
	s                         *Store
	a, b                      *tenants.Tenant
	lis, lis2                 tenants.Actor
	sup, other, stranger      tenants.Actor
	version                   int
	procID, localID, arenaID  uuid.UUID
	templateID, assignmentID  uuid.UUID
	otherSpecialtyProcedureID uuid.UUID
}

func newPerson(t *testing.T, db bun.IDB, given string) tenants.Actor {
	t.Helper()
	return tenants.Actor{PersonID: testenv.NewPerson(t, db, given, "Testesen"), Name: given + " Testesen"}
}

func newTenant(t *testing.T, db bun.IDB, name string) *tenants.Tenant {
	t.Helper()
	return testenv.NewTenant(t, db, &tenants.Tenant{Name: name})
}

// newFixture: in tenant A, a LIS with a plan (ORT, two goals, one national
// and one local procedure), supervised by sup; other supervises lis2 only;
// stranger supervises nobody. Tenant B is empty.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	env := testenv.Get(t)
	ctx := context.Background()
	f := &fixture{s: NewStore(env.App), a: newTenant(t, env.App, "Helse A HF"), b: newTenant(t, env.App, "Helse B HF")}
	f.lis, f.lis2 = newPerson(t, env.App, "Lise"), newPerson(t, env.App, "Lasse")
	f.sup, f.other, f.stranger = newPerson(t, env.App, "Sigurd"), newPerson(t, env.App, "Otto"), newPerson(t, env.App, "Stian")
	if err := env.Owner.NewRaw("INSERT INTO catalog_versions (label) VALUES (?) RETURNING id", "test-"+uuid.NewString()[:8]).Scan(ctx, &f.version); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Owner.ExecContext(ctx, "INSERT INTO specialties (code, name) VALUES ('ORT', 'Ortopedisk kirurgi') ON CONFLICT DO NOTHING"); err != nil {
		t.Fatal(err)
	}
	if err := env.Owner.NewRaw(`INSERT INTO national_procedures (version_id, specialty, number, name, assisted, performed)
		VALUES (?, 'ortopedisk-kirurgi', '2', 'Seneskader', 5, 10) RETURNING id`, f.version).Scan(ctx, &f.procID); err != nil {
		t.Fatal(err)
	}
	if err := env.Owner.NewRaw(`INSERT INTO national_procedures (version_id, specialty, number, name, performed)
		VALUES (?, 'GEN', '1', 'Appendektomier', 40) RETURNING id`, f.version).Scan(ctx, &f.otherSpecialtyProcedureID); err != nil {
		t.Fatal(err)
	}
	err := tenants.WithTenantTx(ctx, env.App, tenants.Scope{TenantID: f.a.ID}, func(ctx context.Context, tx bun.Tx) error {
		adm := tenants.Actor{Name: "test"}
		for _, r := range []struct{ lis, sup tenants.Actor }{{f.lis, f.sup}, {f.lis2, f.other}} {
			if err := tenants.SetRelation(ctx, tx, f.a.ID, r.lis.PersonID, tenants.RelSupervisor, r.sup.PersonID, adm); err != nil {
				return err
			}
		}
		if err := tenants.GrantRole(ctx, tx, f.a.ID, f.stranger.PersonID, "supervisor", adm); err != nil {
			return err
		}
		if err := tx.NewRaw("INSERT INTO arenas (tenant_id, name) VALUES (?, 'Ortopedisk poliklinikk') RETURNING id", f.a.ID).Scan(ctx, &f.arenaID); err != nil {
			return err
		}
		if err := tx.NewRaw("INSERT INTO plan_templates (tenant_id, name, specialty, version_id) VALUES (?, 'Ortopedi del 3', 'ORT', ?) RETURNING id",
			f.a.ID, f.version).Scan(ctx, &f.templateID); err != nil {
			return err
		}
		for _, g := range []string{"ORT-01", "FKM-02"} {
			if _, err := tx.ExecContext(ctx, "INSERT INTO plan_template_goals (tenant_id, template_id, goal_code) VALUES (?, ?, ?)", f.a.ID, f.templateID, g); err != nil {
				return err
			}
		}
		if err := tx.NewRaw(`INSERT INTO local_activities (tenant_id, template_id, kind, name, goal_codes, required) VALUES (?, ?, 'procedure', 'Gipsing', '{ORT-01}', 3) RETURNING id`,
			f.a.ID, f.templateID).Scan(ctx, &f.localID); err != nil {
			return err
		}
		return tx.NewRaw("INSERT INTO plan_assignments (tenant_id, lis_id, template_id, version_id) VALUES (?, ?, ?, ?) RETURNING id",
			f.a.ID, f.lis.PersonID, f.templateID, f.version).Scan(ctx, &f.assignmentID)
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func today() string { return time.Now().Format("2006-01-02") }

func (f *fixture) request(t *testing.T, title string) *Activity {
	t.Helper()
	a, err := f.s.Create(context.Background(), f.a.ID, f.lis, Input{Kind: "course", Title: title, DoneOn: today(),
		GoalCodes: []string{"ORT-01"}, ArenaID: f.arenaID.String(), SupervisorID: f.sup.PersonID.String()})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestCreateValidatesAndSelfRegisters(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a, err := f.s.Create(ctx, f.a.ID, f.lis, Input{Kind: "elearning", Title: "Smittevern", DoneOn: today(), GoalCodes: []string{"FKM-02"}})
	if err != nil || a.Status != StatusRegistered || a.AssignmentID == nil || *a.AssignmentID != f.assignmentID {
		t.Fatalf("self-registered e-learning: %+v, %v", a, err)
	}
	_, err = f.s.Create(ctx, f.a.ID, f.lis, Input{Kind: "course", Title: "Kurs", DoneOn: today()})
	if apperr.FieldsOf(err)["supervisor"] == "" {
		t.Fatalf("a course without a supervisor: %v", err)
	}
	_, err = f.s.Create(ctx, f.a.ID, f.lis, Input{Kind: "course", Title: "", DoneOn: "i går", GoalCodes: []string{"XYZ-9"}, SupervisorID: f.other.PersonID.String()})
	fields := apperr.FieldsOf(err)
	for _, k := range []string{"title", "done_on", "goals", "supervisor"} {
		if fields[k] == "" {
			t.Errorf("no message for %s: %v", k, fields)
		}
	}
	// No plan yet: tolerated, no goals to choose.
	a, err = f.s.Create(ctx, f.a.ID, f.lis2, Input{Kind: "selfstudy", Title: "Lesing", DoneOn: today()})
	if err != nil || a.AssignmentID != nil {
		t.Fatalf("without a plan: %+v %v", a, err)
	}
	list, err := f.s.List(ctx, f.a.ID, f.lis.PersonID, "smitte", "")
	if err != nil || len(list) != 1 || list[0].Title != "Smittevern" {
		t.Fatalf("search: %+v %v", list, err)
	}
	if list, _ := f.s.List(ctx, f.a.ID, f.lis.PersonID, "", StatusRequested); len(list) != 0 {
		t.Fatalf("status filter: %+v", list)
	}
}

func TestSignWithdrawAndConflicts(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	env := testenv.Get(t)
	a := f.request(t, "Traumekurs")
	if a.Status != StatusRequested {
		t.Fatalf("status %s", a.Status)
	}
	if n := testenv.Count(t, env.App, f.a.ID, "SELECT count(*) FROM outbox WHERE topic = ? AND recipient_id = ?", TopicSignatureRequested, f.sup.PersonID); n != 1 {
		t.Fatalf("signature_requested events: %d", n)
	}
	q, err := f.s.Queue(ctx, f.a.ID, f.sup.PersonID)
	if err != nil || len(q) != 1 || q[0].ID != a.ID {
		t.Fatalf("queue: %+v %v", q, err)
	}
	if err := f.s.Decide(ctx, f.a.ID, f.sup, DecisionSigned, []Decision{{ActivityID: a.ID, Comment: "Bra"}}); err != nil {
		t.Fatal(err)
	}
	err = f.s.Decide(ctx, f.a.ID, f.sup, DecisionRejected, []Decision{{ActivityID: a.ID}})
	if !apperr.Is(err, apperr.Conflict) || apperr.MessageOf(err) != "Aktiviteten er allerede signert." {
		t.Fatalf("second decision: %v", err)
	}
	if err := f.s.Withdraw(ctx, f.a.ID, f.lis, a.ID); !apperr.Is(err, apperr.Conflict) || apperr.MessageOf(err) != "Aktiviteten er allerede signert." {
		t.Fatalf("withdrawing a signed one: %v", err)
	}
	if n := testenv.Count(t, env.App, f.a.ID, "SELECT count(*) FROM signatures WHERE activity_id = ?", a.ID); n != 1 {
		t.Fatalf("signatures: %d", n)
	}
	if n := testenv.Count(t, env.App, f.a.ID, "SELECT count(*) FROM outbox WHERE topic = ? AND recipient_id = ?", TopicSigned, f.lis.PersonID); n != 1 {
		t.Fatalf("signed events: %d", n)
	}

	b := f.request(t, "Gipskurs")
	if err := f.s.Withdraw(ctx, f.a.ID, f.lis, b.ID); err != nil {
		t.Fatal(err)
	}
	err = f.s.Decide(ctx, f.a.ID, f.sup, DecisionSigned, []Decision{{ActivityID: b.ID}})
	if !apperr.Is(err, apperr.Conflict) || apperr.MessageOf(err) != "Aktiviteten er trukket tilbake av LIS-en." {
		t.Fatalf("signing a withdrawn one: %v", err)
	}

	// Rejecting, and one bad item in a batch decides nothing.
	c, d := f.request(t, "Kurs C"), f.request(t, "Kurs D")
	if err := f.s.Decide(ctx, f.a.ID, f.sup, DecisionSigned, []Decision{{ActivityID: c.ID}, {ActivityID: b.ID}}); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("batch with a withdrawn one: %v", err)
	}
	if got, _ := f.s.Get(ctx, f.a.ID, f.lis.PersonID, c.ID); got.Status != StatusRequested {
		t.Fatalf("the batch half-decided: %s", got.Status)
	}
	if err := f.s.Decide(ctx, f.a.ID, f.sup, DecisionRejected, []Decision{{ActivityID: d.ID, Comment: "Feil dato"}}); err != nil {
		t.Fatal(err)
	}
	if n := testenv.Count(t, env.App, f.a.ID, "SELECT count(*) FROM outbox WHERE topic = ? AND recipient_id = ?", TopicRejected, f.lis.PersonID); n != 1 {
		t.Fatalf("rejected events: %d", n)
	}

	// ForGoal: the signed and the rejected and the open one, not the withdrawn.
	var acts []Activity
	err = tenants.WithTenantTx(ctx, env.App, tenants.Scope{TenantID: f.a.ID}, func(ctx context.Context, tx bun.Tx) error {
		var err error
		acts, err = ForGoal(ctx, tx, f.a.ID, f.lis.PersonID, "ORT-01")
		return err
	})
	if err != nil || len(acts) != 3 {
		t.Fatalf("ForGoal: %d %v", len(acts), err)
	}
	signed := 0
	for _, x := range acts {
		if x.ID == b.ID {
			t.Fatal("ForGoal returned a withdrawn activity")
		}
		if x.ID == a.ID {
			if len(x.Signatures) != 1 || x.Signatures[0].Decision != DecisionSigned || x.Signatures[0].Comment != "Bra" {
				t.Fatalf("signatures of the signed one: %+v", x.Signatures)
			}
			var snap Snapshot
			if err := json.Unmarshal(x.Signatures[0].Snapshot, &snap); err != nil || snap.Title != "Traumekurs" || snap.LisName != "Lise Testesen" ||
				len(snap.Goals) != 1 || snap.Goals[0] != "ORT-01" || snap.Kind != "course" || snap.Count != 1 {
				t.Fatalf("snapshot: %+v %v", snap, err)
			}
			signed++
		}
	}
	if signed != 1 {
		t.Fatal("the signed activity is missing")
	}
}

// The relationship rule: only a supervisor the request was sent to, of a LIS
// they supervise, decides; anyone else is told it does not exist.
func TestRelationshipRules(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.request(t, "Kurs")
	for name, who := range map[string]tenants.Actor{"a supervisor of another LIS": f.other, "a supervisor of nobody": f.stranger, "the LIS": f.lis} {
		err := f.s.Decide(ctx, f.a.ID, who, DecisionSigned, []Decision{{ActivityID: a.ID}})
		if !apperr.Is(err, apperr.NotFound) {
			t.Errorf("%s signing: %v", name, err)
		}
		if q, _ := f.s.Queue(ctx, f.a.ID, who.PersonID); len(q) != 0 {
			t.Errorf("%s sees %d in their queue", name, len(q))
		}
	}
	// A request to someone who is not the LIS's supervisor is refused at creation.
	_, err := f.s.Create(ctx, f.a.ID, f.lis, Input{Kind: "course", Title: "X", DoneOn: today(), SupervisorID: f.stranger.PersonID.String()})
	if apperr.FieldsOf(err)["supervisor"] == "" {
		t.Fatalf("request to a stranger: %v", err)
	}
	// The relation ended after the request: the old supervisor no longer decides.
	err = tenants.WithTenantTx(ctx, testenv.Get(t).App, tenants.Scope{TenantID: f.a.ID}, func(ctx context.Context, tx bun.Tx) error {
		return tenants.RemoveRelation(ctx, tx, f.a.ID, f.lis.PersonID, tenants.RelSupervisor, f.sup.PersonID, tenants.Actor{Name: "test"})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.s.Decide(ctx, f.a.ID, f.sup, DecisionSigned, []Decision{{ActivityID: a.ID}}); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("a former supervisor signing: %v", err)
	}
	// Another LIS cannot withdraw it.
	if err := f.s.Withdraw(ctx, f.a.ID, f.lis2, a.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("another LIS withdrawing: %v", err)
	}
}

func TestProcedureRepetitionsOneRequest(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	env := testenv.Get(t)
	list, err := f.s.Procedures(ctx, f.a.ID, f.lis.PersonID, "")
	if err != nil || len(list) != 2 || list[0].ID != f.procID || list[1].ID != f.localID {
		t.Fatalf("procedure list: %+v %v", list, err)
	}
	acts, err := f.s.RegisterProcedures(ctx, f.a.ID, f.lis, f.sup.PersonID.String(), today(), []Repetitions{{Key: "n-" + f.procID.String(), Role: RolePerformed, Count: 5}})
	if err != nil || len(acts) != 1 || acts[0].Count != 5 || acts[0].Status != StatusRequested {
		t.Fatalf("5 repetitions: %+v %v", acts, err)
	}
	if n := testenv.Count(t, env.App, f.a.ID, "SELECT count(*) FROM activities WHERE lis_id = ?", f.lis.PersonID); n != 1 {
		t.Fatalf("activity rows: %d", n)
	}
	if n := testenv.Count(t, env.App, f.a.ID, "SELECT count(*) FROM outbox WHERE topic = ?", TopicSignatureRequested); n != 1 {
		t.Fatalf("signature requests: %d", n)
	}
	list, _ = f.s.Procedures(ctx, f.a.ID, f.lis.PersonID, "sene")
	if len(list) != 1 || list[0].WaitingPerformed != 5 || list[0].DonePerformed != 0 {
		t.Fatalf("waiting: %+v", list)
	}
	if err := f.s.Decide(ctx, f.a.ID, f.sup, DecisionSigned, []Decision{{ActivityID: acts[0].ID}}); err != nil {
		t.Fatal(err)
	}
	if n := testenv.Count(t, env.App, f.a.ID, "SELECT count(*) FROM signatures WHERE activity_id = ?", acts[0].ID); n != 1 {
		t.Fatalf("signatures for 5 repetitions: %d", n)
	}
	list, _ = f.s.Procedures(ctx, f.a.ID, f.lis.PersonID, "")
	if list[0].DonePerformed != 5 || list[0].Waiting() != 0 {
		t.Fatalf("after signing: %+v", list[0])
	}
	// The supervisor is remembered; a favourite is marked and comes first.
	form, err := f.s.Form(ctx, f.a.ID, f.lis.PersonID)
	if err != nil || form.Remembered != f.sup.PersonID.String() || len(form.Goals) != 2 {
		t.Fatalf("form: %+v %v", form, err)
	}
	if err := f.s.ToggleFavourite(ctx, f.a.ID, f.lis.PersonID, f.procID); err != nil {
		t.Fatal(err)
	}
	if list, _ = f.s.Procedures(ctx, f.a.ID, f.lis.PersonID, ""); !list[0].Favourite {
		t.Fatalf("favourite: %+v", list[0])
	}
	// Local procedure: its goals follow; another specialty's procedure is not in the plan.
	acts, err = f.s.RegisterProcedures(ctx, f.a.ID, f.lis, f.sup.PersonID.String(), today(), []Repetitions{{Key: "l-" + f.localID.String(), Role: RoleAssisted, Count: 2}})
	if err != nil || len(acts[0].GoalCodes) != 1 || acts[0].LocalID == nil {
		t.Fatalf("local: %+v %v", acts, err)
	}
	_, err = f.s.RegisterProcedures(ctx, f.a.ID, f.lis, f.sup.PersonID.String(), today(), []Repetitions{{Key: "n-" + f.otherSpecialtyProcedureID.String(), Role: RoleAssisted, Count: 2}})
	if !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("another specialty's procedure: %v", err)
	}
	if err := f.s.ToggleFavourite(ctx, f.a.ID, f.lis.PersonID, f.otherSpecialtyProcedureID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("favourite outside the plan: %v", err)
	}
	// No plan: an empty list.
	if list, err := f.s.Procedures(ctx, f.a.ID, f.lis2.PersonID, ""); err != nil || len(list) != 0 {
		t.Fatalf("without a plan: %+v %v", list, err)
	}
}

// Another tenant cannot read, sign, withdraw or delete tenant A's activities.
func TestIsolationActivities(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	env := testenv.Get(t)
	a := f.request(t, "Kurs")
	// The same people acting through tenant B see nothing of it.
	if list, _ := f.s.List(ctx, f.b.ID, f.lis.PersonID, "", ""); len(list) != 0 {
		t.Fatalf("listed through B: %d", len(list))
	}
	if q, _ := f.s.Queue(ctx, f.b.ID, f.sup.PersonID); len(q) != 0 {
		t.Fatalf("queued through B: %d", len(q))
	}
	if _, err := f.s.Get(ctx, f.b.ID, f.lis.PersonID, a.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("read through B: %v", err)
	}
	if err := f.s.Decide(ctx, f.b.ID, f.sup, DecisionSigned, []Decision{{ActivityID: a.ID}}); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("signed through B: %v", err)
	}
	if err := f.s.Withdraw(ctx, f.b.ID, f.lis, a.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("withdrawn through B: %v", err)
	}
	// Raw SQL with B in force: nothing to read, update or delete, and no row can be planted into A.
	err := tenants.WithTenantTx(ctx, env.App, tenants.Scope{TenantID: f.b.ID}, func(ctx context.Context, tx bun.Tx) error {
		var n int
		if err := tx.NewRaw("SELECT count(*) FROM activities WHERE id = ?", a.ID).Scan(ctx, &n); err != nil || n != 0 {
			t.Errorf("read: %d %v", n, err)
		}
		for _, q := range []string{"UPDATE activities SET status = 'signed' WHERE id = ?", "DELETE FROM activities WHERE id = ?"} {
			res, err := tx.ExecContext(ctx, q, a.ID)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 0 {
				t.Errorf("%s: %d rows", q, n)
			}
		}
		if err := ForGoalCount(ctx, tx, f.b.ID, f.lis.PersonID); err != nil {
			t.Error(err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = tenants.WithTenantTx(ctx, env.App, tenants.Scope{TenantID: f.b.ID}, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO signatures (tenant_id, activity_id, supervisor_id, decision, snapshot) VALUES (?, ?, ?, 'signed', '{}')`,
			f.a.ID, a.ID, f.sup.PersonID)
		return err
	})
	if err == nil {
		t.Fatal("a signature was planted into tenant A from B")
	}
	if got, err := f.s.Get(ctx, f.a.ID, f.lis.PersonID, a.ID); err != nil || got.Status != StatusRequested {
		t.Fatalf("after B's attempts: %+v %v", got, err)
	}
}

// ForGoalCount checks ForGoal with another tenant in force returns nothing.
func ForGoalCount(ctx context.Context, tx bun.IDB, tenantID, lisID uuid.UUID) error {
	acts, err := ForGoal(ctx, tx, tenantID, lisID, "ORT-01")
	if err != nil {
		return err
	}
	if len(acts) != 0 {
		return apperr.New(apperr.Internal, "ForGoal through another tenant returned %d", len(acts))
	}
	return nil
}

func TestKursbevisOnCourse(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	db := testenv.Get(t).App
	doc := func(person uuid.UUID) uuid.UUID {
		id := uuid.New()
		if err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: f.a.ID}, func(ctx context.Context, tx bun.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO documents (tenant_id, id, person_id, kind, name, content_type, size, object_key) VALUES (?, ?, ?, 'kursbevis', 'Kursbevis.pdf', 'application/pdf', 10, ?)`,
				f.a.ID, id, person, documents.ObjectKey(f.a.ID, person, id))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	mine, theirs := doc(f.lis.PersonID), doc(f.lis2.PersonID)
	in := Input{Kind: "course", Title: "Traumekurs", DoneOn: today(), SupervisorID: f.sup.PersonID.String()}
	for _, c := range []struct {
		kind, doc string
	}{{"elearning", mine.String()}, {"course", theirs.String()}, {"course", "x"}} {
		in.Kind, in.DocumentID = c.kind, c.doc
		if _, err := f.s.Create(ctx, f.a.ID, f.lis, in); apperr.FieldsOf(err)["document"] == "" {
			t.Fatalf("%s with %s: %v", c.kind, c.doc, err)
		}
	}
	in.Kind, in.DocumentID = "course", mine.String()
	a, err := f.s.Create(ctx, f.a.ID, f.lis, in)
	if err != nil || a.DocumentID == nil || *a.DocumentID != mine {
		t.Fatalf("course with kursbevis: %+v %v", a, err)
	}
	q, err := f.s.Queue(ctx, f.a.ID, f.sup.PersonID)
	if err != nil || len(q) != 1 || q[0].Document == nil || q[0].Document.Name != "Kursbevis.pdf" || q[0].Document.TypeLabel() != "PDF" {
		t.Fatalf("the supervisor's queue: %+v %v", q, err)
	}
	locked := func() []documents.Reference {
		var out map[uuid.UUID][]documents.Reference
		if err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: f.a.ID}, func(ctx context.Context, tx bun.Tx) error {
			var err error
			out, err = DocumentReferrer(ctx, tx, f.a.ID, []uuid.UUID{mine})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return out[mine]
	}
	if r := locked(); len(r) != 1 || !r[0].Locked || r[0].Label != "Kurs: Traumekurs (venter på signatur)" {
		t.Fatalf("waiting: %+v", r)
	}
	if err := f.s.Withdraw(ctx, f.a.ID, f.lis, a.ID); err != nil {
		t.Fatal(err)
	}
	if r := locked(); len(r) != 1 || r[0].Locked {
		t.Fatalf("withdrawn: %+v", r)
	}
	in.Title = "Kurs 3"
	b, err := f.s.Create(ctx, f.a.ID, f.lis, in)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.s.Decide(ctx, f.a.ID, f.sup, DecisionSigned, []Decision{{ActivityID: b.ID}}); err != nil {
		t.Fatal(err)
	}
	// What was signed names the kursbevis.
	var snap Snapshot
	if err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: f.a.ID}, func(ctx context.Context, tx bun.Tx) error {
		var raw []byte
		if err := tx.NewRaw("SELECT snapshot FROM signatures WHERE tenant_id = ? AND activity_id = ?", f.a.ID, b.ID).Scan(ctx, &raw); err != nil {
			return err
		}
		return json.Unmarshal(raw, &snap)
	}); err != nil || snap.Document == nil || *snap.Document != mine {
		t.Fatalf("snapshot: %+v %v", snap, err)
	}
	if r := locked(); len(r) != 2 || r[0].Locked == r[1].Locked { // one withdrawn, one signed
		t.Fatalf("signed: %+v", r)
	}
	// A kursbevis of a withdrawn course only may be deleted; the slot empties.
	docs := documents.NewStore(db, testenv.Get(t).Objects(t), DocumentReferrer)
	if err := docs.Delete(ctx, f.a.ID, f.lis, mine); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("deleting a signed kursbevis: %v", err)
	}
	// The database keeps it too, whoever asks.
	if err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: f.a.ID}, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM documents WHERE tenant_id = ? AND id = ?", f.a.ID, mine)
		return err
	}); err == nil || !strings.Contains(err.Error(), "signed, approved or waiting") {
		t.Fatalf("deleting the row of a signed kursbevis: %v", err)
	}
	spare := doc(f.lis.PersonID)
	in.Title, in.DocumentID = "Kurs 4", spare.String()
	c, err := f.s.Create(ctx, f.a.ID, f.lis, in)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.s.Withdraw(ctx, f.a.ID, f.lis, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := docs.Delete(ctx, f.a.ID, f.lis, spare); err != nil {
		t.Fatalf("deleting the kursbevis of a withdrawn course: %v", err)
	}
	if got, err := f.s.Get(ctx, f.a.ID, f.lis.PersonID, c.ID); err != nil || got.DocumentID != nil {
		t.Fatalf("the withdrawn course after the deletion: %+v %v", got, err)
	}
}
