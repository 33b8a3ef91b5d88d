package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/uptrace/bun"

	"kportal/modules/accesslog"
	"kportal/modules/api"
	"kportal/modules/history"
	"kportal/modules/ratelimit"
	"kportal/storage"
	"kportal/tenants"
)

func init() {
	// It approves goals, gives an HPR number and makes an API key, all put back.
	scenarios["dossier"] = bench{run: benchDossier, writes: true}
}

const (
	// dossierMark names what the bench adds (the API key, the goals it
	// approves), so a run finds what an interrupted one left and puts it back.
	dossierMark = "kportal bench dossier"
	// dossierHPR is the HPR number given to a LIS without one (no real
	// number: the national data set has none).
	dossierHPR  = "999999901"
	dossierCase = "BENCH-0001"
)

type dossierOptions struct {
	Goals   int           // approved goals wanted (the plan's goals are the most)
	PDFRuns int           // dossier PDFs made
	Measure time.Duration // each load run of the API
	Clients int           // the API's clients
}

func benchDossier(ctx context.Context, cfg *config) ([][2]string, error) {
	return runDossierBench(ctx, cfg, dossierOptions{Goals: 300, PDFRuns: 30, Measure: learningDuration, Clients: 4}, os.Stderr)
}

// dossierLIS is the LIS the bench reads: the one whose active plan can have
// the most approved goals, then the one with the most activities.
type dossierLIS struct {
	Tenant     uuid.UUID `bun:"tenant_id"`
	LIS        uuid.UUID `bun:"lis_id"`
	Assignment uuid.UUID `bun:"assignment_id"`
	Template   uuid.UUID `bun:"template_id"`
	Version    int       `bun:"version_id"`
	Approved   int       `bun:"approved"`
	Missing    int       `bun:"missing"` // the plan's goals with no progress row
	Activities int       `bun:"activities"`
	DecidedBy  uuid.UUID `bun:"decided_by"`
}

