package plans_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/apperr"
	"kportal/modules/catalog"
	"kportal/modules/plans"
	"kportal/storage/testenv"
	"kportal/tenants"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var version int

func published(t *testing.T) int {
	t.Helper()
	if version != 0 {
		return version
	}
	ctx := context.Background()
	s, err := catalog.Read(catalog.Data())
	if err != nil {
		t.Fatal(err)
	}
	r, err := catalog.Import(ctx, testenv.Get(t).App, s, "plans-"+uuid.NewString()[:6], "", uuid.Nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := catalog.Publish(ctx, testenv.Get(t).App, r.VersionID, time.Now()); err != nil {
		t.Fatal(err)
	}
	version = r.VersionID
	return version
}

func newTenant(t *testing.T, kind tenants.Kind) *tenants.Tenant {
	t.Helper()
	tn := &tenants.Tenant{Slug: "p-" + uuid.NewString()[:8], Name: "Plan " + string(kind), Kind: kind}
	if kind == tenants.KindKommune {
		tn.Kommunenummer = "4601"
	}
	if err := tenants.Create(context.Background(), testenv.Get(t).App, tn); err != nil {
		t.Fatal(err)
	}
	return tn
}

func newPerson(t *testing.T) uuid.UUID {
	t.Helper()
	return testenv.NewPerson(t, testenv.Get(t).App, "Lise", "Test")
}

func relate(t *testing.T, tn *tenants.Tenant, lis, leder uuid.UUID) {
	t.Helper()
	err := tenants.WithTenantTx(context.Background(), testenv.Get(t).App, tenants.Scope{TenantID: tn.ID}, func(ctx context.Context, tx bun.Tx) error {
		return tenants.SetRelation(ctx, tx, tn.ID, lis, "leder", leder, tenants.Actor{Name: "test"})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func outbox(t *testing.T, tn *tenants.Tenant, lis uuid.UUID, topic string) int {
	t.Helper()
	var n int
	err := tenants.WithTenantTx(context.Background(), testenv.Get(t).App, tenants.Scope{TenantID: tn.ID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw("SELECT count(*) FROM outbox WHERE recipient_id = ? AND topic = ?", lis, topic).Scan(ctx, &n)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestTemplatesAndAssignment(t *testing.T) {
	ctx := context.Background()
	db := testenv.Get(t).App
	v := published(t)
	tn := newTenant(t, tenants.KindHF)
	ward, err := plans.CreateArena(ctx, db, tn.ID, "Sengepost", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plans.CreateArena(ctx, db, tn.ID, "sengepost", ""); apperr.FieldsOf(err)["name"] == "" {
		t.Fatalf("duplicate arena: %v", err)
	}
	tpl := &plans.Template{Name: "LIS1 sykehus", Specialty: plans.LIS1, VersionID: v,
		Goals: []plans.TemplateGoal{{Code: "KLS-001", ArenaIDs: []uuid.UUID{ward.ID}}, {Code: "KLS-002"}}}
	if err := plans.SaveTemplate(ctx, db, tn.ID, tpl); err != nil {
		t.Fatal(err)
	}
	bad := &plans.Template{Name: "Feil", Specialty: plans.LIS1, VersionID: v, Goals: []plans.TemplateGoal{{Code: "ORT-999"}}}
	if err := plans.SaveTemplate(ctx, db, tn.ID, bad); apperr.FieldsOf(err)["goals"] == "" {
		t.Fatalf("unknown goal accepted: %v", err)
	}
	if err := plans.AddLocalActivity(ctx, db, tn.ID, tpl.ID, &plans.LocalActivity{Kind: "course", Name: "Akuttkurs", ArenaID: &ward.ID, GoalCodes: []string{"KLS-001"}, Required: 1}); err != nil {
		t.Fatal(err)
	}
	got, err := plans.TemplateByID(ctx, db, tn.ID, tpl.ID)
	if err != nil || len(got.Goals) != 2 || len(got.Goals[0].ArenaIDs) != 1 || got.Goals[0].ArenaIDs[0] != ward.ID || len(got.Locals) != 1 || got.Locals[0].GoalCodes[0] != "KLS-001" {
		t.Fatalf("template: %+v %v", got, err)
	}

	lis, leder, other := newPerson(t), newPerson(t), newPerson(t)
	relate(t, tn, lis, leder)
	if _, err := plans.Assign(ctx, db, tn.ID, tenants.Actor{PersonID: other}, lis, tpl.ID); apperr.FieldsOf(err)["lis"] == "" {
		t.Fatalf("a non-leder assigned: %v", err)
	}
	a, err := plans.Assign(ctx, db, tn.ID, tenants.Actor{PersonID: leder}, lis, tpl.ID)
	if err != nil || a.VersionID != v {
		t.Fatalf("assign: %+v %v", a, err)
	}
	if _, err := plans.Assign(ctx, db, tn.ID, tenants.Actor{PersonID: leder}, lis, tpl.ID); apperr.FieldsOf(err)["template"] == "" {
		t.Fatalf("assigned twice: %v", err)
	}
	if err := plans.ArchiveAssignment(ctx, db, tn.ID, tenants.Actor{PersonID: leder}, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := plans.ArchiveAssignment(ctx, db, tn.ID, tenants.Actor{PersonID: leder}, a.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("archived twice: %v", err)
	}
	b, err := plans.Assign(ctx, db, tn.ID, tenants.Actor{PersonID: leder}, lis, tpl.ID)
	if err != nil || b.ID == a.ID {
		t.Fatalf("a new assignment after archiving: %+v %v", b, err)
	}
	list, _ := plans.Assignments(ctx, db, tn.ID, []uuid.UUID{lis})
	if len(list) != 2 || list[0].ArchivedAt != nil || list[1].ArchivedAt == nil {
		t.Fatalf("assignments: %+v", list)
	}
	if n := outbox(t, tn, lis, "plan.assigned"); n != 2 {
		t.Fatalf("plan.assigned events: %d", n)
	}
}

// A LIS who joins a kommune with an auto_assign template gets it, once.
func TestAssignAutomaticOnJoin(t *testing.T) {
	ctx := context.Background()
	db := testenv.Get(t).App
	tn := newTenant(t, tenants.KindKommune)
	tpl := &plans.Template{Name: "LIS1 kommunedel", Specialty: plans.LIS1, VersionID: published(t), AutoAssign: true, Goals: []plans.TemplateGoal{{Code: "KLK-001"}}}
	if err := plans.SaveTemplate(ctx, db, tn.ID, tpl); err != nil {
		t.Fatal(err)
	}
	lis, sup := newPerson(t), newPerson(t)
	err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: tn.ID}, func(ctx context.Context, tx bun.Tx) error {
		if err := tenants.GrantRole(ctx, tx, tn.ID, sup, "supervisor", tenants.Actor{Name: "test"}); err != nil {
			return err
		}
		return tenants.GrantRole(ctx, tx, tn.ID, lis, "lis", tenants.Actor{Name: "test"})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tenants.AddMembership(ctx, db, tn.ID, lis, "lis"); err != nil { // again: nothing new
		t.Fatal(err)
	}
	list, _ := plans.Assignments(ctx, db, tn.ID, nil)
	if len(list) != 1 || list[0].LisID != lis || list[0].AssignedBy != nil {
		t.Fatalf("automatic assignments: %+v", list)
	}
	if n := outbox(t, tn, lis, "plan.assigned"); n != 1 {
		t.Fatalf("events: %d", n)
	}
}

// Another tenant can neither read, change nor delete a tenant's arenas,
// templates and assignments.
func TestIsolationArenasTemplatesAssignments(t *testing.T) {
	ctx := context.Background()
	db := testenv.Get(t).App
	a, b := newTenant(t, tenants.KindHF), newTenant(t, tenants.KindHF)
	arena, err := plans.CreateArena(ctx, db, a.ID, "Poliklinikk", "")
	if err != nil {
		t.Fatal(err)
	}
	tpl := &plans.Template{Name: "ORT", Specialty: "ORT", VersionID: published(t)}
	if err := plans.SaveTemplate(ctx, db, a.ID, tpl); err != nil {
		t.Fatal(err)
	}
	lis, leder := newPerson(t), newPerson(t)
	relate(t, a, lis, leder)
	asg, err := plans.Assign(ctx, db, a.ID, tenants.Actor{PersonID: leder}, lis, tpl.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Through the API, in tenant b.
	if as, _ := plans.Arenas(ctx, db, b.ID); len(as) != 0 {
		t.Fatalf("b sees arenas: %v", as)
	}
	if err := plans.UpdateArena(ctx, db, b.ID, arena.ID, "Stjålet", ""); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("b renamed a's arena: %v", err)
	}
	if err := plans.ArchiveArena(ctx, db, b.ID, arena.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("b archived a's arena: %v", err)
	}
	if _, err := plans.TemplateByID(ctx, db, b.ID, tpl.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("b read a's template: %v", err)
	}
	if err := plans.ArchiveTemplate(ctx, db, b.ID, tpl.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("b archived a's template: %v", err)
	}
	if err := plans.ArchiveAssignment(ctx, db, b.ID, tenants.Actor{PersonID: leder}, asg.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("b archived a's assignment: %v", err)
	}
	if _, err := plans.Assign(ctx, db, b.ID, tenants.Actor{PersonID: leder}, lis, tpl.ID); err == nil {
		t.Fatal("b assigned a's template")
	}
	// Raw SQL in tenant b, even naming tenant a's id: row-level security.
	err = tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: b.ID}, func(ctx context.Context, tx bun.Tx) error {
		for _, q := range []string{
			"UPDATE arenas SET name = 'x' WHERE id = ?", "DELETE FROM plan_template_goals WHERE template_id = ?",
			"UPDATE plan_templates SET name = 'x' WHERE id = ?", "UPDATE plan_assignments SET archived_at = now() WHERE id = ?",
			"DELETE FROM local_activities WHERE template_id = ?",
		} {
			id := arena.ID
			if !strings.Contains(q, "arenas") {
				id = tpl.ID
			}
			if strings.Contains(q, "plan_assignments") {
				id = asg.ID
			}
			r, err := tx.ExecContext(ctx, q, id)
			if err != nil {
				return err
			}
			if n, _ := r.RowsAffected(); n != 0 {
				t.Errorf("%s touched %d rows of another tenant", q, n)
			}
		}
		var n int
		if err := tx.NewRaw("SELECT (SELECT count(*) FROM arenas) + (SELECT count(*) FROM plan_templates) + (SELECT count(*) FROM plan_assignments)").Scan(ctx, &n); err != nil {
			return err
		}
		if n != 0 {
			t.Errorf("b sees %d rows of a", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: b.ID}, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO arenas (tenant_id, name) VALUES (?, 'Inntrenger')", a.ID)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "row-level security") {
		t.Fatalf("b inserting an arena into a: %v", err)
	}
	as, _ := plans.Arenas(ctx, db, a.ID)
	if len(as) != 1 || as[0].Name != "Poliklinikk" || as[0].ArchivedAt != nil {
		t.Fatalf("a's arena after b's attempts: %+v", as)
	}
}

// Renaming an arena obeys the same rule as creating one: no two open arenas
// of a tenant share a name; keeping one's own name is fine.
func TestRenameArenaToATakenName(t *testing.T) {
	ctx := context.Background()
	db := testenv.Get(t).App
	tn := newTenant(t, tenants.KindHF)
	if _, err := plans.CreateArena(ctx, db, tn.ID, "Poliklinikk", ""); err != nil {
		t.Fatal(err)
	}
	ward, err := plans.CreateArena(ctx, db, tn.ID, "Sengepost", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := plans.UpdateArena(ctx, db, tn.ID, ward.ID, "poliklinikk", ""); apperr.FieldsOf(err)["name"] == "" {
		t.Fatalf("renaming to a taken name: %v", err)
	}
	if err := plans.UpdateArena(ctx, db, tn.ID, ward.ID, "Sengepost", "Med beskrivelse"); err != nil {
		t.Fatalf("keeping its own name: %v", err)
	}
	arenas, _ := plans.Arenas(ctx, db, tn.ID)
	if len(arenas) != 2 || arenas[0].Name == arenas[1].Name {
		t.Fatalf("arenas: %+v", arenas)
	}
}
