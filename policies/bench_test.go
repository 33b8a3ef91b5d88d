package policies

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
	"github.com/casbin/casbin/v2/persist"

	"kportal/storage/testenv"
)

// nationalRules is a realistic permission set: 45 rules over 7 roles.
var nationalRules = func() []Rule {
	byRole := map[string][]string{
		"lis":           {"activity:create", "activity:read", "activity:update", "activity:send", "goal:read", "goal:send", "plan:read", "session:read", "report:read"},
		"supervisor":    {"activity:read", "activity:sign", "session:create", "session:read"},
		"veileder":      {"activity:read", "goal:read", "plan:read", "plan:update", "session:create", "session:read", "session:update"},
		"leder":         {"goal:read", "goal:approve", "plan:read", "report:read", "person:read", "delegation:create", "delegation:delete"},
		"goal_approver": {"goal:read", "goal:approve"},
		"uao":           {"report:read", "report:export", "plan:read", "goal:read", "person:read", "agreement:read"},
		"tenant_admin":  {"person:read", "person:update", "invitation:create", "invitation:delete", "delegation:read", "agreement:read", "agreement:sign", "registration:read", "registration:update", "registration:submit"},
	}
	var out []Rule
	for _, role := range []string{"lis", "supervisor", "veileder", "leder", "goal_approver", "uao", "tenant_admin"} {
		for _, oa := range byRole[role] {
			obj, act, _ := strings.Cut(oa, ":")
			out = append(out, Rule{Role: role, Object: obj, Action: act})
		}
	}
	return out
}()

const (
	natTenants     = 400
	natPeople      = 40_000
	natAssignments = 120_000
	natDelegations = 500
)

// memoryAdapter loads rows the way Adapter does (persist.LoadPolicyArray per
// stored row), without the database, so the benchmark measures Casbin's part
// of a load: model, role links.
type memoryAdapter struct{ rows [][]string }

func (a *memoryAdapter) LoadPolicy(m model.Model) error {
	for _, r := range a.rows {
		if err := persist.LoadPolicyArray(r, m); err != nil {
			return err
		}
	}
	return nil
}
func (a *memoryAdapter) SavePolicy(model.Model) error                              { return nil }
func (a *memoryAdapter) AddPolicy(string, string, []string) error                  { return nil }
func (a *memoryAdapter) RemovePolicy(string, string, []string) error               { return nil }
func (a *memoryAdapter) RemoveFilteredPolicy(string, string, int, ...string) error { return nil }

type check struct{ person, tenant, obj, act string }

// nationalRows is the stored policy of a national kportal: every permission
// rule, 120,000 role assignments of 40,000 people in 400 tenants, and 500
// delegations (goal_approver in the delegating leder's tenant).
func nationalRows(rng *rand.Rand) (rows [][]string, tenantsOf map[string][]string) {
	for _, p := range permissions(nationalRules) {
		rows = append(rows, append([]string{"p"}, p...))
	}
	roles := []struct {
		name   string
		weight int
	}{{"lis", 50}, {"supervisor", 20}, {"veileder", 15}, {"leder", 8}, {"uao", 4}, {"tenant_admin", 3}}
	role := func() string {
		n := rng.IntN(100)
		for _, r := range roles {
			if n < r.weight {
				return r.name
			}
			n -= r.weight
		}
		return "lis"
	}
	tenant := func(i int) string { return fmt.Sprintf("t%03d", i) }
	person := func(i int) string { return fmt.Sprintf("person-%05d", i) }
	tenantsOf = map[string][]string{}
	seen := map[[3]string]bool{}
	add := func(p, r, t string) bool {
		k := [3]string{p, r, t}
		if seen[k] {
			return false
		}
		seen[k] = true
		rows = append(rows, []string{"g", p, r, t})
		tenantsOf[p] = append(tenantsOf[p], t)
		return true
	}
	// Each person works in one home tenant, a third also in a second one.
	home := make([]int, natPeople)
	for i := range home {
		home[i] = rng.IntN(natTenants)
	}
	for n := 0; n < natAssignments; {
		i := rng.IntN(natPeople)
		t := home[i]
		if rng.IntN(3) == 0 {
			t = rng.IntN(natTenants)
		}
		if add(person(i), role(), tenant(t)) {
			n++
		}
	}
	for n := 0; n < natDelegations; {
		if add(person(rng.IntN(natPeople)), "goal_approver", tenant(rng.IntN(natTenants))) {
			n++
		}
	}
	return rows, tenantsOf
}