// runDossierBench measures, for the richest LIS of the national data set,
// the dossier PDF (history.BuildDossier and Dossier.PDF, as the handler runs
// them) and GET /api/v1/records/<hpr> through kportal's whole stack under
// load, against the same SQL replayed raw with pgx. The LIS's plan gets up to
// opts.Goals approved goals, the LIS an HPR number if they have none, and the
// bench an API key of its own; afterwards these, and the access log rows its
// reads wrote, are removed (with the owner role: the application may not).
func runDossierBench(ctx context.Context, cfg *config, opts dossierOptions, notes io.Writer) (kv [][2]string, err error) {
	cfg.LogLevel = "error"
	off, _ := ratelimit.Parse("off")
	cfg.Limits = mapsWith(cfg.Limits, ratelimit.APIKey, off) // the load is the bench's, not a client's
	a, err := openApp(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer a.close()
	a.log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	owner, err := storage.OpenDB(ctx, cfg.MigrateURL, 4)
	if err != nil {
		return nil, err
	}
	defer owner.Close()
	ts, err := benchTenants(ctx, owner)
	if err != nil {
		return nil, err
	}
	if err := restoreDossier(ctx, owner, ts); err != nil {
		return nil, fmt.Errorf("putting back what an earlier run left: %w", err)
	}
	l, err := pickDossierLIS(ctx, owner, ts, opts.Goals)
	if err != nil {
		return nil, err
	}
	defer func() {
		if rerr := restoreDossier(ctx, owner, ts); rerr != nil {
			err = errors.Join(err, fmt.Errorf("putting the data set back: %w", rerr))
		}
	}()
	hpr, token, err := prepareDossier(ctx, owner, l, opts.Goals)
	if err != nil {
		return nil, err
	}
	var approved, activitiesN int
	err = tenants.RecordTx(ctx, owner, l.LIS, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw(`SELECT (SELECT count(*) FROM goal_progress WHERE lis_id = ? AND status = 'approved' AND origin_id IS NULL),
			(SELECT count(*) FROM activities WHERE lis_id = ?)`, l.LIS, l.LIS).Scan(ctx, &approved, &activitiesN)
	})
	if err != nil {
		return nil, err
	}
	if approved < opts.Goals {
		fmt.Fprintf(notes, "dossier: this data set's richest plan allows %d approved goals: measuring %d, not %d\n", approved, approved, opts.Goals)
	}

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

	// 1. The dossier PDF, as GET /min-utdanning/dossier.pdf makes it.
	var pdfs []time.Duration
	size := 0
	for i := range opts.PDFRuns + 1 {
		t0 := time.Now()
		d, err := history.BuildDossier(ctx, a.db, l.LIS, time.Now())
		if err != nil {
			return nil, fmt.Errorf("dossier: %w", err)
		}
		b, err := d.PDF(cfg.BaseURL)
		if err != nil {
			return nil, fmt.Errorf("dossier PDF: %w", err)
		}
		if i > 0 { // the first warms the caches
			pdfs = append(pdfs, time.Since(t0))
		}
		size = len(b)
	}
	slices.Sort(pdfs)

	// 2. The API record through the whole stack, and its SQL raw.
	full := httptest.NewServer(a.server())
	defer full.Close()
	path := api.Prefix + "/records/" + hpr + "?case=" + dossierCase
	auth := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
	if err := checkRecord(ctx, full.URL+path, auth); err != nil {
		return nil, err
	}
	queries, err := recordQueries(ctx, cfg, l.LIS, hpr, token)
	if err != nil {
		return nil, err
	}
	if path := os.Getenv("KPORTAL_BENCH_SQL"); path != "" { // to EXPLAIN them
		if err := os.WriteFile(path, []byte(strings.Join(queries, ";\n")+";\n"), 0o644); err != nil {
			return nil, err
		}
	}
	pool, err := pgxpool.New(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	bare := echo.New()
	bare.GET("/record", func(c echo.Context) error {
		n, err := replay(c.Request().Context(), pool, queries)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]int{"rows": n})
	})
	raw := httptest.NewServer(bare)
	defer raw.Close()

	warm := min(2*time.Second, opts.Measure)
	load(ctx, raw.URL+"/record", opts.Clients, warm, 1_000_000, nil)
	base := load(ctx, raw.URL+"/record", opts.Clients, opts.Measure, 1_000_000, nil)
	load(ctx, full.URL+path, opts.Clients, warm, 1_000_000, auth)
	got := load(ctx, full.URL+path, opts.Clients, opts.Measure, 1_000_000, auth)
	if got.Requests == 0 || got.Errors*1000 > got.Requests || base.Requests == 0 || base.Errors*1000 > base.Requests {
		return nil, fmt.Errorf("record: %d of %d requests failed (baseline: %d of %d)", got.Errors, got.Errors+got.Requests, base.Errors, base.Errors+base.Requests)
	}
	return [][2]string{
		{"pdf_ms_p50", ms(pdfs[len(pdfs)/2])}, {"pdf_ms_p99", ms(pdfs[min(len(pdfs)-1, len(pdfs)*99/100)])},
		{"api_p99_ms", ms(got.P99)}, {"api_rps", fmt.Sprintf("%.0f", got.RPS)}, {"baseline_rps", fmt.Sprintf("%.0f", base.RPS)},
		{"ratio", fmt.Sprintf("%.2f", got.RPS/base.RPS)}, {"goals", fmt.Sprint(approved)}, {"activities", fmt.Sprint(activitiesN)},
		{"api_p50_ms", ms(got.P50)}, {"baseline_p99_ms", ms(base.P99)}, {"pdf_kb", fmt.Sprint(size / 1024)},
		{"pdf_runs", fmt.Sprint(len(pdfs))}, {"clients", fmt.Sprint(opts.Clients)},
	}, nil
}

func mapsWith[K comparable, V any](m map[K]V, k K, v V) map[K]V {
	out := map[K]V{k: v}
	for kk, vv := range m {
		if kk != k {
			out[kk] = vv
		}
	}
	return out
}

// pickDossierLIS finds, among LIS with an active plan who are not bench
// users, the one whose plan can hold the most approved goals (up to goals),
// then the most activities.
func pickDossierLIS(ctx context.Context, owner bun.IDB, ts []benchTenant, goals int) (dossierLIS, error) {
	var best dossierLIS
	score := func(l dossierLIS) [2]int { return [2]int{min(goals, l.Approved+l.Missing), l.Activities} }
	for _, t := range ts {
		var ls []dossierLIS
		err := tenants.WithTenantTx(ctx, owner, tenants.Scope{TenantID: t.ID}, func(ctx context.Context, tx bun.Tx) error {
			return tx.NewRaw(`SELECT pa.tenant_id, pa.lis_id, pa.id AS assignment_id, pa.template_id, pa.version_id,
				(SELECT count(*) FROM goal_progress g WHERE g.tenant_id = pa.tenant_id AND g.lis_id = pa.lis_id AND g.status = 'approved' AND g.origin_id IS NULL) AS approved,
				(SELECT count(*) FROM plan_template_goals tg WHERE tg.tenant_id = pa.tenant_id AND tg.template_id = pa.template_id
					AND NOT EXISTS (SELECT 1 FROM goal_progress g WHERE g.tenant_id = pa.tenant_id AND g.lis_id = pa.lis_id AND g.goal_code = tg.goal_code)) AS missing,
				(SELECT count(*) FROM activities a WHERE a.tenant_id = pa.tenant_id AND a.lis_id = pa.lis_id) AS activities,
				coalesce((SELECT g.decided_by FROM goal_progress g WHERE g.tenant_id = pa.tenant_id AND g.lis_id = pa.lis_id AND g.decided_by IS NOT NULL LIMIT 1), pa.assigned_by, pa.lis_id) AS decided_by
				FROM plan_assignments pa JOIN people p ON p.id = pa.lis_id
				WHERE pa.tenant_id = ? AND pa.archived_at IS NULL AND p.email NOT LIKE 'bench-%'`, t.ID).Scan(ctx, &ls)
		})
		if err != nil {
			return best, err
		}
		for _, l := range ls {
			s, b := score(l), score(best)
			if best.LIS == uuid.Nil || s[0] > b[0] || (s[0] == b[0] && s[1] > b[1]) {
				best = l
			}
		}
	}
	if best.LIS == uuid.Nil {
		return best, fmt.Errorf("no LIS with a plan: seed the national data set first (kportal seed --national)")
	}
	return best, nil
}

