package catalog_test

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/catalog"
	"kportal/storage/testenv"
	"kportal/tenants"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The shipped files read cleanly: 101 LIS1 codes without texts, procedures
// with their source, courses; rows without codes are notes, not errors.
func TestReadShippedCatalog(t *testing.T) {
	s, err := catalog.Read(catalog.Data())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Bad) != 0 {
		t.Fatalf("bad rows in shipped data: %v", s.Bad)
	}
	plans := map[string]int{}
	for _, g := range s.Goals {
		plans[g.Plan]++
		if g.Text != nil {
			t.Fatalf("goal %s has a text %q: the shipped data has none", g.Code, *g.Text)
		}
	}
	if len(s.Goals) != 101 || plans["KLS"] != 45 || plans["KLP"] != 16 || plans["KLK"] != 40 {
		t.Fatalf("goals: %d %v", len(s.Goals), plans)
	}
	ort := 0
	for _, p := range s.Procedures {
		if p.Specialty == "ORT" {
			ort++
			if !strings.Contains(p.Source, "procedures-ortopedisk-kirurgi.csv") {
				t.Fatalf("source not kept: %+v", p)
			}
		}
	}
	if ort != 11 || len(s.Activities) != 30 || len(s.Specialties) != 37 {
		t.Fatalf("ORT procedures %d, activities %d, specialties %d", ort, len(s.Activities), len(s.Specialties))
	}
	if len(s.Warnings) == 0 {
		t.Fatal("rows without codes should be noted")
	}
}

// Every bad row is reported with file, line and reason, and nothing is imported.
func TestImportBadRowsReported(t *testing.T) {
	fsys := fstest.MapFS{
		"goals.csv": {Data: []byte(catalog.GoalsCSVHeader + "\n" +
			"KLK-001,Tekst,KLK,del1,,2020-03-01,\n" +
			"klk 2,Tekst,KLK,del1,,,\n" +
			"KLK-003,Tekst,,del1,,,\n" +
			"KLK-001,Igjen,KLK,del1,,,\n" +
			"KLK-005,Tekst,KLK,del1,,1.3.2020,\n")},
		"procedures-ORT.csv": {Data: []byte("number,procedure,assisted,assisted_or_performed,performed\n1,Brudd,x,,\n")},
	}
	s, err := catalog.Read(fsys)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"goals.csv linje 3", "goals.csv linje 4: plan mangler", "goals.csv linje 5: målkoden KLK-001 står også i goals.csv linje 2", "goals.csv linje 6: gyldig fra", "procedures-ORT.csv linje 2: antall"}
	if len(s.Bad) != len(want) {
		t.Fatalf("bad rows: %v", s.Bad)
	}
	for i, w := range want {
		if !strings.HasPrefix(s.Bad[i].String(), w) {
			t.Errorf("problem %d: %q, want prefix %q", i, s.Bad[i], w)
		}
	}
	db := testenv.Get(t).App
	if _, err := catalog.Import(context.Background(), db, s, "bad-"+uuid.NewString()[:6], "", uuid.Nil); err == nil {
		t.Fatal("import with bad rows succeeded")
	}
	var n int
	_ = db.NewRaw("SELECT count(*) FROM catalog_versions WHERE label LIKE 'bad-%'").Scan(context.Background(), &n)
	if n != 0 {
		t.Fatalf("%d versions created by a refused import", n)
	}
}

type fixture struct {
	db          bun.IDB
	v1, v2      int
	tenant, lis uuid.UUID
}

func ptr(s string) *string { return &s }

