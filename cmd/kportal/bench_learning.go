package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"golang.org/x/sync/errgroup"

	"kportal/modules/activities"
	"kportal/modules/goals"
	"kportal/tenants"
)

func init() {
	// Both sign in, which records tenant entries in the audit log.
	scenarios["home"] = bench{writes: true, run: func(ctx context.Context, cfg *config) ([][2]string, error) {
		return benchLearning(ctx, cfg, "home")
	}}
	scenarios["signqueue"] = bench{writes: true, run: func(ctx context.Context, cfg *config) ([][2]string, error) {
		return benchLearning(ctx, cfg, "signqueue")
	}}
}

// benchUser is a bench user of the national data set, signed in.
type benchUser struct {
	Email          string
	Person, Tenant uuid.UUID
	Slug, Token    string
}

const (
	learningConcurrency = 32
	learningDuration    = 10 * time.Second
)

// benchLearning measures the pages a LIS (home: GET /t/<slug>/) or a
// supervisor (signqueue: GET /t/<slug>/signering) loads most, on the national
// data set (kportal seed --national; KPORTAL_DATABASE_URL pointing at its
// database), as the bench users it made, each signed in through Kratos'
// native API (X-Session-Token). 32 clients, each request as the next user.
// The baseline is a bare Echo handler running the page's main SQL with pgx
// (same transaction with the tenant in force, same row-level security, none
// of kportal's middleware, authorization or templates).
func benchLearning(ctx context.Context, cfg *config, kind string) ([][2]string, error) {
	cfg.LogLevel = "error"
	a, err := openApp(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer a.close()
	// Requests still running when a load run ends are cancelled, which the
	// error handler would log; failures are counted by load instead.
	a.log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	prefix := "bench-lis-"
	if kind == "signqueue" {
		prefix = "bench-sup-"
	}
	users, err := benchLogins(ctx, cfg, a, prefix)
	if err != nil {
		return nil, err
	}
	p, err := newPageBench(ctx, cfg, a, kind)
	if err != nil {
		return nil, err
	}
	defer p.close()
	if err := p.use(ctx, users); err != nil {
		return nil, err
	}
	p.run(ctx, false, learningConcurrency, 2*time.Second) // warm up
	base := p.run(ctx, false, learningConcurrency, learningDuration)
	p.run(ctx, true, learningConcurrency, 2*time.Second)
	if path := os.Getenv("KPORTAL_BENCH_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	got := p.run(ctx, true, learningConcurrency, learningDuration)
	// One client alone: the page's own time, without waiting behind others.
	one := p.run(ctx, true, 1, 3*time.Second)
	// Fewer clients: where the p99 target is met on this machine.
	four := p.run(ctx, true, 4, 3*time.Second)
	eight := p.run(ctx, true, 8, 3*time.Second)
	// A request or two can fail at a run's edge; more is a real failure.
	if got.Requests == 0 || got.Errors*1000 > got.Requests || base.Errors*1000 > base.Requests || one.Errors+four.Errors+eight.Errors > 0 {
		return nil, fmt.Errorf("%d of %d requests failed (baseline: %d of %d)", got.Errors, got.Errors+got.Requests, base.Errors, base.Errors+base.Requests)
	}
	return [][2]string{
		{"p50_ms", ms(got.P50)}, {"p99_ms", ms(got.P99)},
		{"rps", fmt.Sprintf("%.0f", got.RPS)}, {"baseline_rps", fmt.Sprintf("%.0f", base.RPS)},
		{"ratio", fmt.Sprintf("%.2f", got.RPS/base.RPS)},
		{"baseline_p99_ms", ms(base.P99)}, {"c1_p50_ms", ms(one.P50)}, {"c1_p99_ms", ms(one.P99)},
		{"c4_p99_ms", ms(four.P99)}, {"c4_rps", fmt.Sprintf("%.0f", four.RPS)}, {"c8_p99_ms", ms(eight.P99)}, {"c8_rps", fmt.Sprintf("%.0f", eight.RPS)},
		{"concurrency", fmt.Sprint(learningConcurrency)}, {"users", fmt.Sprint(len(users))}, {"errors", fmt.Sprint(got.Errors)},
	}, nil
}

// pageBench serves a page (kind: home or signqueue) through kportal's whole
// stack and its main SQL through a bare Echo handler with pgx, to the users
// in use.
type pageBench struct {
	kind      string
	users     []benchUser
	pool      *pgxpool.Pool
	full, raw *httptest.Server
}

func newPageBench(ctx context.Context, cfg *config, a *app, kind string) (*pageBench, error) {
	pcfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	pcfg.MaxConns = int32(cfg.DBMaxConns)
	p := &pageBench{kind: kind}
	if p.pool, err = pgxpool.NewWithConfig(ctx, pcfg); err != nil {
		return nil, err
	}
	p.full = httptest.NewServer(a.server())
	bare := echo.New()
	bare.GET("/u/:i", func(c echo.Context) error {
		i, err := strconv.Atoi(c.Param("i"))
		if err != nil || i < 0 || i >= len(p.users) {
			return echo.ErrNotFound
		}
		var out map[string]int
		if kind == "home" {
			out, err = baselineHome(c.Request().Context(), p.pool, p.users[i])
		} else {
			out, err = baselineQueue(c.Request().Context(), p.pool, p.users[i])
		}
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, out)
	})
	p.raw = httptest.NewServer(bare)
	return p, nil
}

func (p *pageBench) close() {
	p.full.Close()
	p.raw.Close()
	p.pool.Close()
}

func (p *pageBench) page(u benchUser) string {
	if p.kind == "home" {
		return "/t/" + u.Slug + "/"
	}
	return "/t/" + u.Slug + "/signering"
}

// use makes users the ones the next runs are as, once every user's page
// answers.
func (p *pageBench) use(ctx context.Context, users []benchUser) error {
	client := &http.Client{Timeout: 30 * time.Second}
	for _, u := range users {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.full.URL+p.page(u), nil)
		req.Header.Set("X-Session-Token", u.Token)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: GET %s answered %d", u.Email, p.page(u), resp.StatusCode)
		}
	}
	p.users = users
	return nil
}