var national struct {
	once   sync.Once
	x      *Enforcer
	checks []check
	loadS  float64
	heapMB float64
	err    error
}

func buildNational() {
	rng := rand.New(rand.NewPCG(1, 2))
	rows, tenantsOf := nationalRows(rng)

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	m, err := NewModel()
	if err != nil {
		national.err = err
		return
	}
	e, err := casbin.NewSyncedEnforcer(m, &memoryAdapter{rows: rows}) // loads
	if err != nil {
		national.err = err
		return
	}
	national.x = &Enforcer{}
	if err := national.x.use(e); err != nil { // with its indexes
		national.err = err
		return
	}
	national.loadS = time.Since(start).Seconds()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(rows) // counted in before and after: the difference is the enforcer
	national.heapMB = float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)

	// Random checks: half in a tenant the person works in, half anywhere.
	national.checks = make([]check, 1<<16)
	for i := range national.checks {
		p := fmt.Sprintf("person-%05d", rng.IntN(natPeople))
		t := fmt.Sprintf("t%03d", rng.IntN(natTenants))
		if ts := tenantsOf[p]; len(ts) > 0 && rng.IntN(2) == 0 {
			t = ts[rng.IntN(len(ts))]
		}
		r := nationalRules[rng.IntN(len(nationalRules))]
		national.checks[i] = check{p, t, r.Object, r.Action}
	}
}

// BenchmarkEnforceNational measures one authorization check, Enforcer.Allowed
// (what the route guard calls), against a national-size policy (400 tenants,
// 40,000 people, 120,500 role assignments, 45 permission rules). Metrics:
// load_s (building the enforcer from stored rows), heap_MB (the loaded
// enforcer), allowed_% (share of checks allowed).
func BenchmarkEnforceNational(b *testing.B) {
	benchNational(b, func(x *Enforcer, c check) (bool, error) { return x.Allowed(c.person, nil, c.tenant, c.obj, c.act) })
}

// BenchmarkEnforceCasbinNational is the same checks through Casbin's own
// Enforce, which evaluates the matcher once per permission rule.
func BenchmarkEnforceCasbinNational(b *testing.B) {
	benchNational(b, func(x *Enforcer, c check) (bool, error) { return x.Enforce(c.person, c.tenant, c.obj, c.act) })
}

func benchNational(b *testing.B, decide func(*Enforcer, check) (bool, error)) {
	national.once.Do(buildNational)
	if national.err != nil {
		b.Fatal(national.err)
	}
	x, checks := national.x, national.checks
	allowed := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ok, err := decide(x, checks[i&(len(checks)-1)])
		if err != nil {
			b.Fatal(err)
		}
		if ok {
			allowed++
		}
	}
	b.StopTimer()
	b.ReportMetric(national.loadS, "load_s")
	b.ReportMetric(national.heapMB, "heap_MB")
	b.ReportMetric(100*float64(allowed)/float64(b.N), "allowed_%")
}