// newVersions publishes v1 with four goals and v2 where A is stricter, B
// changed but not stricter, C unchanged and D new.
func newVersions(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	db := testenv.Get(t).App
	f := &fixture{db: db}
	p := "T" + strings.ToUpper(uuid.NewString()[:4])
	g := func(code, text string) catalog.Goal {
		return catalog.Goal{Code: p + "-" + code, Text: ptr(text), Plan: p}
	}
	s1 := &catalog.Set{Goals: []catalog.Goal{g("A", "a"), g("B", "b"), g("C", "c")}}
	r, err := catalog.Import(ctx, db, s1, p+"-1", "", uuid.Nil)
	if err != nil {
		t.Fatal(err)
	}
	f.v1 = r.VersionID
	if err := catalog.Publish(ctx, db, f.v1, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	s2 := &catalog.Set{Goals: []catalog.Goal{g("A", "a, skjerpet"), g("B", "b, omformulert"), g("D", "d")}}
	r, err = catalog.Import(ctx, db, s2, p+"-2", "", uuid.Nil)
	if err != nil {
		t.Fatal(err)
	}
	f.v2 = r.VersionID
	if r.Changed != 2 || r.New != 1 || r.CarriedOver < 1 {
		t.Fatalf("import result: %+v", r)
	}
	ch, err := catalog.Changes(ctx, db, f.v2)
	if err != nil || len(ch) != 2 || *ch[0].Old.Text != "a" || *ch[0].New.Text != "a, skjerpet" {
		t.Fatalf("changes: %+v %v", ch, err)
	}
	if err := catalog.Publish(ctx, db, f.v2, time.Now()); err == nil {
		t.Fatal("published with unmarked changes")
	}
	if err := catalog.MarkStricter(ctx, db, f.v2, p+"-A", true); err != nil {
		t.Fatal(err)
	}
	if err := catalog.MarkStricter(ctx, db, f.v2, p+"-C", true); err == nil {
		t.Fatal("marked an unchanged goal")
	}
	if err := catalog.MarkStricter(ctx, db, f.v2, p+"-B", false); err != nil {
		t.Fatal(err)
	}
	if err := catalog.Publish(ctx, db, f.v2, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := catalog.MarkStricter(ctx, db, f.v2, p+"-B", true); err == nil {
		t.Fatal("changed a published version")
	}
	tn := &tenants.Tenant{Slug: "c-" + uuid.NewString()[:8], Name: "Migrering HF", Kind: tenants.KindHF}
	if err := tenants.Create(ctx, db, tn); err != nil {
		t.Fatal(err)
	}
	f.tenant = tn.ID
	if err := db.NewRaw("INSERT INTO people (identity_id, email) VALUES (?, ?) RETURNING id", uuid.New(), testenv.UniqueEmail("lis")).Scan(ctx, &f.lis); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestMigrate(t *testing.T) {
	f := newVersions(t)
	ctx := context.Background()
	var prefix string
	_ = f.db.NewRaw("SELECT split_part(label, '-', 1) FROM catalog_versions WHERE id = ?", f.v1).Scan(ctx, &prefix)
	cases := []struct {
		code, status string
		wantStatus   string
		wantEvent    bool
		wantHistory  bool
	}{
		{"A", "approved", "open", true, true},       // stricter: assess again
		{"B", "approved", "approved", false, false}, // changed, not stricter
		{"C", "approved", "approved", false, false}, // unchanged
		{"A", "sent", "sent", false, false},         // stricter, but not approved yet
		{"D", "approved", "approved", false, false}, // new in v2: nothing to compare
		{"D", "open", "open", false, false},
	}
	for _, c := range cases {
		t.Run(c.code+"-"+c.status, func(t *testing.T) {
			lis := uuid.Nil
			if err := f.db.NewRaw("INSERT INTO people (identity_id, email) VALUES (?, ?) RETURNING id", uuid.New(), testenv.UniqueEmail("lis")).Scan(ctx, &lis); err != nil {
				t.Fatal(err)
			}
			code := prefix + "-" + c.code
			err := tenants.WithTenantTx(ctx, f.db, tenants.Scope{TenantID: f.tenant}, func(ctx context.Context, tx bun.Tx) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO goal_progress (tenant_id, lis_id, goal_code, version_id, status, decided_at, decision_note, basis)
					VALUES (?, ?, ?, ?, ?, now(), 'Godt dokumentert', '{"activities": 3}')`, f.tenant, lis, code, f.v1, c.status)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := catalog.Migrate(ctx, f.db.(*bun.DB), f.tenant, lis, f.v2); err != nil {
				t.Fatal(err)
			}
			var got struct {
				Status  string `bun:"status"`
				Version int    `bun:"version_id"`
				Note    string `bun:"decision_note"`
				Basis   string `bun:"basis"`
				Events  int    `bun:"events"`
			}
			err = tenants.WithTenantTx(ctx, f.db, tenants.Scope{TenantID: f.tenant}, func(ctx context.Context, tx bun.Tx) error {
				return tx.NewRaw(`SELECT status, version_id, decision_note, coalesce(basis::text, '') AS basis,
					(SELECT count(*) FROM outbox WHERE recipient_id = ? AND topic = 'goal.reassess' AND payload->>'goal_code' = ?) AS events
					FROM goal_progress WHERE lis_id = ?`, lis, code, lis).Scan(ctx, &got)
			})
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != c.wantStatus || got.Version != f.v2 || (got.Events == 1) != c.wantEvent {
				t.Fatalf("after migrating: %+v", got)
			}
			hist := strings.Contains(got.Basis, "previous_approval") && strings.Contains(got.Basis, `"activities": 3`) && strings.Contains(got.Note, "Godt dokumentert")
			if hist != c.wantHistory {
				t.Fatalf("history kept %v, want %v: %+v", hist, c.wantHistory, got)
			}
		})
	}
	t.Run("skipping a version", func(t *testing.T) {
		// v3 leaves A as it is, but A became stricter in v2: an approval from
		// v1 moved straight to v3 is still assessed again.
		r, err := catalog.Import(ctx, f.db, &catalog.Set{Goals: []catalog.Goal{{Code: prefix + "-F", Plan: prefix}}}, prefix+"-skip", "", uuid.Nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := catalog.Publish(ctx, f.db, r.VersionID, time.Now()); err != nil {
			t.Fatal(err)
		}
		lis := uuid.Nil
		if err := f.db.NewRaw("INSERT INTO people (identity_id, email) VALUES (?, ?) RETURNING id", uuid.New(), testenv.UniqueEmail("lis")).Scan(ctx, &lis); err != nil {
			t.Fatal(err)
		}
		var status string
		err = tenants.WithTenantTx(ctx, f.db, tenants.Scope{TenantID: f.tenant}, func(ctx context.Context, tx bun.Tx) error {
			if _, err := tx.ExecContext(ctx, "INSERT INTO goal_progress (tenant_id, lis_id, goal_code, version_id, status) VALUES (?, ?, ?, ?, 'approved')", f.tenant, lis, prefix+"-A", f.v1); err != nil {
				return err
			}
			if err := catalog.Migrate(ctx, tx, f.tenant, lis, r.VersionID); err != nil {
				return err
			}
			return tx.NewRaw("SELECT status FROM goal_progress WHERE lis_id = ?", lis).Scan(ctx, &status)
		})
		if err != nil || status != "open" {
			t.Fatalf("after skipping v2: %q %v", status, err)
		}
	})
	t.Run("plan assignment follows", func(t *testing.T) {
		var active, archived int
		err := tenants.WithTenantTx(ctx, f.db, tenants.Scope{TenantID: f.tenant}, func(ctx context.Context, tx bun.Tx) error {
			var tpl uuid.UUID
			if err := tx.NewRaw("INSERT INTO plan_templates (tenant_id, name, specialty, version_id) VALUES (?, 'T', 'LIS1', ?) RETURNING id", f.tenant, f.v1).Scan(ctx, &tpl); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO plan_assignments (tenant_id, lis_id, template_id, version_id, archived_at) VALUES (?, ?, ?, ?, now())", f.tenant, f.lis, tpl, f.v1); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO plan_assignments (tenant_id, lis_id, template_id, version_id) VALUES (?, ?, ?, ?)", f.tenant, f.lis, tpl, f.v1); err != nil {
				return err
			}
			if err := catalog.Migrate(ctx, tx, f.tenant, f.lis, f.v2); err != nil {
				return err
			}
			if err := tx.NewRaw("SELECT version_id FROM plan_assignments WHERE lis_id = ? AND archived_at IS NULL", f.lis).Scan(ctx, &active); err != nil {
				return err
			}
			return tx.NewRaw("SELECT version_id FROM plan_assignments WHERE lis_id = ? AND archived_at IS NOT NULL", f.lis).Scan(ctx, &archived)
		})
		if err != nil || active != f.v2 || archived != f.v1 {
			t.Fatalf("assignment versions: active %d archived %d (v1 %d, v2 %d) %v", active, archived, f.v1, f.v2, err)
		}
	})
	t.Run("new goal and draft target", func(t *testing.T) {
		// A new goal (D) has no progress to move; migrating again is a no-op,
		// and a draft version is refused.
		if err := catalog.Migrate(ctx, f.db.(*bun.DB), f.tenant, f.lis, f.v2); err != nil {
			t.Fatal(err)
		}
		r, err := catalog.Import(ctx, f.db, &catalog.Set{Goals: []catalog.Goal{{Code: prefix + "-E", Plan: prefix}}}, prefix+"-3", "", uuid.Nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := catalog.Migrate(ctx, f.db.(*bun.DB), f.tenant, f.lis, r.VersionID); err == nil {
			t.Fatal("migrated to a draft")
		}
		goals, _ := catalog.Goals(ctx, f.db, r.VersionID, prefix)
		var e *catalog.Goal
		for i := range goals {
			if goals[i].Code == prefix+"-E" {
				e = &goals[i]
			}
		}
		if len(goals) != 6 || e == nil || e.Text != nil || e.TextOrNote() != "offisiell tekst ikke lastet inn" {
			t.Fatalf("draft 3 goals: %+v", goals)
		}
	})
}

func TestImportShippedAndPublish(t *testing.T) {
	ctx := context.Background()
	db := testenv.Get(t).App
	s, err := catalog.Read(catalog.Data())
	if err != nil {
		t.Fatal(err)
	}
	r, err := catalog.Import(ctx, db, s, "ship-"+uuid.NewString()[:6], "", uuid.Nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := catalog.Publish(ctx, db, r.VersionID, time.Now()); err != nil {
		t.Fatal(err)
	}
	ps, err := catalog.Procedures(ctx, db, r.VersionID, "ORT")
	if err != nil || len(ps) != 11 {
		t.Fatalf("ORT procedures: %d %v", len(ps), err)
	}
	goals, err := catalog.Goals(ctx, db, r.VersionID, "KLK")
	if err != nil || len(goals) != 40 || goals[0].Text != nil {
		t.Fatalf("KLK goals: %d %v", len(goals), err)
	}
}
