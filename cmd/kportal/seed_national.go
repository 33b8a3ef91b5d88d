package main

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"kportal/modules/identity"
	"kportal/storage"
	"kportal/tenants"
)

// The national data set (kportal seed --national): the size kportal must
// carry, for benchmarks. Every tenant has the same shape, so --scale only
// changes how many tenants there are:
//
//	400 tenants (real HF and kommuner from tenants/refdata) × 100 people:
//	  0–24 LIS, 25–29 leder, 30–39 veileder, 40–99 supervisor
//	each LIS: one active plan (4 templates per tenant, 150–300 catalogue goals
//	  each, 20 procedures with required counts), a leder, a veileder and 1–3
//	  supervisors (of the first 15), 1,000 activities (a third procedures, half
//	  of those national, half the plan's own) of which 190 signed, 10 rejected
//	  (200 signatures) and 8–20 waiting for a supervisor, and 23–102 goals
//	  with progress (approved, 3 sent to the leder)
//
// At scale 1: 400 tenants, 40,000 people, 10,000 LIS, 10 million activities,
// 2 million signatures.
//
// Rows are made by PostgreSQL itself (INSERT … SELECT over generate_series,
// one transaction per tenant), which on a 2-core machine beats streaming the
// same rows through COPY: nothing crosses the wire. Each tenant's transaction
// puts that tenant in force (app.tenant_id, as tenants.WithTenantTx does), so
// forced row-level security is never lifted, not even for the load. Ids are
// derived from (tenant, person number) with md5, so every statement can name
// any person or plan without looking it up.
//
// Kratos is not asked about the 40,000 people (their identity ids are random);
// only the bench users get real identities with NationalBenchPassword:
// bench-lis-NNN@national.kportal.no (LIS 0 of tenant NNN, with an active plan)
// and bench-sup-NNN@national.kportal.no (the supervisor of tenant NNN with the
// longest queue).

const (
	// NationalCatalog is the label of the national data set's catalogue version.
	NationalCatalog = "nasjonalt-testdatasett"
	// NationalBenchPassword is the password of the bench users.
	NationalBenchPassword = "kportal-bench-2026"
	// NationalDomain is the e-mail domain of every person of the data set.
	NationalDomain = "national.kportal.no"

	natPeople     = 100  // per tenant
	natLIS        = 25   // people 0..24
	natActivities = 1000 // per LIS
	natTemplates  = 4
	natProcedures = 20
)

type nationalOptions struct {
	Scale      float64
	BenchUsers int // per kind (LIS, supervisor); at most the number of tenants
	Jobs       int // tenants loaded at once
}

type nationalResult struct {
	Tenants    []uuid.UUID
	BenchLIS   []string
	BenchSup   []string
	Activities int64
	Took       time.Duration
}

func natTenantCount(scale float64) int {
	return max(2, int(math.Round(400*scale)))
}

// pid is the SQL expression of person number i (an SQL expression) of tenant
// number $2.
func pid(i string) string { return "md5('nat-p-' || $2::int || '-' || (" + i + "))::uuid" }

