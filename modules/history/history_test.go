package history

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"

	"kportal/modules/history/historytest"
	"kportal/storage/testenv"
	"kportal/tenants"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func newPerson(t *testing.T, db bun.IDB, given string) uuid.UUID {
	t.Helper()
	return testenv.NewPerson(t, db, given, "Testesen")
}

func newTenant(t *testing.T, db bun.IDB, name string) *tenants.Tenant {
	t.Helper()
	return testenv.NewTenant(t, db, &tenants.Tenant{Name: name})
}

// ownTables are the tables given the own_record policy.
var ownTables = []string{"plan_assignments", "plan_templates", "activities", "signatures", "goal_progress", "advisory_sessions", "advisory_notes", "documents"}

type world struct {
	a, b         *tenants.Tenant
	lis, namesak uuid.UUID // namesak: another LIS of the same name, in A
	recA, recB   historytest.Record
	recNamesake  historytest.Record
}

func newWorld(t *testing.T) *world {
	t.Helper()
	db := testenv.Get(t).App
	w := &world{a: newTenant(t, db, "Helse A HF"), b: newTenant(t, db, "B kommune")}
	w.lis, w.namesak = newPerson(t, db, "Sigrid"), newPerson(t, db, "Sigrid")
	leder, sup := newPerson(t, db, "Per"), newPerson(t, db, "Ola")
	w.recA = historytest.Write(t, db, w.a.ID, w.lis, leder, sup, "A1")
	w.recB = historytest.Write(t, db, w.b.ID, w.lis, leder, sup, "B1")
	w.recNamesake = historytest.Write(t, db, w.a.ID, w.namesak, leder, sup, "N1")
	return w
}

func sectionOf(rec *Record, id uuid.UUID) *Section {
	for _, s := range rec.Sections {
		if s.Tenant.ID == id {
			return s
		}
	}
	return nil
}

// mustHold fails unless the section holds exactly the record r.
func mustHold(t *testing.T, s *Section, r historytest.Record) {
	t.Helper()
	if s == nil {
		t.Fatalf("no section for %s", r.Plan)
	}
	if len(s.Plans) != 1 || s.Plans[0].TemplateName != r.Plan || len(s.Goals) != 1 || s.Goals[0].GoalCode != r.Goal || s.Goals[0].DecidedByName != "Per Testesen" ||
		len(s.Activities) != 1 || s.Activities[0].Title != r.Activity || len(s.Procedures) != 1 || s.Procedures[0].PerformedSigned != 3 ||
		len(s.Sessions) != 1 || s.Sessions[0].AdvisorName != "Ola Testesen" || len(s.Documents) != 1 || s.Documents[0].Name != r.Document {
		t.Fatalf("section %s: plans %+v goals %d activities %d procedures %+v sessions %d documents %d", s.Tenant.Name, s.Plans, len(s.Goals), len(s.Activities), s.Procedures, len(s.Sessions), len(s.Documents))
	}
}

// A LIS reads their record from both tenants, also after one removes their
// role; another LIS of the same name reads only their own.
func TestTransferIsolationOwnRecordAcrossTenants(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	w := newWorld(t)
	rec, err := Load(ctx, env.App, w.lis)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Sections) != 2 {
		t.Fatalf("sections: %d, want 2", len(rec.Sections))
	}
	mustHold(t, sectionOf(rec, w.a.ID), w.recA)
	mustHold(t, sectionOf(rec, w.b.ID), w.recB)
	if s := sectionOf(rec, w.b.ID); s.Tenant.Name != "B kommune" || !s.Current() {
		t.Fatalf("section B: %+v", s.Tenant)
	}

	err = tenants.WithTenantTx(ctx, env.App, tenants.Scope{TenantID: w.a.ID}, func(ctx context.Context, tx bun.Tx) error {
		return tenants.RevokeRole(ctx, tx, w.a.ID, w.lis, "lis", tenants.Actor{Name: "test"})
	})
	if err != nil {
		t.Fatal(err)
	}
	if rec, err = Load(ctx, env.App, w.lis); err != nil {
		t.Fatal(err)
	}
	mustHold(t, sectionOf(rec, w.a.ID), w.recA)

	other, err := Load(ctx, env.App, w.namesak)
	if err != nil {
		t.Fatal(err)
	}
	if len(other.Sections) != 1 {
		t.Fatalf("namesake sees %d sections", len(other.Sections))
	}
	mustHold(t, sectionOf(other, w.a.ID), w.recNamesake)

	nobody, err := Load(ctx, env.App, newPerson(t, env.App, "Ingen"))
	if err != nil || len(nobody.Sections) != 0 {
		t.Fatalf("a person with no record: %d sections, %v", len(nobody.Sections), err)
	}
}

