package tenants_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/storage/testenv"
	"kportal/tenants"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func newTenant(t *testing.T, db bun.IDB, name string) *tenants.Tenant {
	t.Helper()
	return testenv.NewTenant(t, db, &tenants.Tenant{Name: name})
}

func newPerson(t *testing.T, db bun.IDB) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	err := db.NewRaw("INSERT INTO people (identity_id, email) VALUES (?, ?) RETURNING id", uuid.New(), testenv.UniqueEmail("p")).Scan(context.Background(), &id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func count(t *testing.T, db bun.IDB, scope tenants.Scope) int {
	t.Helper()
	var n int
	err := tenants.WithTenantTx(context.Background(), db, scope, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw("SELECT count(*) FROM memberships").Scan(ctx, &n)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestIsolationMemberships(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	db := env.App
	a, b := newTenant(t, db, "Tenant A"), newTenant(t, db, "Tenant B")
	pa, pb := newPerson(t, db), newPerson(t, db)
	if err := tenants.AddMembership(ctx, db, a.ID, pa, "lis"); err != nil {
		t.Fatal(err)
	}
	if err := tenants.AddMembership(ctx, db, b.ID, pb, "leder"); err != nil {
		t.Fatal(err)
	}

	t.Run("no tenant set sees nothing", func(t *testing.T) {
		var n int
		if err := db.NewRaw("SELECT count(*) FROM memberships").Scan(ctx, &n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Fatalf("saw %d memberships without a tenant", n)
		}
	})
	t.Run("a tenant sees only its own", func(t *testing.T) {
		if n := count(t, db, tenants.Scope{TenantID: a.ID}); n != 1 {
			t.Fatalf("tenant A sees %d memberships, want 1", n)
		}
	})
	t.Run("on another tenant: update and delete change nothing", func(t *testing.T) {
		err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: b.ID}, func(ctx context.Context, tx bun.Tx) error {
			res, err := tx.ExecContext(ctx, "UPDATE memberships SET role = 'uao' WHERE tenant_id = ?", a.ID)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 0 {
				t.Errorf("tenant B updated %d of tenant A's rows", n)
			}
			res, err = tx.ExecContext(ctx, "DELETE FROM memberships WHERE tenant_id = ?", a.ID)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 0 {
				t.Errorf("tenant B deleted %d of tenant A's rows", n)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n := count(t, db, tenants.Scope{TenantID: a.ID}); n != 1 {
			t.Fatalf("tenant A's membership is gone")
		}
	})
	t.Run("on another tenant: insert is refused", func(t *testing.T) {
		err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: b.ID}, func(ctx context.Context, tx bun.Tx) error {
			_, err := tx.ExecContext(ctx, "INSERT INTO memberships (tenant_id, person_id, role) VALUES (?, ?, 'lis')", a.ID, pb)
			return err
		})
		if err == nil {
			t.Fatal("tenant B wrote a row into tenant A")
		}
	})
	t.Run("a person sees their own memberships across tenants, no one else's", func(t *testing.T) {
		if err := tenants.AddMembership(ctx, db, b.ID, pa, "supervisor"); err != nil {
			t.Fatal(err)
		}
		ms, err := tenants.ForPerson(ctx, db, pa)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != 2 {
			t.Fatalf("person A is in %d tenants, want 2: %+v", len(ms), ms)
		}
		if n := count(t, db, tenants.Scope{PersonID: pb}); n != 1 {
			t.Fatalf("person B sees %d memberships, want only their own 1", n)
		}
	})
	t.Run("the setting does not outlive the transaction", func(t *testing.T) {
		_ = count(t, db, tenants.Scope{TenantID: a.ID})
		var setting string
		if err := db.NewRaw("SELECT coalesce(current_setting('app.tenant_id', true), '')").Scan(ctx, &setting); err != nil {
			t.Fatal(err)
		}
		if setting != "" {
			t.Fatalf("app.tenant_id leaked out of the transaction: %q", setting)
		}
	})
}

// OneTx: a page's reads share one transaction; another tenant's work, or a
// call outside it, gets its own.
func TestOneTxIsJoinedByTheSameTenantOnly(t *testing.T) {
	db := testenv.Get(t).App
	ctx := context.Background()
	a, b := newTenant(t, db, "Tenant A"), newTenant(t, db, "Tenant B")
	p := newPerson(t, db)
	txid := func(ctx context.Context, scope tenants.Scope) int64 {
		var id int64
		if err := tenants.WithTenantTx(ctx, db, scope, func(ctx context.Context, tx bun.Tx) error {
			return tx.NewRaw("SELECT txid_current()").Scan(ctx, &id)
		}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	var outer, same, noPerson, other, owner int64
	err := tenants.OneTx(ctx, db, tenants.Scope{TenantID: a.ID, PersonID: p}, func(ctx context.Context) error {
		outer = txid(ctx, tenants.Scope{TenantID: a.ID, PersonID: p})
		same = txid(ctx, tenants.Scope{TenantID: a.ID, PersonID: p})
		noPerson = txid(ctx, tenants.Scope{TenantID: a.ID})
		other = txid(ctx, tenants.Scope{TenantID: b.ID, PersonID: p})
		return tenants.WithTenantTx(ctx, testenv.Get(t).Owner, tenants.Scope{TenantID: a.ID, PersonID: p}, func(ctx context.Context, tx bun.Tx) error {
			return tx.NewRaw("SELECT txid_current()").Scan(ctx, &owner)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if same != outer || noPerson != outer {
		t.Errorf("same tenant: transactions %d, %d, %d; want one", outer, same, noPerson)
	}
	if other == outer {
		t.Error("another tenant joined the page's transaction")
	}
	if owner == outer {
		t.Error("a call through another database handle (the owner role) joined the page's transaction")
	}
	if after := txid(ctx, tenants.Scope{TenantID: a.ID, PersonID: p}); after == outer {
		t.Error("a call after OneTx joined its transaction")
	}
}

// ForPerson's function puts the person in force for its own reading only:
// called inside a tenant's transaction it leaves that transaction's person
// as it was, and it never reads another person's memberships.
func TestMembershipsOfLeavesTheTransactionAsItWas(t *testing.T) {
	db := testenv.Get(t).App
	ctx := context.Background()
	a := newTenant(t, db, "Tenant A")
	p, q := newPerson(t, db), newPerson(t, db)
	if err := tenants.AddMembership(ctx, db, a.ID, p, "lis"); err != nil {
		t.Fatal(err)
	}
	if err := tenants.AddMembership(ctx, db, a.ID, q, "leder"); err != nil {
		t.Fatal(err)
	}
	ms, err := tenants.ForPerson(ctx, db, p)
	if err != nil || len(ms) != 1 || ms[0].Tenant.ID != a.ID || len(ms[0].Roles) != 1 || ms[0].Roles[0] != "lis" {
		t.Fatalf("ForPerson = %+v, %v", ms, err)
	}
	err = tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: a.ID, PersonID: q}, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tenants.ForPerson(ctx, tx, p); err != nil {
			return err
		}
		var person string
		if err := tx.NewRaw("SELECT current_setting('app.person_id', true)").Scan(ctx, &person); err != nil {
			return err
		}
		if person != q.String() {
			t.Errorf("person in force after ForPerson = %q, want %s", person, q)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var leaked int
	if err := db.NewRaw("SELECT count(*) FROM memberships").Scan(ctx, &leaked); err != nil || leaked != 0 {
		t.Fatalf("after ForPerson, a query with nothing in force sees %d memberships (%v)", leaked, err)
	}
}

// AccessOf reads memberships and platform roles in one statement: a person
// with platform roles and no membership gets their roles, one with both gets
// both, one with neither nothing.
func TestAccessOfReadsMembershipsAndPlatformRoles(t *testing.T) {
	db := testenv.Get(t).App
	ctx := context.Background()
	a, b := newTenant(t, db, "B-tenant"), newTenant(t, db, "A-tenant")
	admin, member, nobody := newPerson(t, db), newPerson(t, db), newPerson(t, db)
	if _, err := testenv.Get(t).Owner.ExecContext(ctx, "INSERT INTO rhf (code, name, orgnr) VALUES ('HV', 'Helse Vest RHF', '983974732') ON CONFLICT DO NOTHING"); err != nil {
		t.Fatal(err)
	}
	if err := tenants.GrantPlatformRole(ctx, testenv.Get(t).Owner, admin, tenants.RoleRHFAdmin, "HV"); err != nil {
		t.Fatal(err)
	}
	ms, prs, err := tenants.AccessOf(ctx, db, admin)
	if err != nil || len(ms) != 0 || len(prs) != 1 || prs[0] != (tenants.PlatformRole{Role: tenants.RoleRHFAdmin, RHF: "HV"}) {
		t.Fatalf("platform role only: %+v %+v %v", ms, prs, err)
	}
	for _, tn := range []*tenants.Tenant{a, b} {
		if err := tenants.AddMembership(ctx, db, tn.ID, member, "lis"); err != nil {
			t.Fatal(err)
		}
	}
	if err := tenants.AddMembership(ctx, db, a.ID, member, "leder"); err != nil {
		t.Fatal(err)
	}
	if err := tenants.GrantPlatformRole(ctx, testenv.Get(t).Owner, member, tenants.RoleHdir, ""); err != nil {
		t.Fatal(err)
	}
	ms, prs, err = tenants.AccessOf(ctx, db, member)
	if err != nil || len(ms) != 2 || ms[0].Tenant.ID != b.ID || ms[1].Tenant.ID != a.ID || len(ms[1].Roles) != 2 ||
		len(prs) != 1 || prs[0].Role != tenants.RoleHdir || prs[0].RHF != "" {
		t.Fatalf("both: %+v %+v %v", ms, prs, err)
	}
	if ms, prs, err := tenants.AccessOf(ctx, db, nobody); err != nil || len(ms) != 0 || len(prs) != 0 {
		t.Fatalf("neither: %+v %+v %v", ms, prs, err)
	}
}

// A lookup that finds nothing and reaches a log names the function that ran
// it; callers still recognise it as sql.ErrNoRows.
func TestHardeningNoRowsNamesItsStore(t *testing.T) {
	db := testenv.Get(t).App
	tn := newTenant(t, db, "Helse Tom HF")
	lookup := func(ctx context.Context) error {
		return tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: tn.ID}, func(ctx context.Context, tx bun.Tx) error {
			var role string
			return tx.NewRaw("SELECT role FROM memberships WHERE false").Scan(ctx, &role)
		})
	}
	if err := lookup(context.Background()); !errors.Is(err, sql.ErrNoRows) || !strings.Contains(err.Error(), "TestHardeningNoRowsNamesItsStore") {
		t.Fatalf("alone: %v", err)
	}
	err := tenants.OneTx(context.Background(), db, tenants.Scope{TenantID: tn.ID}, lookup)
	if !errors.Is(err, sql.ErrNoRows) || !strings.Contains(err.Error(), "TestHardeningNoRowsNamesItsStore") || strings.Count(err.Error(), "TestHardening") != 1 {
		t.Fatalf("inside OneTx: %v", err)
	}
}