func seedNational(ctx context.Context, cfg *config, o nationalOptions, progress func(format string, args ...any)) (*nationalResult, error) {
	start := time.Now()
	if o.Scale <= 0 || o.Scale > 1 {
		return nil, fmt.Errorf("--scale must be in (0, 1], not %g", o.Scale)
	}
	nt := natTenantCount(o.Scale)
	o.BenchUsers = min(o.BenchUsers, nt)
	o.Jobs = max(1, o.Jobs)
	pcfg, err := pgxpool.ParseConfig(cfg.MigrateURL)
	if err != nil {
		return nil, fmt.Errorf("database URL is not valid: %v", err)
	}
	pcfg.MaxConns = int32(o.Jobs + 1)
	pcfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	if err := pool.Ping(ctx); err != nil {
		return nil, fmt.Errorf("PostgreSQL as owner: %w", err)
	}
	var seeded bool
	if err := pool.QueryRow(ctx, "SELECT EXISTS (SELECT FROM catalog_versions WHERE label = $1)", NationalCatalog).Scan(&seeded); err != nil {
		return nil, err
	}
	if seeded {
		return nil, fmt.Errorf("this database has the national data set already (catalogue version %q); seed a fresh database", NationalCatalog)
	}

	// Reference data, catalogue, tenants and people: small, global, no RLS.
	db, err := storage.OpenDB(ctx, cfg.MigrateURL, 2)
	if err != nil {
		return nil, err
	}
	reg, err := tenants.ReadRegistry(tenants.RefData())
	if err != nil {
		db.Close()
		return nil, err
	}
	_, err = tenants.ImportRegistry(ctx, db, reg)
	db.Close()
	if err != nil {
		return nil, fmt.Errorf("reference data: %w", err)
	}
	var version int
	if err := pool.QueryRow(ctx, `INSERT INTO catalog_versions (label, note, published_at)
		VALUES ($1, 'Nasjonalt testdatasett for ytelsesmålinger (kportal seed --national)', now()) RETURNING id`, NationalCatalog).Scan(&version); err != nil {
		return nil, fmt.Errorf("catalogue version: %w", err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO specialties (code, name) VALUES ('NAT', 'Nasjonalt testdatasett') ON CONFLICT DO NOTHING`); err != nil {
		return nil, err
	}
	if _, err := pool.Exec(ctx, `INSERT INTO goals (version_id, code, plan, part, competence_area)
		SELECT $1, 'NAT-' || lpad(g::text, 4, '0'), 'NAT', 'del' || (1 + g % 3), 'Kompetanseområde ' || (1 + g / 30)
		FROM generate_series(1, 300) g`, version); err != nil {
		return nil, fmt.Errorf("goals: %w", err)
	}
	rows, _ := pool.Query(ctx, `INSERT INTO national_procedures (version_id, specialty, number, name, assisted, performed)
		SELECT $1, 'NAT', x::text, 'Nasjonal prosedyre ' || x, x % 10, 5 + x % 20 FROM generate_series(1, $2::int) x
		RETURNING id`, version, natProcedures)
	procs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("national procedures: %w", err)
	}

	ids, err := natTenants(ctx, pool, nt)
	if err != nil {
		return nil, err
	}
	progress("catalogue and %d tenants ready (%.1fs)", len(ids), time.Since(start).Seconds())
	if _, err := pool.Exec(ctx, `INSERT INTO people (id, identity_id, email, given_name, family_name)
		SELECT md5('nat-p-' || t || '-' || i)::uuid, gen_random_uuid(), 'nat-' || t || '-' || i || '@`+NationalDomain+`',
			(ARRAY['Kari','Ola','Ingrid','Per','Sigrid','Nils','Astrid','Lars','Hanne','Jon','Eva','Knut','Marit','Arne','Liv','Ole'])[1 + (t * 7 + i) % 16],
			(ARRAY['Nordmann','Hansen','Johansen','Olsen','Larsen','Andersen','Pedersen','Nilsen','Kristiansen','Jensen','Karlsen','Johnsen','Pettersen','Eriksen','Berg','Haugen','Dahl','Lie','Moe','Strand'])[1 + (t * 13 + i * 3) % 20]
		FROM generate_series(0, $1::int - 1) t, generate_series(0, $2::int - 1) i`, nt, natPeople); err != nil {
		return nil, fmt.Errorf("people: %w", err)
	}
	progress("%d people (%.1fs)", nt*natPeople, time.Since(start).Seconds())

	// The tenants' own rows, o.Jobs tenants at a time.
	var (
		next, done int64
		wg         sync.WaitGroup
		errMu      sync.Mutex
		firstErr   error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range o.Jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(atomic.AddInt64(&next, 1) - 1)
				if i >= nt || ctx.Err() != nil {
					return
				}
				if err := natTenant(ctx, pool, ids[i], i, version, procs); err != nil {
					errMu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("tenant %d: %w", i, err)
					}
					errMu.Unlock()
					cancel()
					return
				}
				if n := atomic.AddInt64(&done, 1); n%20 == 0 || int(n) == nt {
					progress("tenants %d/%d, activities %.2fM (%.0fs)", n, nt, float64(n*natLIS*natActivities)/1e6, time.Since(start).Seconds())
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t0 := time.Now()
	for _, t := range []string{"people", "memberships", "relations", "plan_templates", "plan_template_goals", "local_activities",
		"plan_assignments", "activities", "signatures", "goal_progress", "casbin_rules"} {
		// VACUUM too: the visibility map lets index-only scans skip the heap
		// from the first benchmark on, not only after autovacuum came by.
		if _, err := pool.Exec(ctx, "VACUUM (ANALYZE) "+t); err != nil {
			return nil, fmt.Errorf("vacuum %s: %w", t, err)
		}
	}
	progress("vacuumed and analyzed (%.1fs)", time.Since(t0).Seconds())

	res := &nationalResult{Tenants: ids, Activities: int64(nt) * natLIS * natActivities}
	if o.BenchUsers > 0 {
		if err := natBenchUsers(ctx, cfg, pool, ids[:o.BenchUsers], res); err != nil {
			return nil, fmt.Errorf("bench users: %w", err)
		}
		progress("%d bench LIS and %d bench supervisors in Kratos (password %s)", len(res.BenchLIS), len(res.BenchSup), NationalBenchPassword)
	}
	res.Took = time.Since(start)
	return res, nil
}

// natTenants creates n tenants from the reference data: patient-treating
// helseforetak, private providers, kommuner, then the other foretak; the
// organisations of the demo tenants last, so both seeds fit in one database.
func natTenants(ctx context.Context, pool *pgxpool.Pool, n int) ([]uuid.UUID, error) {
	var demo []string
	for _, t := range demoTenants {
		if t.Orgnr != "" {
			demo = append(demo, t.Orgnr)
		}
	}
	rows, _ := pool.Query(ctx, `SELECT o.id, o.kind, o.name, coalesce(o.orgnr, ''), coalesce(o.kommunenummer, ''), coalesce(o.rhf_code, '')
		FROM org_registry o
		WHERE NOT EXISTS (SELECT FROM tenants t WHERE t.registry_id = o.id OR t.orgnr = o.orgnr)
		ORDER BY coalesce(o.orgnr, '') = ANY($1), CASE WHEN o.category = 'HF_pasientbehandling' THEN 0 WHEN o.kind = 'private' THEN 1 WHEN o.kind = 'kommune' THEN 2 ELSE 3 END,
			o.name, o.id`, demo)
	type org struct {
		ID                              uuid.UUID
		Kind, Name, Orgnr, Knr, RHFCode string
	}
	orgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (org, error) {
		var o org
		err := r.Scan(&o.ID, &o.Kind, &o.Name, &o.Orgnr, &o.Knr, &o.RHFCode)
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("reference data: %w", err)
	}
	if len(orgs) < n {
		return nil, fmt.Errorf("%d tenants wanted, the reference data has %d organisations without a tenant", n, len(orgs))
	}
	var taken []string
	rows, _ = pool.Query(ctx, "SELECT slug FROM tenants")
	if taken, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, s := range taken {
		used[s] = true
	}
	ids := make([]uuid.UUID, 0, n)
	for _, o := range orgs[:n] {
		slug := tenants.Slugify(o.Name)
		for k := 2; used[slug]; k++ {
			slug = tenants.Slugify(fmt.Sprintf("%s %s %d", o.Name, o.Knr, k))
		}
		used[slug] = true
		var id uuid.UUID
		if err := pool.QueryRow(ctx, `INSERT INTO tenants (slug, name, kind, status, orgnr, kommunenummer, rhf_code, registry_id)
			VALUES ($1, $2, $3, 'active', nullif($4, ''), nullif($5, ''), nullif($6, ''), $7) RETURNING id`,
			slug, o.Name, o.Kind, o.Orgnr, o.Knr, o.RHFCode, o.ID).Scan(&id); err != nil {
			return nil, fmt.Errorf("tenant %s: %w", o.Name, err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// natTenant makes one tenant's rows in one transaction with the tenant in
// force. $1 is the tenant's id, $2 its number, $3 the catalogue version.
func natTenant(ctx context.Context, pool *pgxpool.Pool, tenant uuid.UUID, t, version int, procs []string) error {
	lis := fmt.Sprintf("generate_series(0, %d) j", natLIS-1)
	asg := "md5('nat-pa-' || $2::int || '-' || j)::uuid"
	nsup := "(1 + (j * 7 + $2::int) % 3)" // supervisors of LIS j: 1–3
	sup := func(slot string) string { return pid("40 + (j + 5 * (" + slot + ")) % 15") }
	steps := []struct {
		what, sql string
		args      []any
	}{
		{"memberships", `INSERT INTO memberships (tenant_id, person_id, role)
			SELECT $1::uuid, ` + pid("i") + `, CASE WHEN i < 25 THEN 'lis' WHEN i < 30 THEN 'leder' WHEN i < 40 THEN 'veileder' ELSE 'supervisor' END
			FROM generate_series(0, 99) i`, nil},
		{"arenas", `INSERT INTO arenas (tenant_id, id, name)
			SELECT $1::uuid, md5('nat-ar-' || $2::int || '-' || k)::uuid, (ARRAY['Sengepost', 'Poliklinikk', 'Operasjonsstue'])[k + 1]
			FROM generate_series(0, 2) k`, nil},
		{"plan_templates", `INSERT INTO plan_templates (tenant_id, id, name, specialty, version_id)
			SELECT $1::uuid, md5('nat-tp-' || $2::int || '-' || k)::uuid, 'Nasjonal plan ' || (k + 1), 'NAT', $3
			FROM generate_series(0, 3) k`, []any{version}},
		{"plan_template_goals", `INSERT INTO plan_template_goals (tenant_id, template_id, goal_code, arena_ids)
			SELECT $1::uuid, md5('nat-tp-' || $2::int || '-' || k)::uuid, 'NAT-' || lpad(g::text, 4, '0'), ARRAY[md5('nat-ar-' || $2::int || '-' || g % 3)::uuid]
			FROM generate_series(0, 3) k, generate_series(1, 150 + (($2::int * 4 + k) * 37) % 151) g`, nil},
		{"local_activities", `INSERT INTO local_activities (tenant_id, id, template_id, kind, name, arena_id, goal_codes, required)
			SELECT $1::uuid, md5('nat-la-' || $2::int || '-' || k || '-' || x)::uuid, md5('nat-tp-' || $2::int || '-' || k)::uuid, 'procedure',
				'Prosedyre ' || (x + 1), md5('nat-ar-' || $2::int || '-2')::uuid, ARRAY['NAT-' || lpad((x + 1)::text, 4, '0')], 5 + (x * 7) % 26
			FROM generate_series(0, 3) k, generate_series(0, 19) x`, nil},
		{"plan_assignments", `INSERT INTO plan_assignments (tenant_id, id, lis_id, template_id, version_id, assigned_by, assigned_at)
			SELECT $1::uuid, ` + asg + `, ` + pid("j") + `, md5('nat-tp-' || $2::int || '-' || j % 4)::uuid, $3, ` + pid("25 + j % 5") + `, now() - interval '3 years'
			FROM ` + lis, []any{version}},
		{"relations", `INSERT INTO relations (tenant_id, lis_id, kind, person_id)
			SELECT $1::uuid, ` + pid("j") + `, 'leder', ` + pid("25 + j % 5") + ` FROM ` + lis + `
			UNION ALL SELECT $1::uuid, ` + pid("j") + `, 'veileder', ` + pid("30 + j % 10") + ` FROM ` + lis + `
			UNION ALL SELECT $1::uuid, ` + pid("j") + `, 'supervisor', ` + sup("s") + ` FROM ` + lis + `, generate_series(0, ` + nsup + ` - 1) s`, nil},
		{"goal_progress", `INSERT INTO goal_progress (tenant_id, lis_id, assignment_id, goal_code, version_id, status, completed_on, sent_to, sent_at, decided_by, decided_at)
			SELECT $1::uuid, ` + pid("j") + `, ` + asg + `, 'NAT-' || lpad(g::text, 4, '0'), $3, CASE WHEN g <= x.a THEN 'approved' ELSE 'sent' END,
				date '2024-01-01' + g, ` + pid("25 + j % 5") + `, now() - g * interval '1 day',
				CASE WHEN g <= x.a THEN ` + pid("25 + j % 5") + ` END, CASE WHEN g <= x.a THEN now() - g * interval '1 day' + interval '1 hour' END
			FROM ` + lis + `, LATERAL (SELECT 20 + (j * 11 + $2::int) % 80 AS a) x, generate_series(1, x.a + 3) g`, []any{version}},
		// 1,000 activities per LIS, a third of them procedures; g % 5 = 0 signed
		// (every 100th rejected), the last 8–20 with g % 5 = 1 requested.
		{"activities and signatures", `WITH l AS (
				SELECT j, ` + pid("j") + ` AS lis, ` + asg + ` AS asg, ` + nsup + ` AS nsup, 8 + (j * 5 + $2::int) % 13 AS nreq FROM ` + lis + `
			), a AS (
				INSERT INTO activities (tenant_id, lis_id, assignment_id, kind, title, procedure_id, local_id, procedure_role, count, done_on,
					arena_id, goal_codes, status, supervisor_id, requested_at, created_at, updated_at)
				SELECT $1::uuid, l.lis, l.asg, v.kind, CASE WHEN v.kind = 'procedure' THEN 'Prosedyre ' || (1 + (g / 6) % 20) ELSE 'Aktivitet ' || g END,
					CASE WHEN v.kind = 'procedure' AND g % 2 = 0 THEN ($3::uuid[])[1 + (g / 6) % 20] END,
					CASE WHEN v.kind = 'procedure' AND g % 2 = 1 THEN md5('nat-la-' || $2::int || '-' || l.j % 4 || '-' || (g / 6) % 20)::uuid END,
					CASE WHEN v.kind = 'procedure' THEN CASE WHEN g % 4 < 2 THEN 'performed' ELSE 'assisted' END END,
					1, date '2023-06-01' + g * 9 / 10, md5('nat-ar-' || $2::int || '-' || g % 3)::uuid,
					ARRAY['NAT-' || lpad((1 + (g * 7 + l.j) % 150)::text, 4, '0')],
					v.status, CASE WHEN v.status <> 'registered' THEN ` + strings.ReplaceAll(sup("g % l.nsup"), "(j +", "(l.j +") + ` END,
					CASE WHEN v.status = 'requested' THEN now() - (1000 - g) * interval '1 hour' END,
					(date '2023-06-01' + g * 9 / 10) + time '15:00', (date '2023-06-01' + g * 9 / 10) + time '15:00'
				FROM l, generate_series(1, ` + fmt.Sprint(natActivities) + `) g,
					LATERAL (SELECT CASE WHEN g % 3 = 0 THEN 'procedure' ELSE (ARRAY['course', 'veiledning', 'supervisjon', 'service', 'simulation', 'selfstudy', 'other'])[1 + g % 7] END AS kind,
						CASE WHEN g % 5 = 1 AND g > 1000 - 5 * l.nreq THEN 'requested' WHEN g % 100 = 0 THEN 'rejected' WHEN g % 5 = 0 THEN 'signed' ELSE 'registered' END AS status) v
				RETURNING tenant_id, id, lis_id, kind, title, procedure_role, count, done_on, goal_codes, status, supervisor_id
			)
			INSERT INTO signatures (tenant_id, activity_id, supervisor_id, decision, signed_at, snapshot)
			SELECT tenant_id, id, supervisor_id, status, done_on + time '18:00' + interval '2 days',
				jsonb_build_object('activity_id', id, 'title', title, 'kind', kind, 'role', coalesce(procedure_role, ''), 'count', count,
					'done_on', done_on, 'goals', goal_codes, 'comment', '', 'lis_id', lis_id, 'lis_name', '')
			FROM a WHERE status IN ('signed', 'rejected')`, []any{procs}},
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // a no-op after commit
	if _, err := tx.Exec(ctx, "SELECT set_config('app.tenant_id', $1, true)", tenant.String()); err != nil {
		return err
	}
	for _, s := range steps {
		if _, err := tx.Exec(ctx, s.sql, append([]any{tenant.String(), t}, s.args...)...); err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
	}
	return tx.Commit(ctx)
}

// natBenchUsers gives LIS 0 of each tenant in tenants, and the tenant's
// supervisor with the longest queue, a Kratos identity.
func natBenchUsers(ctx context.Context, cfg *config, pool *pgxpool.Pool, ids []uuid.UUID, res *nationalResult) error {
	k := identity.NewKratos(cfg.KratosPublic, cfg.KratosAdmin)
	if err := k.Ping(ctx); err != nil {
		return fmt.Errorf("Ory Kratos at %s: %v", cfg.KratosAdmin, err)
	}
	for t, tenant := range ids {
		var sup uuid.UUID
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT set_config('app.tenant_id', $1, true)", tenant.String()); err != nil {
				return err
			}
			return tx.QueryRow(ctx, `SELECT supervisor_id FROM activities WHERE tenant_id = $1 AND status = 'requested'
				GROUP BY supervisor_id ORDER BY count(*) DESC, supervisor_id LIMIT 1`, tenant.String()).Scan(&sup)
		})
		if err != nil {
			return fmt.Errorf("longest queue of tenant %d: %w", t, err)
		}
		for _, u := range []struct {
			kind   string
			person uuid.UUID
			list   *[]string
		}{{"lis", natPerson(t, 0), &res.BenchLIS}, {"sup", sup, &res.BenchSup}} {
			email := fmt.Sprintf("bench-%s-%03d@%s", u.kind, t, NationalDomain)
			var given, family string
			if err := pool.QueryRow(ctx, "SELECT given_name, family_name FROM people WHERE id = $1", u.person.String()).Scan(&given, &family); err != nil {
				return err
			}
			id, err := k.EnsureIdentity(ctx, email, given, family, NationalBenchPassword)
			if err != nil {
				return err
			}
			tr := identity.TraitsOf(id)
			if _, err := pool.Exec(ctx, "UPDATE people SET identity_id = $1, email = $2, given_name = $3, family_name = $4 WHERE id = $5",
				id.Id, email, tr.Name.Given, tr.Name.Family, u.person.String()); err != nil {
				return fmt.Errorf("%s: %w", email, err)
			}
			*u.list = append(*u.list, email)
		}
	}
	return nil
}

// natPerson is person number i of tenant number t (as pid computes it).
func natPerson(t, i int) uuid.UUID {
	return uuid.UUID(md5.Sum([]byte(fmt.Sprintf("nat-p-%d-%d", t, i))))
}

func runSeedNational(ctx context.Context, cfg *config, o nationalOptions) error {
	if dbName(cfg.MigrateURL) == "kportal" {
		return errors.New("refusing to put the national data set in the development database 'kportal': point KPORTAL_MIGRATE_DATABASE_URL at a fresh database (e.g. kportal_national)")
	}
	res, err := seedNational(ctx, cfg, o, func(format string, args ...any) {
		fmt.Printf(time.Now().Format("15:04:05")+" "+format+"\n", args...)
	})
	if err != nil {
		return err
	}
	fmt.Printf("national data set: %d tenants, %d people, %d LIS, %d activities, %d signatures in %s\n",
		len(res.Tenants), len(res.Tenants)*natPeople, len(res.Tenants)*natLIS, res.Activities, res.Activities/5, res.Took.Round(time.Second))
	if len(res.BenchLIS) > 0 {
		fmt.Printf("bench users (password %s): %s … %s, %s … %s\n", NationalBenchPassword,
			res.BenchLIS[0], res.BenchLIS[len(res.BenchLIS)-1], res.BenchSup[0], res.BenchSup[len(res.BenchSup)-1])
	}
	return nil
}

func dbName(dsn string) string {
	c, err := pgx.ParseConfig(dsn)
	if err != nil {
		return ""
	}
	return c.Database
}