// count reads how many rows of a table a transaction sees.
func count(t *testing.T, ctx context.Context, tx bun.IDB, table string) int {
	t.Helper()
	var n int
	if err := tx.NewRaw("SELECT count(*) FROM "+table).Scan(ctx, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The policies widen reads only: for the person themselves, only when the
// transaction asks for it, and never writes.
func TestTransferIsolationOwnRecordPolicies(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	w := newWorld(t)
	// Each table holds one row per record, the LIS has two (A and B); the
	// namesake's stay out.
	err := tenants.OwnRecordTx(ctx, env.App, w.lis, func(ctx context.Context, tx bun.Tx) error {
		for _, table := range ownTables {
			if n := count(t, ctx, tx, table); n != 2 {
				t.Errorf("own record: %s shows %d rows, want 2 (A and B)", table, n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = tenants.OwnRecordTx(ctx, env.App, w.lis, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE activities SET comment = 'x'")
		return err
	})
	if pe := (*pgconn.PgError)(nil); !errors.As(err, &pe) || pe.Code != "25006" {
		t.Fatalf("an UPDATE in OwnRecordTx: %v, want a read-only transaction's refusal", err)
	}
	// Without app.own_record: the person alone opens nothing, and in tenant
	// A nothing of B.
	for _, scope := range []tenants.Scope{{PersonID: w.lis}, {TenantID: w.a.ID, PersonID: w.lis}} {
		err := tenants.WithTenantTx(ctx, env.App, scope, func(ctx context.Context, tx bun.Tx) error {
			for _, table := range ownTables {
				var n int
				if err := tx.NewRaw("SELECT count(*) FROM "+table+" WHERE tenant_id = ?", w.b.ID).Scan(ctx, &n); err != nil {
					return err
				}
				if n != 0 {
					t.Errorf("scope %+v without own_record: %s shows %d rows of B", scope, table, n)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Another person under own_record: none of the LIS's rows.
	err = tenants.OwnRecordTx(ctx, env.App, newPerson(t, env.App, "Sigrid"), func(ctx context.Context, tx bun.Tx) error {
		for _, table := range ownTables {
			if n := count(t, ctx, tx, table); n != 0 {
				t.Errorf("another person: %s shows %d rows", table, n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Writes: the same settings in a writable transaction, tenant A in force:
	// nothing of B is changed or deleted (a revoked privilege refuses anyway).
	for _, table := range ownTables {
		for _, stmt := range []string{"UPDATE " + table + " SET tenant_id = tenant_id WHERE tenant_id = ?", "DELETE FROM " + table + " WHERE tenant_id = ?"} {
			err := env.App.RunInTx(ctx, &sql.TxOptions{}, func(ctx context.Context, tx bun.Tx) error {
				if _, err := tx.ExecContext(ctx, "SELECT set_config('app.tenant_id', ?, true), set_config('app.person_id', ?, true), set_config('app.own_record', 'on', true)", w.a.ID.String(), w.lis.String()); err != nil {
					return err
				}
				res, err := tx.ExecContext(ctx, stmt, w.b.ID)
				var pe *pgconn.PgError
				if errors.As(err, &pe) && pe.Code == "42501" {
					return errors.New("roll back") // not granted: nothing changed either
				}
				if err != nil {
					return err
				}
				if n, _ := res.RowsAffected(); n != 0 {
					t.Errorf("%s: %d rows of another tenant", strings.Fields(stmt)[0]+" "+table, n)
				}
				return errors.New("roll back")
			})
			if err != nil && err.Error() != "roll back" {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
	}
	if n := testenv.Count(t, env.App, w.b.ID, "SELECT count(*) FROM activities WHERE lis_id = ?", w.lis); n != 1 {
		t.Fatalf("B's activities after the attempts: %d", n)
	}
}
