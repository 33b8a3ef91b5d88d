package chain_test

import (
	"context"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/activities"
	"kportal/modules/chain"
	"kportal/modules/goals"
	"kportal/storage/testenv"
	"kportal/tenants"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// world: Kari is LIS at two hospitals; Ola supervises her at the first, Per
// and Hilde are her leder at the first and the second.
type world struct {
	db             bun.IDB
	a, b           *tenants.Tenant
	kari, ola, per uuid.UUID
	hilde          uuid.UUID
	version        int
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	db := testenv.Get(t).App
	w := &world{db: db}
	w.a = testenv.NewTenant(t, db, &tenants.Tenant{Name: "Helse Kjede HF"})
	w.b = testenv.NewTenant(t, db, &tenants.Tenant{Name: "Helse Lenke HF"})
	w.kari, w.ola = testenv.NewPerson(t, db, "Áile", "Ŋuoŧŧu"), testenv.NewPerson(t, db, "Ola", "Supervisør")
	w.per, w.hilde = testenv.NewPerson(t, db, "Per", "Leder"), testenv.NewPerson(t, db, "Hilde", "Leder")
	if err := db.NewRaw("INSERT INTO catalog_versions (label) VALUES (?) RETURNING id", "chain-"+uuid.NewString()[:8]).Scan(ctx, &w.version); err != nil {
		t.Fatal(err)
	}
	for tn, leder := range map[uuid.UUID]uuid.UUID{w.a.ID: w.per, w.b.ID: w.hilde} {
		err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: tn}, func(ctx context.Context, tx bun.Tx) error {
			sys := tenants.Actor{Name: "test"}
			if err := tenants.SetRelation(ctx, tx, tn, w.kari, tenants.RelLeder, leder, sys); err != nil {
				return err
			}
			return tenants.SetRelation(ctx, tx, tn, w.kari, tenants.RelSupervisor, w.ola, sys)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// sign has Ola sign a new procedure of Kari's in tn; it returns the signature's id.
func (w *world) sign(t *testing.T, tn uuid.UUID, title string) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	var act, sig uuid.UUID
	err := tenants.WithTenantTx(ctx, w.db, tenants.Scope{TenantID: tn}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw(`INSERT INTO activities (tenant_id, lis_id, kind, title, procedure_role, count, done_on, status, supervisor_id, requested_at)
			VALUES (?, ?, 'procedure', ?, 'performed', 2, current_date, 'requested', ?, now()) RETURNING id`, tn, w.kari, title, w.ola).Scan(ctx, &act)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := activities.NewStore(w.db).Decide(ctx, tn, tenants.Actor{PersonID: w.ola, Name: "Ola"}, activities.DecisionSigned, []activities.Decision{{ActivityID: act, Comment: "Fint"}}); err != nil {
		t.Fatal(err)
	}
	err = tenants.WithTenantTx(ctx, w.db, tenants.Scope{TenantID: tn}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw("SELECT id FROM signatures WHERE tenant_id = ? AND activity_id = ?", tn, act).Scan(ctx, &sig)
	})
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// decide sends a goal of Kari's in tn to leder, who decides it.
func (w *world) decide(t *testing.T, tn, leder uuid.UUID, code, outcome string) uuid.UUID {
	t.Helper()
	id, err := w.tryDecide(tn, leder, code, outcome)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (w *world) tryDecide(tn, leder uuid.UUID, code, outcome string) (uuid.UUID, error) {
	ctx := context.Background()
	var id uuid.UUID
	err := tenants.WithTenantTx(ctx, w.db, tenants.Scope{TenantID: tn}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw(`INSERT INTO goal_progress (tenant_id, lis_id, goal_code, version_id, status, completed_on, sent_to, sent_at)
			VALUES (?, ?, ?, ?, 'sent', current_date, ?, now()) RETURNING id`, tn, w.kari, code, w.version, leder).Scan(ctx, &id)
	})
	if err != nil {
		return id, err
	}
	_, err = goals.NewStore(w.db).Decide(ctx, tn, tenants.Actor{PersonID: leder, Name: "Leder"}, id, goals.Decision{Outcome: outcome, Note: "Notat", ConfirmMissing: true})
	return id, err
}

func (w *world) head(t *testing.T) *chain.Link {
	t.Helper()
	var h *chain.Link
	err := tenants.OwnRecordTx(context.Background(), w.db, w.kari, func(ctx context.Context, tx bun.Tx) error {
		var err error
		h, err = chain.Head(ctx, tx, w.kari)
		return err
	})
	if err != nil || h == nil {
		t.Fatalf("head: %v %v", h, err)
	}
	return h
}

func verify(t *testing.T, db bun.IDB, l *chain.Link) *chain.Result {
	t.Helper()
	code, ok := chain.ParseCode(l.Code())
	if !ok {
		t.Fatalf("code %q does not parse", l.Code())
	}
	res, err := chain.Verify(context.Background(), db, code)
	if err != nil || res == nil {
		t.Fatalf("verify %s: %v %v", l.Code(), res, err)
	}
	return res
}

// behind changes rows as the owner, with row security lifted for the
// moment: what someone with the database, not kportal, could do. It fails
// the test unless the statement changed a row.
func behind(t *testing.T, q string, args ...any) {
	t.Helper()
	ctx := context.Background()
	err := testenv.Get(t).Owner.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		tables := []string{"signatures", "goal_progress", "record_chain", "activities"}
		for _, tb := range tables {
			if _, err := tx.ExecContext(ctx, "ALTER TABLE "+tb+" NO FORCE ROW LEVEL SECURITY"); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			t.Errorf("changed no row: %s", q)
		}
		for _, tb := range tables {
			if _, err := tx.ExecContext(ctx, "ALTER TABLE "+tb+" FORCE ROW LEVEL SECURITY"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The chain runs across tenants; changing what was signed or approved behind
// kportal's back (the owner connection, no row security) makes it invalid,
// and putting it back makes it valid again.
func TestTamperDetectedInChain(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	sig := w.sign(t, w.a.ID, "Artroskopi")
	w.sign(t, w.a.ID, "Gipsing")
	goal := w.decide(t, w.a.ID, w.per, "KLS-001", goals.Approve)
	w.decide(t, w.b.ID, w.hilde, "KLS-002", goals.Reject)
	first := w.head(t)
	w.decide(t, w.b.ID, w.hilde, "KLS-003", goals.Approve)
	head := w.head(t)
	if head.Seq != 5 || head.LisID != w.kari {
		t.Fatalf("head after five decisions: %+v", head)
	}
	for _, l := range []*chain.Link{first, head} {
		if res := verify(t, w.db, l); !res.Valid || !res.At.Equal(l.At) {
			t.Fatalf("untouched chain at %s: %+v", l.Code(), res)
		}
	}

	t.Run("a changed snapshot of a signature", func(t *testing.T) {
		behind(t, `UPDATE signatures SET snapshot = jsonb_set(snapshot, '{count}', '20') WHERE id = ?`, sig)
		if res := verify(t, w.db, head); res.Valid {
			t.Fatal("valid after a signature's snapshot changed")
		}
		if res := verify(t, w.db, first); res.Valid {
			t.Fatal("an earlier code still valid after a signature's snapshot changed")
		}
		behind(t, `UPDATE signatures SET snapshot = jsonb_set(snapshot, '{count}', '2') WHERE id = ?`, sig)
		if res := verify(t, w.db, head); !res.Valid {
			t.Fatal("invalid once the snapshot is back")
		}
	})
	t.Run("a changed basis or decision of a goal", func(t *testing.T) {
		for _, q := range []string{
			`UPDATE goal_progress SET basis = basis || '{"extra": true}' WHERE id = ?`,
			`UPDATE goal_progress SET decided_by = decided_by, decision_note = 'Endret' WHERE id = ?`,
			`UPDATE goal_progress SET decided_at = decided_at + interval '1 day' WHERE id = ?`,
		} {
			var before string
			err := tenants.WithTenantTx(ctx, w.db, tenants.Scope{TenantID: w.a.ID}, func(ctx context.Context, tx bun.Tx) error {
				return tx.NewRaw(`SELECT row_to_json(gp)::text FROM goal_progress gp WHERE id = ?`, goal).Scan(ctx, &before)
			})
			if err != nil {
				t.Fatal(err)
			}
			behind(t, q, goal)
			if res := verify(t, w.db, head); res.Valid {
				t.Fatalf("valid after %s", q)
			}
			behind(t, `UPDATE goal_progress gp SET basis = r.basis, decision_note = r.decision_note, decided_at = r.decided_at
				FROM json_populate_record(NULL::goal_progress, ?::json) r WHERE gp.id = ?`, before, goal)
			if res := verify(t, w.db, head); !res.Valid {
				t.Fatalf("invalid once %s was undone", q)
			}
		}
	})
	t.Run("a changed link", func(t *testing.T) {
		behind(t, `UPDATE record_chain SET at = at + interval '1 second' WHERE lis_id = ? AND seq = 2`, w.kari)
		if res := verify(t, w.db, head); res.Valid {
			t.Fatal("valid after a link changed")
		}
		behind(t, `UPDATE record_chain SET at = at - interval '1 second' WHERE lis_id = ? AND seq = 2`, w.kari)
	})
	t.Run("a goal returned, sent again and approved keeps the chain valid", func(t *testing.T) {
		id := w.decide(t, w.a.ID, w.per, "KLS-004", goals.Return)
		behind(t, `UPDATE goal_progress SET status = 'sent', sent_at = now() WHERE id = ?`, id)
		if _, err := goals.NewStore(w.db).Decide(ctx, w.a.ID, tenants.Actor{PersonID: w.per, Name: "Per"}, id, goals.Decision{Outcome: goals.Approve, ConfirmMissing: true}); err != nil {
			t.Fatal(err)
		}
		if res := verify(t, w.db, w.head(t)); !res.Valid {
			t.Fatal("invalid after a return and a new decision")
		}
		// An approval written behind kportal's back after the last link is not.
		behind(t, `UPDATE goal_progress SET decided_at = now() + interval '1 hour' WHERE id = ?`, id)
		if res := verify(t, w.db, w.head(t)); res.Valid {
			t.Fatal("valid with an unchained approval")
		}
		behind(t, `UPDATE goal_progress SET status = 'returned' WHERE id = ?`, id)
	})
	t.Run("erasing a signed row keeps the chain valid", func(t *testing.T) {
		s := w.sign(t, w.b.ID, "Sutur")
		behind(t, `DELETE FROM signatures WHERE id = ?`, s)
		if res := verify(t, w.db, w.head(t)); !res.Valid {
			t.Fatal("invalid after a signed row was erased")
		}
	})
	t.Run("codes", func(t *testing.T) {
		if _, ok := chain.ParseCode("not-a-code"); ok {
			t.Fatal("parsed a bad code")
		}
		if res, err := chain.Verify(ctx, w.db, "0123456789abcdef"); res != nil || err != nil {
			t.Fatalf("an unknown code: %+v %v", res, err)
		}
	})
}

// Decisions for one LIS at once, in two tenants, queue up: the chain does not fork.
func TestTamperChainConcurrentDecisions(t *testing.T) {
	w := newWorld(t)
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			tn, leder := w.a.ID, w.per
			if i%2 == 1 {
				tn, leder = w.b.ID, w.hilde
			}
			errs[i] = func() error {
				_, err := w.tryDecide(tn, leder, "PAR-00"+string(rune('0'+i)), goals.Approve)
				return err
			}()
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	head := w.head(t)
	if head.Seq != 6 {
		t.Fatalf("six decisions, head at %d", head.Seq)
	}
	if res := verify(t, w.db, head); !res.Valid {
		t.Fatal("a forked or broken chain")
	}
}

// Another tenant neither reads a LIS's links nor writes one for another tenant.
func TestTamperChainIsolation(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.decide(t, w.a.ID, w.per, "ISO-001", goals.Approve)
	for tn, want := range map[uuid.UUID]int{w.a.ID: 1, w.b.ID: 0} {
		var n int
		err := tenants.WithTenantTx(ctx, w.db, tenants.Scope{TenantID: tn, PersonID: w.hilde}, func(ctx context.Context, tx bun.Tx) error {
			return tx.NewRaw("SELECT count(*) FROM record_chain WHERE lis_id = ?", w.kari).Scan(ctx, &n)
		})
		if err != nil || n != want {
			t.Fatalf("a tenant's transaction reads %d of the LIS's links, want its own %d: %v", n, want, err)
		}
	}
	err := tenants.WithTenantTx(ctx, w.db, tenants.Scope{TenantID: w.b.ID}, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO record_chain (lis_id, seq, kind, tenant_id, ref_id, content_hash, prev_hash, hash, at)
			VALUES (?, 99, 'goal', ?, gen_random_uuid(), repeat('a', 64), repeat('b', 64), repeat('c', 64), now())`, w.kari, w.a.ID)
		return err
	})
	if err == nil {
		t.Fatal("wrote a link for another tenant")
	}
	err = tenants.WithTenantTx(ctx, w.db, tenants.Scope{TenantID: w.a.ID}, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE record_chain SET at = now() WHERE lis_id = ?`, w.kari)
		return err
	})
	if err == nil {
		t.Fatal("the application role updated a link")
	}
}
