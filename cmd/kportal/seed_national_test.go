package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/tenants"
)

// The national data set at a small scale: the shape of every tenant, the
// bench users, and row-level security still forced on every tenant table.
func TestSeedNationalScaled(t *testing.T) {
	cfg, _, owner := freshDatabase(t)
	setEnv(t, cfg)
	var out, errb bytes.Buffer
	if code := run([]string{"seed", "--national", "--scale", "0.001", "--bench-users", "1"}, &out, &errb); code != 0 {
		t.Fatalf("seed --national: exit %d\n%s%s", code, out.String(), errb.String())
	}
	ctx := context.Background()

	var people int
	if err := owner.NewRaw("SELECT count(*) FROM people WHERE email LIKE ?", "%@"+NationalDomain).Scan(ctx, &people); err != nil || people != 200 {
		t.Fatalf("people of the data set: %d %v", people, err)
	}
	var bench []string
	if err := owner.NewRaw("SELECT email FROM people WHERE email LIKE 'bench-%' ORDER BY email").Scan(ctx, &bench); err != nil {
		t.Fatal(err)
	}
	if strings.Join(bench, " ") != "bench-lis-000@national.kportal.no bench-sup-000@national.kportal.no" {
		t.Fatalf("bench users: %v", bench)
	}
	// The tenants: those the data set's people hold roles in (casbin_rules has
	// no row-level security).
	var ids []uuid.UUID
	if err := owner.NewRaw(`SELECT DISTINCT t.id FROM tenants t JOIN casbin_rules c ON c.ptype = 'g' AND c.v2 = t.id::text
		JOIN people p ON p.id::text = c.v0 WHERE p.email LIKE ?`, "%@"+NationalDomain).Scan(ctx, &ids); err != nil || len(ids) != 2 {
		t.Fatalf("tenants of the data set: %v %v", ids, err)
	}
	for _, id := range ids {
		var c struct {
			Members, LIS, Plans, Leder, Veileder, Supervisor, Activities, Signatures, Signed, Rejected int
			MinGoals, MaxGoals, MinQueue, MaxQueue, MinReq, MaxReq, Procedures, Progress               int
		}
		err := tenants.WithTenantTx(ctx, owner, tenants.Scope{TenantID: id}, func(ctx context.Context, tx bun.Tx) error {
			return tx.NewRaw(`SELECT
				(SELECT count(*) FROM memberships) AS members,
				(SELECT count(*) FROM memberships WHERE role = 'lis') AS lis,
				(SELECT count(*) FROM plan_assignments WHERE archived_at IS NULL) AS plans,
				(SELECT count(*) FROM relations WHERE kind = 'leder') AS leder,
				(SELECT count(*) FROM relations WHERE kind = 'veileder') AS veileder,
				(SELECT count(*) FROM relations WHERE kind = 'supervisor') AS supervisor,
				(SELECT count(*) FROM activities) AS activities,
				(SELECT count(*) FROM signatures) AS signatures,
				(SELECT count(*) FROM activities WHERE status = 'signed') AS signed,
				(SELECT count(*) FROM activities WHERE status = 'rejected') AS rejected,
				(SELECT min(n) FROM (SELECT count(*) n FROM plan_template_goals GROUP BY template_id) x) AS min_goals,
				(SELECT max(n) FROM (SELECT count(*) n FROM plan_template_goals GROUP BY template_id) x) AS max_goals,
				(SELECT min(n) FROM (SELECT count(*) n FROM activities WHERE status = 'requested' GROUP BY supervisor_id) x) AS min_queue,
				(SELECT max(n) FROM (SELECT count(*) n FROM activities WHERE status = 'requested' GROUP BY supervisor_id) x) AS max_queue,
				(SELECT min(n) FROM (SELECT count(*) n FROM activities WHERE status = 'requested' GROUP BY lis_id) x) AS min_req,
				(SELECT max(n) FROM (SELECT count(*) n FROM activities WHERE status = 'requested' GROUP BY lis_id) x) AS max_req,
				(SELECT count(*) FROM local_activities) AS procedures,
				(SELECT count(*) FROM goal_progress) AS progress`).Scan(ctx, &c)
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("tenant %s: %+v", id, c)
		if c.Members != 100 || c.LIS != 25 || c.Plans != 25 || c.Leder != 25 || c.Veileder != 25 || c.Supervisor < 25 || c.Supervisor > 75 ||
			c.Activities != 25000 || c.Signatures != 5000 || c.Signed != 4750 || c.Rejected != 250 ||
			c.MinGoals < 150 || c.MaxGoals > 300 || c.MinReq < 8 || c.MaxReq > 20 || c.MinQueue < 1 || c.Procedures != 80 || c.Progress < 25*23 {
			t.Fatalf("tenant %s: %+v", id, c)
		}
	}
	// Every signature belongs to a signed or rejected activity of its tenant,
	// by the supervisor who decided.
	var orphans int
	err := tenants.WithTenantTx(ctx, owner, tenants.Scope{TenantID: ids[0]}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw(`SELECT count(*) FROM signatures g LEFT JOIN activities a ON a.tenant_id = g.tenant_id AND a.id = g.activity_id
			WHERE a.id IS NULL OR a.status <> g.decision OR a.supervisor_id <> g.supervisor_id`).Scan(ctx, &orphans)
	})
	if err != nil || orphans != 0 {
		t.Fatalf("signatures that do not match their activity: %d %v", orphans, err)
	}

	// Row-level security was never lifted: forced on every tenant table, and
	// the owner sees no tenant's rows without a tenant in force.
	var notForced []string
	if err := owner.NewRaw(`SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relrowsecurity AND NOT c.relforcerowsecurity`).Scan(ctx, &notForced); err != nil {
		t.Fatal(err)
	}
	if len(notForced) > 0 {
		t.Fatalf("row-level security not forced after the seed: %v", notForced)
	}
	for _, table := range []string{"activities", "signatures", "memberships", "relations", "plan_assignments", "goal_progress"} {
		var forced bool
		if err := owner.NewRaw("SELECT relforcerowsecurity FROM pg_class WHERE relname = ?", table).Scan(ctx, &forced); err != nil || !forced {
			t.Fatalf("%s: row-level security forced %v %v", table, forced, err)
		}
		var seen int
		if err := owner.NewRaw("SELECT count(*) FROM "+table).Scan(ctx, &seen); err != nil || seen != 0 {
			t.Fatalf("the owner saw %d rows of %s without a tenant: %v", seen, table, err)
		}
	}

	// Once is enough: a second run is refused and changes nothing.
	out.Reset()
	errb.Reset()
	if code := run([]string{"seed", "--national", "--scale", "0.001", "--bench-users", "0"}, &out, &errb); code == 0 || !strings.Contains(errb.String(), "already") {
		t.Fatalf("second national seed: exit %d\n%s", code, errb.String())
	}
}