// The index gives Casbin's decisions: every check of the national set, and the
// cases the set lacks (role hierarchies, rules for one domain).
func TestIndexAgreesWithCasbin(t *testing.T) {
	national.once.Do(buildNational)
	if national.err != nil {
		t.Fatal(national.err)
	}
	allowed := 0
	for _, c := range national.checks {
		want, err := national.x.Enforce(c.person, c.tenant, c.obj, c.act)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := national.x.Allowed(c.person, nil, c.tenant, c.obj, c.act)
		if got != want {
			t.Fatalf("%+v: index says %v, Casbin %v", c, got, want)
		}
		if got {
			allowed++
		}
	}
	if allowed == 0 || allowed == len(national.checks) {
		t.Fatalf("%d of %d allowed: the sample does not test both answers", allowed, len(national.checks))
	}

	x, err := NewEnforcer([]Rule{{Role: "leder", Object: "goal", Action: "approve"}, {Role: "lis", Object: "goal", Action: "send"}})
	if err != nil {
		t.Fatal(err)
	}
	e := x.e.Load()
	for _, g := range [][]string{{"per", "senior", "t1"}, {"senior", "leder", "t1"}, {"kari", "lis", "t1"}, {"ola", "leder", "t2"}} {
		if _, err := e.AddGroupingPolicy(g); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.AddPolicy("lis", "t2", "activity", "create"); err != nil {
		t.Fatal(err)
	}
	if err := x.use(e); err != nil {
		t.Fatal(err)
	}
	if err := x.Assign("nina", "leder", "t3"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := x.Allowed("nina", nil, "t3", "goal", "approve"); !ok {
		t.Error("an assignment made through the enforcer is not in its index")
	}
	if err := x.Unassign("nina", "leder", "t3"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []check{
		{"nina", "t3", "goal", "approve"},
		{"per", "t1", "goal", "approve"}, {"per", "t2", "goal", "approve"}, {"kari", "t1", "goal", "send"},
		{"kari", "t1", "goal", "approve"}, {"kari", "t1", "activity", "create"}, {"kari", "t2", "activity", "create"},
		{"ola", "t2", "goal", "approve"}, {"ola", "t1", "goal", "approve"}, {"leder", "t9", "goal", "approve"}, {"nobody", "t1", "goal", "send"},
	} {
		want, _ := x.Enforce(c.person, c.tenant, c.obj, c.act)
		if got, _ := x.Allowed(c.person, nil, c.tenant, c.obj, c.act); got != want {
			t.Errorf("%+v: index says %v, Casbin %v", c, got, want)
		}
	}
}

// BenchmarkEnforceFloor is Casbin's own basic ACL model (2 rules, no roles) on
// the same machine: the fixed cost of one Enforce call, whatever the policy.
func BenchmarkEnforceFloor(b *testing.B) {
	m, err := model.NewModelFromString(`
[request_definition]
r = sub, obj, act
[policy_definition]
p = sub, obj, act
[policy_effect]
e = some(where (p.eft == allow))
[matchers]
m = r.sub == p.sub && r.obj == p.obj && r.act == p.act`)
	if err != nil {
		b.Fatal(err)
	}
	e, err := casbin.NewEnforcer(m)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = e.AddPolicy("alice", "data1", "read")
	_, _ = e.AddPolicy("bob", "data2", "write")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if ok, _ := e.Enforce("alice", "data1", "read"); !ok {
			b.Fatal("denied")
		}
	}
}

// BenchmarkReloadNational stores the national policy in PostgreSQL and
// measures one reload through Adapter: what every instance does when the
// watcher reports a change. Run it with -benchtime 3x.
func BenchmarkReloadNational(b *testing.B) {
	env := testenv.Get(b)
	ctx := context.Background()
	rows, _ := nationalRows(rand.New(rand.NewPCG(1, 2)))
	stored := make([]casbinRule, 0, len(rows))
	for _, r := range rows {
		cr, err := newRule(r[0], r[1:])
		if err != nil {
			b.Fatal(err)
		}
		stored = append(stored, cr)
	}
	if _, err := env.Owner.ExecContext(ctx, "DELETE FROM casbin_rules"); err != nil {
		b.Fatal(err)
	}
	defer env.Owner.ExecContext(ctx, "DELETE FROM casbin_rules") //nolint:errcheck
	if err := insert(ctx, env.Owner, stored); err != nil {
		b.Fatal(err)
	}
	x := &Enforcer{adapter: NewAdapter(env.App)}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := x.reload(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if n, _ := x.e.Load().GetGroupingPolicy(); len(n) != natAssignments+natDelegations {
		b.Fatalf("loaded %d assignments", len(n))
	}
}
