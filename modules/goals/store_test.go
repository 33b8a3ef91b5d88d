package goals

import (
	"context"
	"encoding/json"
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

func newTenant(t *testing.T, db bun.IDB, name string) *tenants.Tenant {
	t.Helper()
	return testenv.NewTenant(t, db, &tenants.Tenant{Name: name})
}

func newPerson(t *testing.T, db bun.IDB, given string) tenants.Actor {
	t.Helper()
	return tenants.Actor{PersonID: testenv.NewPerson(t, db, given, "Test"), Name: given + " Test"}
}

func inTenant(t *testing.T, db bun.IDB, tenantID uuid.UUID, fn func(ctx context.Context, tx bun.Tx) error) {
	t.Helper()
	if err := tenants.WithTenantTx(context.Background(), db, tenants.Scope{TenantID: tenantID}, fn); err != nil {
		t.Fatal(err)
	}
}

// fixture: a LIS in tenant A with leder, veileder, a supervisor and a plan of
// three goals (one without official text); a delegate of the leder; another
// LIS with another leder.
type fixture struct {
	a, b                                *tenants.Tenant
	lis, leder, veileder, sup, delegate tenants.Actor
	otherLIS, otherLeder                tenants.Actor
	version                             int
	arena                               uuid.UUID
	store                               *Store
	db                                  bun.IDB
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	env := testenv.Get(t)
	ctx := context.Background()
	f := &fixture{a: newTenant(t, env.App, "Helse A"), b: newTenant(t, env.App, "Helse B"), db: env.App, store: NewStore(env.App)}
	f.lis, f.leder, f.veileder, f.sup, f.delegate = newPerson(t, env.App, "Lise"), newPerson(t, env.App, "Leif"), newPerson(t, env.App, "Vera"), newPerson(t, env.App, "Sune"), newPerson(t, env.App, "Dag")
	f.otherLIS, f.otherLeder = newPerson(t, env.App, "Ola"), newPerson(t, env.App, "Otto")
	// The catalogue is global: written as the app role outside a tenant.
	if err := env.App.NewRaw("INSERT INTO catalog_versions (label, published_at) VALUES (?, now()) RETURNING id", "test-"+uuid.NewString()[:8]).Scan(ctx, &f.version); err != nil {
		t.Fatal(err)
	}
	if _, err := env.App.ExecContext(ctx, `INSERT INTO goals (version_id, code, text, plan) VALUES (?, 'KLS-001', 'Kan gjøre en klinisk undersøkelse', 'KLS'),
		(?, 'KLS-002', 'Kan skrive en epikrise', 'KLS'), (?, 'KLS-003', NULL, 'KLS'), (?, 'ANE-099', 'Utenlandsmål', 'ANE')`, f.version, f.version, f.version, f.version); err != nil {
		t.Fatal(err)
	}
	inTenant(t, env.App, f.a.ID, func(ctx context.Context, tx bun.Tx) error {
		sys := tenants.Actor{Name: "test"}
		for _, r := range []struct {
			lis  uuid.UUID
			kind string
			p    uuid.UUID
		}{{f.lis.PersonID, "leder", f.leder.PersonID}, {f.lis.PersonID, "veileder", f.veileder.PersonID}, {f.lis.PersonID, "supervisor", f.sup.PersonID},
			{f.otherLIS.PersonID, "leder", f.otherLeder.PersonID}} {
			if err := tenants.SetRelation(ctx, tx, f.a.ID, r.lis, r.kind, r.p, sys); err != nil {
				return err
			}
		}
		if err := tenants.GrantRole(ctx, tx, f.a.ID, f.delegate.PersonID, "supervisor", sys); err != nil {
			return err
		}
		if err := tx.NewRaw("INSERT INTO arenas (tenant_id, name) VALUES (?, 'Akuttmottak') RETURNING id", f.a.ID).Scan(ctx, &f.arena); err != nil {
			return err
		}
		var tpl uuid.UUID
		if err := tx.NewRaw("INSERT INTO plan_templates (tenant_id, name, specialty, version_id) VALUES (?, 'LIS1 sykehus', 'LIS1', ?) RETURNING id", f.a.ID, f.version).Scan(ctx, &tpl); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO plan_template_goals (tenant_id, template_id, goal_code, arena_ids) VALUES
			(?, ?, 'KLS-001', ARRAY[?]::uuid[]), (?, ?, 'KLS-002', '{}'), (?, ?, 'KLS-003', '{}')`, f.a.ID, tpl, f.arena, f.a.ID, tpl, f.a.ID, tpl); err != nil {
			return err
		}
		for _, l := range []uuid.UUID{f.lis.PersonID, f.otherLIS.PersonID} {
			if _, err := tx.ExecContext(ctx, "INSERT INTO plan_assignments (tenant_id, lis_id, template_id, version_id) VALUES (?, ?, ?, ?)", f.a.ID, l, tpl, f.version); err != nil {
				return err
			}
		}
		return nil
	})
	if _, err := tenants.Delegate(ctx, env.App, f.a.ID, f.leder, f.delegate.PersonID, nil, "ferie", time.Now()); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) send(t *testing.T, lis tenants.Actor, code string, to tenants.Actor, inputs ...tenants.Actor) *Progress {
	t.Helper()
	in := Send{Code: code, CompletedOn: time.Now().Format("2006-01-02"), Comment: "Gjort mange ganger", Approver: to.PersonID.String()}
	for _, a := range inputs {
		in.Inputs = append(in.Inputs, a.PersonID.String())
	}
	p, err := f.store.SendGoal(context.Background(), f.a.ID, lis, in)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *fixture) answerAll(t *testing.T, p *Progress) {
	t.Helper()
	for _, who := range []tenants.Actor{f.veileder, f.sup} {
		ins, err := f.store.InputsFor(context.Background(), f.a.ID, who.PersonID)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range ins {
			if in.ProgressID == p.ID && in.AnsweredAt == nil {
				if err := f.store.AnswerInput(context.Background(), f.a.ID, who, in.ID, "Ser bra ut fra "+who.Name); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

func TestGoalsListFilterAndPreference(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	gs, err := f.store.Goals(ctx, f.a.ID, f.lis.PersonID, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 3 || gs[0].Code != "KLS-001" || gs[0].Text == nil || gs[2].Text != nil || gs[0].Status != "" || gs[0].StatusText() != "Ikke startet" {
		t.Fatalf("goals: %+v", gs)
	}
	if gs, _ = f.store.Goals(ctx, f.a.ID, f.lis.PersonID, Filter{Arena: f.arena.String()}); len(gs) != 1 || gs[0].Code != "KLS-001" {
		t.Fatalf("arena filter: %+v", gs)
	}
	if gs, _ = f.store.Goals(ctx, f.a.ID, f.lis.PersonID, Filter{Search: "epikrise"}); len(gs) != 1 || gs[0].Code != "KLS-002" {
		t.Fatalf("search in text: %+v", gs)
	}
	if gs, _ = f.store.Goals(ctx, f.a.ID, f.lis.PersonID, Filter{Search: "kls-003"}); len(gs) != 1 {
		t.Fatalf("search in code: %+v", gs)
	}
	if err := f.store.SetPreference(ctx, f.a.ID, f.lis.PersonID, PrefArena, f.arena.String()); err != nil {
		t.Fatal(err)
	}
	if v, _ := f.store.Preference(ctx, f.a.ID, f.lis.PersonID, PrefArena); v != f.arena.String() {
		t.Fatalf("remembered arena %q", v)
	}
	if v, _ := f.store.Preference(ctx, f.b.ID, f.lis.PersonID, PrefArena); v != "" {
		t.Fatalf("the preference leaked to tenant B: %q", v)
	}
	_ = f.store.SetPreference(ctx, f.a.ID, f.lis.PersonID, PrefArena, "")
	if v, _ := f.store.Preference(ctx, f.a.ID, f.lis.PersonID, PrefArena); v != "" {
		t.Fatalf("forgotten arena %q", v)
	}
}

func TestSendRulesAndRecall(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	today := time.Now().Format("2006-01-02")
	bad := []struct {
		name  string
		in    Send
		field string
	}{
		{"not in the plan", Send{Code: "ANE-099", CompletedOn: today, Approver: f.leder.PersonID.String(), Inputs: []string{f.veileder.PersonID.String(), f.sup.PersonID.String()}}, "code"},
		{"future date", Send{Code: "KLS-001", CompletedOn: "2999-01-01", Approver: f.leder.PersonID.String(), Inputs: []string{f.veileder.PersonID.String(), f.sup.PersonID.String()}}, "completed_on"},
		{"not the leder", Send{Code: "KLS-001", CompletedOn: today, Approver: f.otherLeder.PersonID.String(), Inputs: []string{f.veileder.PersonID.String(), f.sup.PersonID.String()}}, "approver"},
		{"no veileder asked", Send{Code: "KLS-001", CompletedOn: today, Approver: f.leder.PersonID.String(), Inputs: []string{f.sup.PersonID.String()}}, "inputs"},
		{"no supervisor asked", Send{Code: "KLS-001", CompletedOn: today, Approver: f.leder.PersonID.String(), Inputs: []string{f.veileder.PersonID.String()}}, "inputs"},
	}
	for _, c := range bad {
		if _, err := f.store.SendGoal(ctx, f.a.ID, f.lis, c.in); apperr.FieldsOf(err)[c.field] == "" {
			t.Errorf("%s: %v, want an error on %s", c.name, err, c.field)
		}
	}
	p := f.send(t, f.lis, "KLS-001", f.leder, f.veileder, f.sup)
	if p.Status != StatusSent || p.SentTo == nil || *p.SentTo != f.leder.PersonID {
		t.Fatalf("sent: %+v", p)
	}
	var topics []string
	inTenant(t, f.db, f.a.ID, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw("SELECT topic || ':' || coalesce(recipient_id::text, '') FROM outbox WHERE tenant_id = ? ORDER BY id", f.a.ID).Scan(ctx, &topics)
	})
	want := map[string]bool{"goal.sent:" + f.leder.PersonID.String(): true, "goal.input_requested:" + f.veileder.PersonID.String(): true, "goal.input_requested:" + f.sup.PersonID.String(): true}
	for _, tp := range topics {
		delete(want, tp)
	}
	if len(want) != 0 {
		t.Fatalf("outbox %v lacks %v", topics, want)
	}
	if _, err := f.store.SendGoal(ctx, f.a.ID, f.lis, Send{Code: "KLS-001", CompletedOn: today, Approver: f.leder.PersonID.String(), Inputs: []string{f.veileder.PersonID.String(), f.sup.PersonID.String()}}); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("sending twice: %v", err)
	}
	if err := f.store.Recall(ctx, f.a.ID, f.otherLIS, p.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("another LIS recalls: %v", err)
	}
	if err := f.store.Recall(ctx, f.a.ID, f.lis, p.ID); err != nil {
		t.Fatal(err)
	}
	if ins, _ := f.store.InputsFor(ctx, f.a.ID, f.veileder.PersonID); len(ins) != 0 {
		t.Fatalf("inputs still asked after recall: %+v", ins)
	}
	gs, _ := f.store.Goals(ctx, f.a.ID, f.lis.PersonID, Filter{Code: "KLS-001"})
	if gs[0].Status != StatusOpen {
		t.Fatalf("after recall: %q", gs[0].Status)
	}
	t.Run("recall after a decision is refused", func(t *testing.T) {
		p := f.send(t, f.lis, "KLS-001", f.leder, f.veileder, f.sup)
		f.answerAll(t, p)
		if _, err := f.store.Decide(ctx, f.a.ID, f.leder, p.ID, Decision{Outcome: Approve}); err != nil {
			t.Fatal(err)
		}
		err := f.store.Recall(ctx, f.a.ID, f.lis, p.ID)
		if !apperr.Is(err, apperr.Conflict) || apperr.MessageOf(err) == "" {
			t.Fatalf("recall after approval: %v", err)
		}
		t.Log(apperr.MessageOf(err))
	})
}

func TestWhoMayDecide(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	expired, revoked := newPerson(t, f.db, "Utløpt"), newPerson(t, f.db, "Trukket")
	inTenant(t, f.db, f.a.ID, func(ctx context.Context, tx bun.Tx) error {
		for _, p := range []uuid.UUID{expired.PersonID, revoked.PersonID} {
			if err := tenants.GrantRole(ctx, tx, f.a.ID, p, "supervisor", tenants.Actor{Name: "test"}); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO delegations (tenant_id, leder_id, delegate_id, valid_until) VALUES (?, ?, ?, current_date - 1)", f.a.ID, f.leder.PersonID, expired.PersonID)
		return err
	})
	d, err := tenants.Delegate(ctx, f.db, f.a.ID, f.leder, revoked.PersonID, nil, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := tenants.RevokeDelegation(ctx, f.db, f.a.ID, f.leder, d.ID, "tilbake"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		who  tenants.Actor
		ok   bool
	}{
		{"the leder", f.leder, true},
		{"a delegate with an open delegation", f.delegate, true},
		{"a delegate whose delegation expired", expired, false},
		{"a delegate whose delegation was revoked", revoked, false},
		{"the veileder", f.veileder, false},
		{"the supervisor", f.sup, false},
		{"the leder of another LIS", f.otherLeder, false},
		{"the LIS", f.lis, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// A fresh goal each time, sent to the leder with all input given.
			inTenant(t, f.db, f.a.ID, func(ctx context.Context, tx bun.Tx) error {
				_, err := tx.ExecContext(ctx, "DELETE FROM goal_inputs WHERE tenant_id = ?", f.a.ID)
				if err == nil {
					_, err = tx.ExecContext(ctx, "DELETE FROM goal_progress WHERE tenant_id = ? AND goal_code = 'KLS-002'", f.a.ID)
				}
				return err
			})
			p := f.send(t, f.lis, "KLS-002", f.leder, f.veileder, f.sup)
			f.answerAll(t, p)
			q, err := f.store.Queue(ctx, f.a.ID, c.who.PersonID)
			if err != nil {
				t.Fatal(err)
			}
			if (len(q) == 1) != c.ok {
				t.Errorf("queue of %s: %d goals", c.name, len(q))
			}
			_, err = f.store.Decide(ctx, f.a.ID, c.who, p.ID, Decision{Outcome: Approve})
			if c.ok && err != nil {
				t.Fatalf("%s may decide: %v", c.name, err)
			}
			if !c.ok && !apperr.Is(err, apperr.NotFound) {
				t.Fatalf("%s: %v, want NotFound", c.name, err)
			}
			if c.ok {
				_, err := f.store.Decide(ctx, f.a.ID, f.leder, p.ID, Decision{Outcome: Reject, Note: "nei"})
				if !apperr.Is(err, apperr.Conflict) {
					t.Fatalf("second decision: %v, want Conflict", err)
				}
			}
		})
	}
}

// A goal sent to a leder who is no longer the LIS's leder leaves their queue,
// and their delegate's, and neither may decide it; the count agrees.
func TestQueueFollowsTheCurrentLeder(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := f.send(t, f.lis, "KLS-001", f.leder, f.veileder, f.sup)
	f.answerAll(t, p)
	for _, who := range []tenants.Actor{f.leder, f.delegate} {
		if n, err := f.store.QueueCount(ctx, f.a.ID, who.PersonID); err != nil || n != 1 {
			t.Fatalf("before the change, %s's count: %d %v", who.Name, n, err)
		}
	}
	inTenant(t, f.db, f.a.ID, func(ctx context.Context, tx bun.Tx) error {
		return tenants.SetRelation(ctx, tx, f.a.ID, f.lis.PersonID, "leder", f.otherLeder.PersonID, tenants.Actor{Name: "test"})
	})
	for _, who := range []tenants.Actor{f.leder, f.delegate} {
		q, err := f.store.Queue(ctx, f.a.ID, who.PersonID)
		if err != nil || len(q) != 0 {
			t.Errorf("%s's queue after the LIS got another leder: %d %v", who.Name, len(q), err)
		}
		if n, err := f.store.QueueCount(ctx, f.a.ID, who.PersonID); err != nil || n != 0 {
			t.Errorf("%s's count after the LIS got another leder: %d %v", who.Name, n, err)
		}
		if _, err := f.store.Decide(ctx, f.a.ID, who, p.ID, Decision{Outcome: Approve}); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("%s decided after the LIS got another leder: %v", who.Name, err)
		}
	}
}

func TestDecisionRules(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := f.send(t, f.lis, "KLS-001", f.leder, f.veileder, f.sup)
	for _, o := range []string{Reject, Return} {
		if _, err := f.store.Decide(ctx, f.a.ID, f.leder, p.ID, Decision{Outcome: o}); apperr.FieldsOf(err)["note"] == "" {
			t.Fatalf("%s without a note: %v", o, err)
		}
	}
	_, err := f.store.Decide(ctx, f.a.ID, f.leder, p.ID, Decision{Outcome: Approve})
	if apperr.FieldsOf(err)["confirm"] == "" {
		t.Fatalf("approving without input and without confirmation: %v", err)
	}
	c, err := f.store.Decide(ctx, f.a.ID, f.leder, p.ID, Decision{Outcome: Return, Note: "Trenger flere prosedyrer"})
	if err != nil || c.Status != StatusReturned || c.DecisionNote != "Trenger flere prosedyrer" {
		t.Fatalf("return: %+v %v", c, err)
	}
	// Returned: the LIS sends again, the leder approves with confirmation.
	p = f.send(t, f.lis, "KLS-001", f.leder, f.veileder, f.sup)
	if c, err = f.store.Decide(ctx, f.a.ID, f.leder, p.ID, Decision{Outcome: Approve, ConfirmMissing: true}); err != nil || c.Status != StatusApproved {
		t.Fatalf("approve with confirmation: %+v %v", c, err)
	}
	var n int
	inTenant(t, f.db, f.a.ID, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw("SELECT count(*) FROM outbox WHERE tenant_id = ? AND recipient_id = ? AND topic IN ('goal.returned', 'goal.approved')", f.a.ID, f.lis.PersonID).Scan(ctx, &n)
	})
	if n != 2 {
		t.Fatalf("events to the LIS: %d", n)
	}
}

func TestBasisFrozenAtApproval(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var act uuid.UUID
	inTenant(t, f.db, f.a.ID, func(ctx context.Context, tx bun.Tx) error {
		if err := tx.NewRaw(`INSERT INTO activities (tenant_id, lis_id, kind, title, done_on, goal_codes, status, supervisor_id)
			VALUES (?, ?, 'course', 'Kurs i klinisk undersøkelse', current_date, ARRAY['KLS-001'], 'signed', ?) RETURNING id`, f.a.ID, f.lis.PersonID, f.sup.PersonID).Scan(ctx, &act); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO signatures (tenant_id, activity_id, supervisor_id, decision, comment, snapshot) VALUES (?, ?, ?, 'signed', 'Fint', '{}')`, f.a.ID, act, f.sup.PersonID)
		return err
	})
	p := f.send(t, f.lis, "KLS-001", f.leder, f.veileder, f.sup)
	f.answerAll(t, p)
	if _, err := f.store.Decide(ctx, f.a.ID, f.leder, p.ID, Decision{Outcome: Approve}); err != nil {
		t.Fatal(err)
	}
	before, err := f.store.CaseFor(ctx, f.a.ID, f.leder.PersonID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	raw := append([]byte(nil), before.Basis2JSON(t)...)
	if len(before.Basis.Activities) != 1 || before.Basis.Activities[0].Title != "Kurs i klinisk undersøkelse" || len(before.Basis.Activities[0].Signatures) != 1 ||
		len(before.Basis.Inputs) != 2 || before.Basis.FrozenAt == nil {
		t.Fatalf("frozen basis: %s", raw)
	}
	// Later changes: the activity is renamed, another one added, the input rewritten.
	inTenant(t, f.db, f.a.ID, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE activities SET title = 'Endret etterpå', updated_at = now() WHERE tenant_id = ? AND id = ?", f.a.ID, act); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO activities (tenant_id, lis_id, kind, title, done_on, goal_codes) VALUES (?, ?, 'selfstudy', 'Ny etterpå', current_date, ARRAY['KLS-001'])`, f.a.ID, f.lis.PersonID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "UPDATE goal_inputs SET text = 'omskrevet' WHERE tenant_id = ?", f.a.ID)
		return err
	})
	after, err := f.store.CaseFor(ctx, f.a.ID, f.leder.PersonID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := after.Basis2JSON(t); string(got) != string(raw) {
		t.Fatalf("the basis changed after approval:\nbefore %s\nafter  %s", raw, got)
	}
	if after.Basis.Activities[0].Title != "Kurs i klinisk undersøkelse" {
		t.Fatalf("title in the basis: %q", after.Basis.Activities[0].Title)
	}
}

// Basis2JSON is the basis as stored.
func (c *Case) Basis2JSON(t *testing.T) []byte {
	t.Helper()
	b, err := json.Marshal(c.Basis)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPriorLearning(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	today := time.Now().Format("2006-01-02")
	if _, err := f.store.PriorLearning(ctx, f.a.ID, f.lis, Send{Code: "XYZ-1", CompletedOn: today, Comment: "Sverige", Approver: f.leder.PersonID.String()}); apperr.FieldsOf(err)["code"] == "" {
		t.Fatalf("unknown code: %v", err)
	}
	if _, err := f.store.PriorLearning(ctx, f.a.ID, f.lis, Send{Code: "ANE-099", CompletedOn: today, Approver: f.leder.PersonID.String()}); apperr.FieldsOf(err)["comment"] == "" {
		t.Fatalf("no comment: %v", err)
	}
	p, err := f.store.PriorLearning(ctx, f.a.ID, f.lis, Send{Code: "ane-099", CompletedOn: "2020-05-01", Comment: "Karolinska, Stockholm", Approver: f.leder.PersonID.String()})
	if err != nil || !p.PriorLearning || p.Status != StatusSent || p.DocumentID != nil || p.AssignmentID != nil || p.VersionID != f.version {
		t.Fatalf("prior learning: %+v %v", p, err)
	}
	q, _ := f.store.Queue(ctx, f.a.ID, f.delegate.PersonID)
	if len(q) != 1 || !q[0].PriorLearning || q[0].MissingInput() != "" {
		t.Fatalf("delegate's queue: %+v", q)
	}
	if _, err := f.store.Decide(ctx, f.a.ID, f.delegate, p.ID, Decision{Outcome: Approve}); err != nil {
		t.Fatal(err)
	}
	mine, _ := f.store.MyProgress(ctx, f.a.ID, f.lis.PersonID, true)
	if len(mine) != 1 || mine[0].Status != StatusApproved || mine[0].DecidedByName != "Dag Test" {
		t.Fatalf("LIS's prior learning: %+v", mine)
	}
	// A plan goal achieved earlier counts as approved in the plan.
	p, err = f.store.PriorLearning(ctx, f.a.ID, f.lis, Send{Code: "KLS-002", CompletedOn: "2019-01-01", Comment: "Oslo", Approver: f.leder.PersonID.String()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Decide(ctx, f.a.ID, f.leder, p.ID, Decision{Outcome: Approve}); err != nil {
		t.Fatal(err)
	}
	gs, _ := f.store.Goals(ctx, f.a.ID, f.lis.PersonID, Filter{Code: "KLS-002"})
	if len(gs) != 1 || gs[0].Status != StatusApproved || !gs[0].PriorApproved {
		t.Fatalf("plan goal after etterregistrering: %+v", gs)
	}
}

func TestIsolationGoals(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := f.send(t, f.lis, "KLS-001", f.leder, f.veileder, f.sup)
	// The same people acting through tenant B see and change nothing of A's.
	if gs, err := f.store.Goals(ctx, f.b.ID, f.lis.PersonID, Filter{}); err != nil || len(gs) != 0 {
		t.Fatalf("goals through tenant B: %d %v", len(gs), err)
	}
	if q, err := f.store.Queue(ctx, f.b.ID, f.leder.PersonID); err != nil || len(q) != 0 {
		t.Fatalf("queue through tenant B: %d %v", len(q), err)
	}
	if _, err := f.store.CaseFor(ctx, f.b.ID, f.leder.PersonID, p.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("read through tenant B: %v", err)
	}
	if _, err := f.store.Decide(ctx, f.b.ID, f.leder, p.ID, Decision{Outcome: Approve, ConfirmMissing: true}); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("decide through tenant B: %v", err)
	}
	if err := f.store.Recall(ctx, f.b.ID, f.lis, p.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("recall through tenant B: %v", err)
	}
	if ins, _ := f.store.InputsFor(ctx, f.b.ID, f.veileder.PersonID); len(ins) != 0 {
		t.Fatalf("inputs through tenant B: %d", len(ins))
	}
	inTenant(t, f.db, f.b.ID, func(ctx context.Context, tx bun.Tx) error {
		for _, table := range []string{"goal_progress", "goal_inputs", "outbox"} {
			var n int
			if err := tx.NewRaw("SELECT count(*) FROM ?", bun.Ident(table)).Scan(ctx, &n); err != nil {
				return err
			}
			if n != 0 {
				t.Errorf("tenant B sees %d rows of %s", n, table)
			}
		}
		res, err := tx.ExecContext(ctx, "UPDATE goal_progress SET status = 'approved' WHERE id = ?", p.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 0 {
			t.Errorf("tenant B updated %d rows of A's goal_progress", n)
		}
		return nil
	})
	c, err := f.store.CaseFor(ctx, f.a.ID, f.leder.PersonID, p.ID)
	if err != nil || c.Status != StatusSent {
		t.Fatalf("A's goal after B's attempts: %+v %v", c, err)
	}
}

// newDocument is a document row of person (the documents module stores the
// file; here only the row matters).
func newDocument(t *testing.T, db bun.IDB, tenantID, person uuid.UUID, name string) uuid.UUID {
	t.Helper()
	id := uuid.New()
	inTenant(t, db, tenantID, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO documents (tenant_id, id, person_id, kind, name, content_type, size, object_key) VALUES (?, ?, ?, 'other', ?, 'application/pdf', 10, ?)`,
			tenantID, id, person, name, documents.ObjectKey(tenantID, person, id))
		return err
	})
	return id
}

func TestPriorLearningWithDocument(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	mine := newDocument(t, f.db, f.a.ID, f.lis.PersonID, "Attest Karolinska.pdf")
	theirs := newDocument(t, f.db, f.a.ID, f.otherLIS.PersonID, "annen.pdf")
	send := Send{Code: "ANE-099", CompletedOn: "2020-05-01", Comment: "Karolinska", Approver: f.leder.PersonID.String()}
	for _, bad := range []string{theirs.String(), "ikke-en-id", uuid.NewString()} {
		send.DocumentID = bad
		if _, err := f.store.PriorLearning(ctx, f.a.ID, f.lis, send); apperr.FieldsOf(err)["document"] == "" {
			t.Fatalf("document %s: %v", bad, err)
		}
	}
	send.DocumentID = mine.String()
	p, err := f.store.PriorLearning(ctx, f.a.ID, f.lis, send)
	if err != nil || p.DocumentID == nil || *p.DocumentID != mine {
		t.Fatalf("with a document: %+v %v", p, err)
	}
	refs := func() []documents.Reference {
		var out map[uuid.UUID][]documents.Reference
		inTenant(t, f.db, f.a.ID, func(ctx context.Context, tx bun.Tx) error {
			var err error
			out, err = DocumentReferrer(ctx, tx, f.a.ID, []uuid.UUID{mine, theirs})
			return err
		})
		if len(out[theirs]) != 0 {
			t.Fatalf("an unlinked document has references: %+v", out[theirs])
		}
		return out[mine]
	}
	if r := refs(); len(r) != 1 || !r[0].Locked || r[0].Label != "Etterregistrering ANE-099 (sendt til godkjenning)" {
		t.Fatalf("waiting: %+v", r)
	}
	c, err := f.store.Decide(ctx, f.a.ID, f.leder, p.ID, Decision{Outcome: Approve})
	if err != nil || c.Basis.Document == nil || c.Basis.Document.Name != "Attest Karolinska.pdf" || c.Basis.Document.Type != "PDF" {
		t.Fatalf("decided: %+v %v", c, err)
	}
	// The frozen basis keeps the document; the approval keeps it from deletion.
	c, err = f.store.CaseFor(ctx, f.a.ID, f.leder.PersonID, p.ID)
	if err != nil || c.Basis.FrozenAt == nil || c.Basis.Document == nil || c.Basis.Document.ID != mine {
		t.Fatalf("frozen basis: %+v %v", c, err)
	}
	if r := refs(); len(r) != 1 || !r[0].Locked || r[0].Label != "Etterregistrering ANE-099 (godkjent)" {
		t.Fatalf("approved: %+v", r)
	}
}
