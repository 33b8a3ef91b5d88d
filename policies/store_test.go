package policies_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun/dialect/pgdialect"

	"kportal/policies"
	"kportal/storage/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// stored lists the rules in casbin_rules as "ptype v0 v1 ...", sorted.
func stored(t *testing.T, env *testenv.Env) []string {
	t.Helper()
	var rows []string
	err := env.Owner.NewRaw(`SELECT rtrim(concat_ws(' ', ptype, v0, v1, v2, v3, v4, v5)) FROM casbin_rules ORDER BY 1`).
		Scan(context.Background(), &rows)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func clearRules(t *testing.T, env *testenv.Env) {
	t.Helper()
	if _, err := env.Owner.ExecContext(context.Background(), "DELETE FROM casbin_rules"); err != nil {
		t.Fatal(err)
	}
}

// loaded is what LoadPolicy gives a fresh model, in stored's format.
func loaded(t *testing.T, a *policies.Adapter) []string {
	t.Helper()
	m, err := policies.NewModel()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.LoadPolicy(m); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, sec := range []string{"p", "g"} {
		rules, _ := m.GetPolicy(sec, sec)
		for _, r := range rules {
			out = append(out, sec+" "+strings.Join(r, " "))
		}
	}
	slices.Sort(out)
	return out
}

func TestAdapterRoundTrip(t *testing.T) {
	env := testenv.Get(t)
	clearRules(t, env)
	a := policies.NewAdapter(env.App) // the application role: its grants suffice

	m, _ := policies.NewModel()
	_ = m.AddPolicy("p", "p", []string{"leder", "*", "goal", "approve"})
	_ = m.AddPolicy("p", "p", []string{"lis", "*", "activity", "create"})
	_ = m.AddPolicy("g", "g", []string{"per", "leder", "t1"})
	if err := a.SavePolicy(m); err != nil {
		t.Fatal(err)
	}
	want := []string{"g per leder t1", "p leder * goal approve", "p lis * activity create"}
	if got := loaded(t, a); !slices.Equal(got, want) {
		t.Fatalf("after save, load gives %q, want %q", got, want)
	}
	if got := stored(t, env); !slices.Equal(got, want) {
		t.Fatalf("after save, table holds %q, want %q", got, want)
	}

	steps := []struct {
		name string
		do   func() error
		want []string
	}{
		{"add", func() error { return a.AddPolicy("g", "g", []string{"kari", "lis", "t1"}) },
			[]string{"g kari lis t1", "g per leder t1", "p leder * goal approve", "p lis * activity create"}},
		{"add again is a no-op", func() error { return a.AddPolicy("g", "g", []string{"kari", "lis", "t1"}) },
			[]string{"g kari lis t1", "g per leder t1", "p leder * goal approve", "p lis * activity create"}},
		{"add many", func() error {
			return a.AddPolicies("g", "g", [][]string{{"kari", "lis", "t2"}, {"ola", "supervisor", "t1"}, {"ola", "supervisor", "t2"}})
		}, []string{"g kari lis t1", "g kari lis t2", "g ola supervisor t1", "g ola supervisor t2", "g per leder t1",
			"p leder * goal approve", "p lis * activity create"}},
		{"remove", func() error { return a.RemovePolicy("p", "p", []string{"lis", "*", "activity", "create"}) },
			[]string{"g kari lis t1", "g kari lis t2", "g ola supervisor t1", "g ola supervisor t2", "g per leder t1",
				"p leder * goal approve"}},
		{"remove many", func() error {
			return a.RemovePolicies("g", "g", [][]string{{"kari", "lis", "t2"}, {"nobody", "lis", "t2"}})
		}, []string{"g kari lis t1", "g ola supervisor t1", "g ola supervisor t2", "g per leder t1", "p leder * goal approve"}},
		{"remove filtered by tenant", func() error { return a.RemoveFilteredPolicy("g", "g", 2, "t1") },
			[]string{"g ola supervisor t2", "p leder * goal approve"}},
		{"remove filtered, empty value matches any", func() error { return a.RemoveFilteredPolicy("g", "g", 0, "ola", "") },
			[]string{"p leder * goal approve"}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := loaded(t, a); !slices.Equal(got, s.want) {
			t.Fatalf("%s: load gives %q, want %q", s.name, got, s.want)
		}
	}
}

var moduleRules = []policies.Rule{
	{Role: "supervisor", Object: "activity", Action: "sign"},
	{Role: "leder", Object: "goal", Action: "approve"},
}

// waitFor polls cond for up to one second.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > time.Second {
			t.Fatalf("%s: not seen within 1 s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("%s: seen after %s", what, time.Since(start).Round(time.Millisecond))
}

func allowed(t *testing.T, x *policies.Enforcer, person, tenant, obj, act string) bool {
	t.Helper()
	ok, err := x.Allowed(person, nil, tenant, obj, act)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestWatcherTwoEnforcers(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	clearRules(t, env)
	// Left by an older release: a rule no module declares any more.
	if _, err := env.Owner.ExecContext(ctx,
		"INSERT INTO casbin_rules (ptype, v0, v1, v2, v3) VALUES ('p', 'lis', '*', 'goal', 'approve'), ('g', 'per', 'leder', 't1', '')"); err != nil {
		t.Fatal(err)
	}

	a, err := policies.Open(ctx, env.App, env.AppDSN, moduleRules, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := policies.Open(ctx, env.App, env.AppDSN, moduleRules, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	want := []string{"g per leder t1", "p leder * goal approve", "p supervisor * activity sign"}
	if got := stored(t, env); !slices.Equal(got, want) {
		t.Fatalf("after Open the table holds %q, want %q (module rules synced, stale p rule gone, g kept)", got, want)
	}
	if allowed(t, a, "kari", "t1", "goal", "approve") || !allowed(t, a, "per", "t1", "goal", "approve") {
		t.Fatal("loaded policy is wrong")
	}

	if err := a.AssignInTenant("kari", "supervisor", "t1"); err != nil {
		t.Fatal(err)
	}
	if !allowed(t, a, "kari", "t1", "activity", "sign") {
		t.Fatal("the assigning instance must see its assignment at once")
	}
	waitFor(t, "assignment on a reaches b", func() bool { return allowed(t, b, "kari", "t1", "activity", "sign") })
	if allowed(t, b, "kari", "t2", "activity", "sign") {
		t.Fatal("an assignment holds only in its tenant")
	}

	if err := a.Unassign("kari", "supervisor", "t1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "removal on a reaches b", func() bool { return !allowed(t, b, "kari", "t1", "activity", "sign") })

	if err := b.AssignInTenant("ola", "leder", "t2"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "assignment on b reaches a", func() bool { return allowed(t, a, "ola", "t2", "goal", "approve") })

	// A change by anyone else (SQL by hand) reaches both.
	if _, err := env.Owner.ExecContext(ctx, "DELETE FROM casbin_rules WHERE ptype = 'g' AND v0 = 'per'"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "SQL removal reaches a and b", func() bool {
		return !allowed(t, a, "per", "t1", "goal", "approve") && !allowed(t, b, "per", "t1", "goal", "approve")
	})
	if got := stored(t, env); !slices.Equal(got, []string{"g ola leder t2", "p leder * goal approve", "p supervisor * activity sign"}) {
		t.Fatalf("table holds %q", got)
	}
}

// A dropped LISTEN connection is reopened, and changes flow again.
func TestWatcherReconnects(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	clearRules(t, env)
	a, err := policies.Open(ctx, env.App, env.AppDSN, moduleRules, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := policies.Open(ctx, env.App, env.AppDSN, moduleRules, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	listeners := func() (pids []int) {
		err := env.App.NewRaw(`SELECT pid FROM pg_stat_activity
			WHERE datname = current_database() AND query = 'LISTEN kportal_policy' ORDER BY pid`).Scan(ctx, &pids)
		if err != nil {
			t.Fatal(err)
		}
		return pids
	}
	before := listeners()
	if len(before) != 2 {
		t.Fatalf("want 2 listening connections, found %v", before)
	}
	if _, err := env.App.ExecContext(ctx, "SELECT pg_terminate_backend(pid) FROM unnest(?::int[]) AS pid", pgdialect.Array(before)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		now := listeners()
		if len(now) == 2 && !slices.Contains(before, now[0]) && !slices.Contains(before, now[1]) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("watchers did not listen again within 5 s: %v (before %v)", now, before)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := a.AssignInTenant("kari", "supervisor", "t1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "assignment after reconnect", func() bool { return allowed(t, b, "kari", "t1", "activity", "sign") })
}