// run loads the page through the whole stack (fullStack) or the baseline,
// each request as the next user.
func (p *pageBench) run(ctx context.Context, fullStack bool, concurrency int, d time.Duration) loadResult {
	var n atomic.Int64
	next := func(r *http.Request) {
		i := int(n.Add(1)-1) % len(p.users)
		if fullStack {
			r.URL.Path = p.page(p.users[i])
			r.Header.Set("X-Session-Token", p.users[i].Token)
		} else {
			r.URL.Path = "/u/" + strconv.Itoa(i)
		}
	}
	url := p.raw.URL + "/"
	if fullStack {
		url = p.full.URL + "/"
	}
	return load(ctx, url, concurrency, d, 1_000_000, next)
}

// benchLogins finds the bench users whose e-mail starts with prefix and signs
// each in through Kratos' native login API.
func benchLogins(ctx context.Context, cfg *config, a *app, prefix string) ([]benchUser, error) {
	var people []struct {
		ID    uuid.UUID `bun:"id"`
		Email string    `bun:"email"`
	}
	if err := a.db.NewRaw("SELECT id, email FROM people WHERE email LIKE ? ORDER BY email", prefix+"%@"+NationalDomain).Scan(ctx, &people); err != nil {
		return nil, err
	}
	if len(people) == 0 {
		return nil, fmt.Errorf("no bench users (%s…@%s) in this database: run 'kportal seed --national' on a fresh database and point KPORTAL_DATABASE_URL at it", prefix, NationalDomain)
	}
	users := make([]benchUser, len(people))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := range people {
		g.Go(func() error {
			u, err := benchLogin(ctx, cfg, a, people[i].ID, people[i].Email)
			users[i] = u
			return err
		})
	}
	return users, g.Wait()
}