// prepareDossier approves goals of l's plan up to goals (new rows, marked),
// gives l an HPR number if they have none, and makes the bench's API key
// (scope records:read). It returns the HPR number and the key.
func prepareDossier(ctx context.Context, owner bun.IDB, l dossierLIS, goals int) (hpr, token string, err error) {
	if add := min(l.Missing, goals-l.Approved); add > 0 {
		err := tenants.WithTenantTx(ctx, owner, tenants.Scope{TenantID: l.Tenant}, func(ctx context.Context, tx bun.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO goal_progress (tenant_id, lis_id, assignment_id, goal_code, version_id, status, decided_by, decided_at, decision_note)
				SELECT tg.tenant_id, ?, ?, tg.goal_code, ?, 'approved', ?, now() - interval '1 day', ? FROM plan_template_goals tg
				WHERE tg.tenant_id = ? AND tg.template_id = ?
					AND NOT EXISTS (SELECT 1 FROM goal_progress g WHERE g.tenant_id = tg.tenant_id AND g.lis_id = ? AND g.goal_code = tg.goal_code)
				ORDER BY tg.goal_code LIMIT ?`, l.LIS, l.Assignment, l.Version, l.DecidedBy, dossierMark, l.Tenant, l.Template, l.LIS, add)
			return err
		})
		if err != nil {
			return "", "", fmt.Errorf("approving goals: %w", err)
		}
	}
	var had *string
	if err := owner.NewRaw("SELECT hpr_number FROM people WHERE id = ?", l.LIS).Scan(ctx, &had); err != nil {
		return "", "", err
	}
	hpr = dossierHPR
	if had != nil {
		hpr = *had
	} else if _, err := owner.ExecContext(ctx, "UPDATE people SET hpr_number = ? WHERE id = ?", hpr, l.LIS); err != nil {
		return "", "", fmt.Errorf("giving the LIS an HPR number: %w", err)
	}
	// A key as modules/api makes one: kp_ + 32 random bytes, its SHA-256 kept.
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	token = "kp_" + base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(token))
	err = keysAdmin(ctx, owner, func(tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO api_keys (name, owner_tenant_id, scopes, prefix, hash, created_by) VALUES (?, ?, ARRAY[?], ?, ?, ?)",
			dossierMark, l.Tenant, api.ScopeRecords, token[:11], sum[:], l.DecidedBy)
		return err
	})
	return hpr, token, err
}

// keysAdmin runs fn as the owner with the api_keys_admin policy in force.
func keysAdmin(ctx context.Context, owner bun.IDB, fn func(tx bun.Tx) error) error {
	return owner.RunInTx(ctx, &sql.TxOptions{}, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, "SELECT set_config('app.tenant_id', '', true), set_config('app.api_keys_admin', 'on', true)"); err != nil {
			return err
		}
		return fn(tx)
	})
}

// restoreDossier removes what the bench added: the access log rows of its
// keys (access_log has no policy that lets anyone delete, so row security is
// lifted for this one transaction), its keys, the goals it approved, and the
// HPR number it gave.
func restoreDossier(ctx context.Context, owner bun.IDB, ts []benchTenant) error {
	err := keysAdmin(ctx, owner, func(tx bun.Tx) error {
		var keys []uuid.UUID
		if err := tx.NewRaw("SELECT id FROM api_keys WHERE name = ?", dossierMark).Scan(ctx, &keys); err != nil || len(keys) == 0 {
			return err
		}
		for _, s := range []string{
			"ALTER TABLE access_log NO FORCE ROW LEVEL SECURITY",
			"DELETE FROM access_log WHERE api_key_id IN (SELECT id FROM api_keys WHERE name = '" + dossierMark + "')",
			"ALTER TABLE access_log FORCE ROW LEVEL SECURITY",
			"DELETE FROM api_key_audit WHERE key_id IN (SELECT id FROM api_keys WHERE name = '" + dossierMark + "')",
			"DELETE FROM api_keys WHERE name = '" + dossierMark + "'",
		} {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("%.40s…: %w", s, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, t := range ts {
		err := tenants.WithTenantTx(ctx, owner, tenants.Scope{TenantID: t.ID}, func(ctx context.Context, tx bun.Tx) error {
			_, err := tx.ExecContext(ctx, "DELETE FROM goal_progress WHERE tenant_id = ? AND decision_note = ?", t.ID, dossierMark)
			return err
		})
		if err != nil {
			return err
		}
	}
	_, err = owner.ExecContext(ctx, "UPDATE people SET hpr_number = NULL WHERE hpr_number = ?", dossierHPR)
	return err
}

// checkRecord asks for the record once and wants a 200.
func checkRecord(ctx context.Context, url string, auth func(*http.Request)) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	auth(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 500))
		return fmt.Errorf("GET %s answered %d: %s", url, resp.StatusCode, b)
	}
	return nil
}

// recordQueries is the SQL GET /api/v1/records/<hpr> sends, captured from
// the calls its handler makes (the key's look-up, the person's, the access
// log's insert, history.LoadFor, the catalogue's labels) on a database with a
// query hook: the baseline replays exactly these texts.
func recordQueries(ctx context.Context, cfg *config, lis uuid.UUID, hpr, token string) ([]string, error) {
	db, err := storage.OpenDB(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	hook := &captureHook{}
	db.AddQueryHook(hook)
	sum := sha256.Sum256([]byte(token))
	var key api.Key
	err = db.RunInTx(ctx, &sql.TxOptions{ReadOnly: true}, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, "SELECT set_config('app.tenant_id', '', true), set_config('app.api_key_hash', ?, true)", fmt.Sprintf("%x", sum[:])); err != nil {
			return err
		}
		return tx.NewRaw(`SELECT k.id, k.name, k.owner_tenant_id, t.name AS owner_name, t.slug AS owner_slug, k.scopes, k.prefix, k.created_by, k.created_at, k.revoked_at
			FROM api_keys k JOIN tenants t ON t.id = k.owner_tenant_id`).Scan(ctx, &key)
	})
	if err != nil {
		return nil, fmt.Errorf("the key: %w", err)
	}
	var name string
	if err := db.NewRaw("SELECT trim(given_name || ' ' || family_name) AS name FROM people WHERE hpr_number = ?", hpr).Scan(ctx, &name); err != nil {
		return nil, err
	}
	err = tenants.WithTenantTx(ctx, db, tenants.Scope{}, func(ctx context.Context, tx bun.Tx) error {
		return accesslog.Record(ctx, tx, accesslog.Entry{SubjectID: lis, APIKeyID: &key.ID, ReaderName: "API-nøkkel «" + key.Name + "»",
			ReaderOrg: "kportal bench", CaseNumber: dossierCase, What: "Hele journalen (API)"})
	})
	if err != nil {
		return nil, err
	}
	rec, err := history.LoadFor(ctx, db, lis)
	if err != nil {
		return nil, err
	}
	var versions []int
	for _, s := range rec.Sections {
		for _, g := range s.Goals {
			if !slices.Contains(versions, g.VersionID) {
				versions = append(versions, g.VersionID)
			}
		}
	}
	if len(versions) > 0 {
		var labels []string
		if err := db.NewRaw("SELECT label FROM catalog_versions WHERE id IN (?)", bun.In(versions)).Scan(ctx, &labels); err != nil {
			return nil, err
		}
	}
	return hook.queries, nil
}

// captureHook keeps the text of every statement sent.
type captureHook struct {
	mu      sync.Mutex
	queries []string
}

func (h *captureHook) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }

func (h *captureHook) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	switch strings.ToUpper(strings.TrimSpace(e.Query)) {
	case "BEGIN", "COMMIT", "ROLLBACK": // the replay is one transaction of its own
		return
	}
	h.mu.Lock()
	h.queries = append(h.queries, e.Query)
	h.mu.Unlock()
}

// replay sends queries in one transaction and reads every row; it returns
// how many rows came back. The texts repeat, so pgx prepares each once per
// connection: the raw baseline at its best.
func replay(ctx context.Context, pool *pgxpool.Pool, queries []string) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for _, q := range queries {
			rows, err := tx.Query(ctx, q)
			if err != nil {
				return err
			}
			for rows.Next() {
				if _, err := rows.Values(); err != nil {
					rows.Close()
					return err
				}
				n++
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("%.60s…: %w", strings.TrimSpace(q), err)
			}
		}
		return nil
	})
	return n, err
}
