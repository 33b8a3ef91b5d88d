package registrations

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/apperr"
	"kportal/storage/testenv"
	"kportal/tenants"
)

// isolationFixture: kommune A has a sent registration with history, kommune
// C has only a draft (and, planted directly, a history row on that draft),
// kommune B has nothing.
type isolationFixture struct {
	a, b, c      *tenants.Tenant
	regA, draftC *Registration
}

func newIsolationFixture(t *testing.T, env *testenv.Env, s *Store) *isolationFixture {
	t.Helper()
	ctx := context.Background()
	f := &isolationFixture{
		a: newTenant(t, env.App, "Kommune A", tenants.KindKommune),
		b: newTenant(t, env.App, "Kommune B", tenants.KindKommune),
		c: newTenant(t, env.App, "Kommune C", tenants.KindKommune),
	}
	adm := admin(t, env.App)
	var err error
	if f.regA, err = s.Submit(ctx, adm, f.a.ID, validContent()); err != nil {
		t.Fatal(err)
	}
	if f.draftC, err = s.SaveDraft(ctx, adm, f.c.ID, validContent()); err != nil {
		t.Fatal(err)
	}
	err = tenants.WithTenantTx(ctx, env.App, tenants.Scope{TenantID: f.c.ID}, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.NewInsert().Model(&Event{TenantID: f.c.ID, RegistrationID: f.draftC.ID, ID: uuid.New(), Kind: Submitted,
			FromState: Draft, ToState: Submitted, ActorName: "Plantet", ActorRole: "tenant_admin"}).Value("created_at", "now()").Exec(ctx)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func countRows(t *testing.T, ctx context.Context, tx bun.Tx, table string, tenantID uuid.UUID) int {
	t.Helper()
	var n int
	if err := tx.NewRaw("SELECT count(*) FROM ? WHERE tenant_id = ?", bun.Ident(table), tenantID).Scan(ctx, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestIsolationRegistrations(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	s := NewStore(env.App)
	f := newIsolationFixture(t, env, s)

	t.Run("the owning tenant sees its registration and history", func(t *testing.T) {
		err := tenants.WithTenantTx(ctx, env.App, tenants.Scope{TenantID: f.a.ID}, func(ctx context.Context, tx bun.Tx) error {
			if n := countRows(t, ctx, tx, "registrations", f.a.ID); n != 1 {
				t.Errorf("own registrations: %d", n)
			}
			if n := countRows(t, ctx, tx, "registration_events", f.a.ID); n != 1 {
				t.Errorf("own events: %d", n)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("another tenant cannot read, update or delete a registration or its events", func(t *testing.T) {
		// As the application role: reads and updates find nothing; deletes
		// (and history updates) are not even granted.
		err := tenants.WithTenantTx(ctx, env.App, tenants.Scope{TenantID: f.b.ID}, func(ctx context.Context, tx bun.Tx) error {
			for _, table := range []string{"registrations", "registration_events"} {
				if n := countRows(t, ctx, tx, table, f.a.ID); n != 0 {
					t.Errorf("tenant B sees %d of A's %s", n, table)
				}
			}
			res, err := tx.NewRaw("UPDATE registrations SET state = 'approved', decided_at = now() WHERE tenant_id = ? RETURNING id", f.a.ID).Exec(ctx)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 0 {
				t.Errorf("tenant B updated %d of A's registrations", n)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, stmt := range []string{
			"DELETE FROM registrations WHERE tenant_id = ?",
			"DELETE FROM registration_events WHERE tenant_id = ?",
			"UPDATE registration_events SET comment = 'endret' WHERE tenant_id = ?",
		} {
			err := tenants.WithTenantTx(ctx, env.App, tenants.Scope{TenantID: f.b.ID}, func(ctx context.Context, tx bun.Tx) error {
				_, err := tx.ExecContext(ctx, stmt, f.a.ID)
				return err
			})
			if err == nil {
				t.Errorf("the application may run %q", stmt)
			}
		}
		// As the owner role, which holds every privilege but is bound by the
		// forced policies too: the rows are out of reach all the same.
		err = tenants.WithTenantTx(ctx, env.Owner, tenants.Scope{TenantID: f.b.ID}, func(ctx context.Context, tx bun.Tx) error {
			for _, stmt := range []string{
				"UPDATE registrations SET state = 'approved' WHERE tenant_id = ?",
				"DELETE FROM registration_events WHERE tenant_id = ?",
				"UPDATE registration_events SET comment = 'endret' WHERE tenant_id = ?",
				"DELETE FROM registrations WHERE tenant_id = ?",
			} {
				res, err := tx.ExecContext(ctx, stmt, f.a.ID)
				if err != nil {
					return err
				}
				if n, _ := res.RowsAffected(); n != 0 {
					t.Errorf("%q in tenant B's scope touched %d rows", stmt, n)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// Nor can B write rows in A's name.
		err = tenants.WithTenantTx(ctx, env.App, tenants.Scope{TenantID: f.b.ID}, func(ctx context.Context, tx bun.Tx) error {
			_, err := tx.NewInsert().Model(&Event{TenantID: f.a.ID, RegistrationID: f.regA.ID, ID: uuid.New(), Kind: Approved,
				FromState: Submitted, ToState: Approved, ActorName: "B", ActorRole: "hdir"}).Value("created_at", "now()").Exec(ctx)
			return err
		})
		if err == nil {
			t.Error("tenant B wrote a history row for A's registration")
		}
		if cur, evs := mustCurrent(t, s, f.a.ID); cur.State != Submitted || len(evs) != 1 || evs[0].Comment != "" {
			t.Fatalf("A's registration changed: %s, %+v", cur.State, evs)
		}
	})

	t.Run("a transaction without the review flag sees no other tenant's rows", func(t *testing.T) {
		for name, scope := range map[string]tenants.Scope{
			"no tenant":      {},
			"a person only":  {PersonID: newPerson(t, env.App)},
			"another tenant": {TenantID: f.b.ID},
		} {
			err := tenants.WithTenantTx(ctx, env.App, scope, func(ctx context.Context, tx bun.Tx) error {
				var n int
				if err := tx.NewRaw("SELECT (SELECT count(*) FROM registrations) + (SELECT count(*) FROM registration_events)").Scan(ctx, &n); err != nil {
					return err
				}
				if n != 0 {
					t.Errorf("%s: sees %d registration rows", name, n)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		// The flag is the exact value 'on'.
		err := tenants.WithTenantTx(ctx, env.App, tenants.Scope{}, func(ctx context.Context, tx bun.Tx) error {
			if _, err := tx.ExecContext(ctx, "SELECT set_config('app.national_review', 'yes', true)"); err != nil {
				return err
			}
			var n int
			if err := tx.NewRaw("SELECT count(*) FROM registrations").Scan(ctx, &n); err != nil || n != 0 {
				t.Errorf("app.national_review='yes' sees %d rows (%v)", n, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("with the review flag, drafts stay invisible and nothing can be written", func(t *testing.T) {
		reviewer := newPerson(t, env.App)
		err := withReviewTx(ctx, env.App, reviewer, func(ctx context.Context, tx bun.Tx) error {
			if n := countRows(t, ctx, tx, "registrations", f.a.ID); n != 1 {
				t.Errorf("review sees %d of A's sent registrations, want 1", n)
			}
			if n := countRows(t, ctx, tx, "registration_events", f.a.ID); n != 1 {
				t.Errorf("review sees %d of A's history rows, want 1", n)
			}
			if n := countRows(t, ctx, tx, "registrations", f.c.ID); n != 0 {
				t.Errorf("review sees C's draft")
			}
			if n := countRows(t, ctx, tx, "registration_events", f.c.ID); n != 0 {
				t.Errorf("review sees the history of C's draft")
			}
			res, err := tx.NewRaw("UPDATE registrations SET state = 'approved' WHERE tenant_id IN (?, ?) RETURNING id", f.a.ID, f.c.ID).Exec(ctx)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 0 {
				t.Errorf("the review flag alone updated %d registrations", n)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		err = withReviewTx(ctx, env.App, reviewer, func(ctx context.Context, tx bun.Tx) error {
			_, err := tx.NewInsert().Model(&Event{TenantID: f.a.ID, RegistrationID: f.regA.ID, ID: uuid.New(), Kind: Approved,
				FromState: Submitted, ToState: Approved, ActorName: "Uten leietaker", ActorRole: "hdir"}).Value("created_at", "now()").Exec(ctx)
			return err
		})
		if err == nil {
			t.Error("the review flag alone wrote a history row")
		}
		// The flag ends with its transaction: the pooled connection keeps nothing.
		for i := 0; i < 3; i++ {
			var n int
			if err := env.App.NewRaw("SELECT count(*) FROM registrations").Scan(ctx, &n); err != nil || n != 0 {
				t.Fatalf("after the review transaction a plain query sees %d rows (%v)", n, err)
			}
		}
		q, err := s.Queue(ctx, reviewer)
		if err != nil {
			t.Fatal(err)
		}
		var sawA bool
		for _, x := range q {
			sawA = sawA || x.ID == f.regA.ID
			if x.ID == f.draftC.ID || x.State == Draft {
				t.Errorf("the queue shows a draft: %+v", x)
			}
		}
		if !sawA {
			t.Error("the queue misses A's sent registration")
		}
		if _, _, err := s.Review(ctx, reviewer, f.c.ID, f.draftC.ID); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("reviewing C's draft: %v", err)
		}
		if _, _, err := s.Review(ctx, reviewer, f.b.ID, f.regA.ID); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("A's registration under B's id: %v", err)
		}
		if r, evs, err := s.Review(ctx, reviewer, f.a.ID, f.regA.ID); err != nil || r.ID != f.regA.ID || len(evs) != 1 {
			t.Errorf("reviewing A's registration: %v %v %v", r, evs, err)
		}
	})
}