func benchLogin(ctx context.Context, cfg *config, a *app, person uuid.UUID, email string) (benchUser, error) {
	u := benchUser{Email: email, Person: person}
	ms, err := tenants.ForPerson(ctx, a.db, person)
	if err != nil {
		return u, err
	}
	if len(ms) == 0 {
		return u, fmt.Errorf("%s belongs to no tenant", email)
	}
	u.Tenant, u.Slug = ms[0].Tenant.ID, ms[0].Tenant.Slug
	client := &http.Client{Timeout: 30 * time.Second}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, cfg.KratosPublic+"/self-service/login/api", nil)
	resp, err := client.Do(req)
	if err != nil {
		return u, fmt.Errorf("Kratos login flow: %w", err)
	}
	var flow struct{ ID string }
	err = json.NewDecoder(resp.Body).Decode(&flow)
	resp.Body.Close()
	if err != nil || flow.ID == "" {
		return u, fmt.Errorf("Kratos login flow: HTTP %d %v", resp.StatusCode, err)
	}
	body, _ := json.Marshal(map[string]string{"method": "password", "identifier": email, "password": NationalBenchPassword})
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, cfg.KratosPublic+"/self-service/login?flow="+flow.ID, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if resp, err = client.Do(req); err != nil {
		return u, fmt.Errorf("Kratos login of %s: %w", email, err)
	}
	defer resp.Body.Close()
	var out struct {
		Token string `json:"session_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Token == "" {
		return u, fmt.Errorf("Kratos login of %s: HTTP %d %v", email, resp.StatusCode, err)
	}
	u.Token = out.Token
	return u, nil
}

// inTenant runs fn in a transaction with the user's tenant and person in
// force, as tenants.WithTenantTx does.
func inTenant(ctx context.Context, pool *pgxpool.Pool, u benchUser, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT set_config('app.tenant_id', $1, true), set_config('app.person_id', $2, true)",
			u.Tenant.String(), u.Person.String()); err != nil {
			return err
		}
		return fn(tx)
	})
}

// countRows reads (and decodes) every row of a query and counts them, by the
// value of column col when col >= 0.
func countRows(tx pgx.Tx, ctx context.Context, col int, sql string, args ...any) (map[string]int, int, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	by, n := map[string]int{}, 0
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, 0, err
		}
		n++
		if col >= 0 {
			by[fmt.Sprint(vals[col])]++
		}
	}
	return by, n, rows.Err()
}

// The SQL the pages run, copied from modules/goals and modules/activities
// (Goals, Procedures, List, Queue) with pgx placeholders.
const (
	sqlActivePlan = `SELECT pa.id, pa.template_id, pa.version_id, t.specialty, t.name
		FROM plan_assignments pa JOIN plan_templates t ON t.tenant_id = pa.tenant_id AND t.id = pa.template_id
		WHERE pa.tenant_id = $1 AND pa.lis_id = $2 AND pa.archived_at IS NULL ORDER BY pa.assigned_at DESC LIMIT 1`
	sqlActivityColumns = `a.tenant_id, a.id, a.lis_id, a.assignment_id, a.kind, a.title, a.procedure_id, a.local_id, a.procedure_role,
		a.count, a.done_on, a.arena_id, a.goal_codes, a.comment, a.status, a.supervisor_id, a.requested_at, a.created_at, a.updated_at,
		trim(l.given_name || ' ' || l.family_name) AS lis_name,
		coalesce(trim(s.given_name || ' ' || s.family_name), '') AS supervisor_name,
		coalesce(ar.name, '') AS arena_name,
		coalesce((SELECT g.comment FROM signatures g WHERE g.tenant_id = a.tenant_id AND g.activity_id = a.id ORDER BY g.signed_at DESC LIMIT 1), '') AS decision_comment
		FROM activities a JOIN people l ON l.id = a.lis_id
		LEFT JOIN people s ON s.id = a.supervisor_id
		LEFT JOIN arenas ar ON ar.tenant_id = a.tenant_id AND ar.id = a.arena_id`
	sqlQueue = `SELECT ` + sqlActivityColumns + ` WHERE a.tenant_id = $1 AND a.supervisor_id = $2 AND a.status = 'requested'
		AND EXISTS (SELECT 1 FROM relations r WHERE r.tenant_id = a.tenant_id AND r.lis_id = a.lis_id AND r.person_id = a.supervisor_id AND r.kind = 'supervisor')
		ORDER BY a.requested_at, a.created_at`
)

// sqlProceduresText is the page's own procedure query with pgx's placeholders.
var sqlProceduresText = pgxArgs.Replace(activities.ProceduresQuery)

// numbered turns bun's successive ? placeholders into pgx's $1, $2, …
func numbered(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// pgxArgs turns bun's positional placeholders into pgx's.
var pgxArgs = strings.NewReplacer("?0", "$1", "?1", "$2", "?2", "$3", "?3", "$4", "?4", "$5")

// baselineHome is the LIS home's main SQL: the active plan, the plan's goals
// with their progress, the procedures with counts done, and the activities
// waiting for a signature.
func baselineHome(ctx context.Context, pool *pgxpool.Pool, u benchUser) (map[string]int, error) {
	out := map[string]int{}
	err := inTenant(ctx, pool, u, func(tx pgx.Tx) error {
		var (
			assignment, template uuid.UUID
			version              int
			specialty, name      string
		)
		if err := tx.QueryRow(ctx, sqlActivePlan, u.Tenant, u.Person).Scan(&assignment, &template, &version, &specialty, &name); err != nil {
			return fmt.Errorf("active plan: %w", err)
		}
		by, n, err := countRows(tx, ctx, 8, numbered(goals.GoalsQuery), u.Tenant, u.Person)
		if err != nil {
			return fmt.Errorf("goals: %w", err)
		}
		out["goals"], out["goals_approved"], out["goals_waiting"] = n, by["approved"], by["sent"]
		if _, out["procedures"], err = countRows(tx, ctx, -1, sqlProceduresText, u.Tenant, u.Person, template, version, "%%"); err != nil {
			return fmt.Errorf("procedures: %w", err)
		}
		if err = tx.QueryRow(ctx, pgxArgs.Replace(activities.CountRequestedQuery), u.Tenant, u.Person).Scan(&n); err != nil {
			return fmt.Errorf("requested: %w", err)
		}
		out["waiting"] = n
		return nil
	})
	return out, err
}

// baselineQueue is the supervisor queue's SQL.
func baselineQueue(ctx context.Context, pool *pgxpool.Pool, u benchUser) (map[string]int, error) {
	out := map[string]int{}
	err := inTenant(ctx, pool, u, func(tx pgx.Tx) error {
		_, n, err := countRows(tx, ctx, -1, sqlQueue, u.Tenant, u.Person)
		out["queue"] = n
		return err
	})
	return out, err
}
