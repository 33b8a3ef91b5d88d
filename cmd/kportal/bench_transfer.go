package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	kratos "github.com/ory/kratos-client-go"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"golang.org/x/sync/errgroup"

	"kportal/modules/identity"
	"kportal/modules/transfers"
	"kportal/modules/web"
	"kportal/storage"
	"kportal/tenants"
	"kportal/workers"
)

func init() {
	scenarios["transfer"] = bench{run: benchTransfer, writes: true, flags: func(fs *flag.FlagSet) {
		fs.IntVar(&transferLIS, "lis", 1000, "transfer: how many LIS to move")
	}}
}

var transferLIS = 1000

const (
	// transferBatchFile names the bench's transfer_batches rows, so a run
	// finds what an interrupted one left and puts it back first.
	transferBatchFile = "kportal bench transfer"
	// movedEmail is the address a moved LIS signs in with while the home is
	// measured (their own is put back afterwards): the run's batch, a number.
	movedEmail = "bench-moved-%.8s-%03d@" + NationalDomain
)

type transferOptions struct {
	LIS     int           // how many LIS to move
	Measure time.Duration // each load run of the home
	Batch   uuid.UUID     // the batch's id; a new one when zero
}

func benchTransfer(ctx context.Context, cfg *config) ([][2]string, error) {
	if transferLIS < 1 {
		return nil, fmt.Errorf("--lis must be at least 1, not %d", transferLIS)
	}
	return runTransferBench(ctx, cfg, transferOptions{LIS: transferLIS, Measure: learningDuration}, os.Stderr)
}

// runTransferBench moves opts.LIS LIS of the national data set (never the
// bench users, whom the other scenarios need where they are) to a tenant in
// another RHF in one batch, as the yearly rotation does: each registered
// through the transfers store with today's start date and its sync job run
// by an asynq worker in this process (the real handlers, on the bench's
// Redis DB). seconds runs from the batch's start (its rows written, the
// registrations begun) until the last sync job has committed. Then the home
// of moved LIS is measured against its raw baseline as in bench home, and so
// is the home of the unmoved bench LIS in the same run. Afterwards every row
// the moves and the sign-ins added or changed is put back as it was (with the
// owner role: the application may not delete moves), so runs repeat.
func runTransferBench(ctx context.Context, cfg *config, opts transferOptions, notes io.Writer) (kv [][2]string, err error) {
	cfg.LogLevel = "error"
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	// The worker's side opens as kportal worker does (no authorization
	// policy); the web server's side opens after the batch.
	w, err := open(ctx, cfg, false)
	if err != nil {
		return nil, err
	}
	defer w.close()
	w.log = quiet
	owner, err := storage.OpenDB(ctx, cfg.MigrateURL, 4)
	if err != nil {
		return nil, err
	}
	defer owner.Close()
	in := asynq.NewInspector(w.redis)
	defer in.Close()
	if servers, err := in.Servers(); err != nil {
		return nil, err
	} else if len(servers) > 0 {
		return nil, fmt.Errorf("%d asynq worker(s) already use Redis DB %d and would take the bench's jobs: set KPORTAL_REDIS_DB to a free one", len(servers), cfg.RedisDB)
	}
	ts, err := benchTenants(ctx, w.db)
	if err != nil {
		return nil, err
	}
	if err := restoreLeftovers(ctx, owner, w.kratos, ts, notes); err != nil {
		return nil, fmt.Errorf("putting back what an earlier run left: %w", err)
	}
	moves, err := planMoves(ctx, w.db, ts, opts.LIS)
	if err != nil {
		return nil, err
	}
	if len(moves) == 0 {
		return nil, fmt.Errorf("no LIS to move: seed the national data set first (kportal seed --national)")
	}
	activities := 0
	for _, m := range moves {
		activities += m.Activities
	}
	if len(moves) < opts.LIS {
		fmt.Fprintf(notes, "transfer: this data set has %d LIS that are not bench users (with %d activities): moving %d, not %d\n",
			len(moves), activities, len(moves), opts.LIS)
	}

	runStart := time.Now()
	batch := opts.Batch
	if batch == uuid.Nil {
		batch = uuid.New()
	}
	var (
		unmoved, moved []benchUser
		swaps          []swappedLogin
	)
	// Whatever happens from here, the data set is put back.
	defer func() {
		t0 := time.Now()
		var actors []uuid.UUID
		for _, u := range unmoved {
			actors = append(actors, u.Person)
		}
		rerr := restoreBatch(ctx, owner, ts, batch, runStart, actors)
		rerr = errors.Join(rerr, restoreLogins(ctx, owner, w.kratos, swaps))
		if rerr != nil {
			err = errors.Join(err, fmt.Errorf("putting the data set back: %w", rerr))
			return
		}
		kv = append(kv, [2]string{"restore_s", fmt.Sprintf("%.1f", time.Since(t0).Seconds())})
	}()

	// The worker: the application's job handlers, timed per move.
	var (
		mu        sync.Mutex
		durations []time.Duration
		last      time.Time
		synced    atomic.Int64
		syncErrs  atomic.Int64
	)
	mux := w.jobMux()
	srv := workers.NewServer(w.redis, cfg.Concurrency, quiet)
	if err := srv.Start(asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		t0 := time.Now()
		err := mux.ProcessTask(ctx, t)
		if t.Type() == transfers.TypeSync {
			if err != nil {
				syncErrs.Add(1)
				return err
			}
			mu.Lock()
			durations = append(durations, time.Since(t0))
			last = time.Now()
			mu.Unlock()
			synced.Add(1)
		}
		return err
	})); err != nil {
		return nil, err
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			srv.Shutdown()
		}
	}
	defer stop()

	if path := os.Getenv("KPORTAL_BENCH_CPUPROFILE"); path != "" { // the batch's part
		f, err := os.Create(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	registered, err := registerBatch(ctx, w, batch, moves)
	registerSeconds := time.Since(start).Seconds()
	if err == nil {
		err = waitCount(ctx, func() int64 { return synced.Load() }, int64(registered), 10*time.Minute)
	}
	pprof.StopCPUProfile()
	if err != nil {
		return nil, fmt.Errorf("the batch: %w", err)
	}
	mu.Lock()
	seconds := last.Sub(start).Seconds()
	slices.Sort(durations)
	var total time.Duration
	for _, d := range durations {
		total += d
	}
	perLIS, p99 := total/time.Duration(len(durations)), durations[(len(durations)*99)/100]
	mu.Unlock()
	stop()
	carried, err := batchDone(ctx, w.db, ts, batch, registered)
	if err != nil {
		return nil, err
	}

	// The home, unmoved bench LIS then moved LIS (as many), each against
	// its baseline, through a web server opened now, as after a deploy.
	a, err := openApp(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer a.close()
	a.log = quiet
	if unmoved, err = benchLogins(ctx, cfg, a, "bench-lis-"); err != nil {
		return nil, err
	}
	moved, swaps, err = movedLogins(ctx, cfg, a, owner, batch, spread(moves, len(unmoved)))
	if err != nil {
		return nil, err
	}
	p, err := newPageBench(ctx, cfg, a, "home")
	if err != nil {
		return nil, err
	}
	defer p.close()
	warm := min(2*time.Second, opts.Measure)
	var figures [2]struct{ got, base, one loadResult }
	for i, users := range [][]benchUser{unmoved, moved} {
		if err := p.use(ctx, users); err != nil {
			return nil, err
		}
		f := &figures[i]
		p.run(ctx, false, learningConcurrency, warm)
		f.base = p.run(ctx, false, learningConcurrency, opts.Measure)
		p.run(ctx, true, learningConcurrency, warm)
		f.got = p.run(ctx, true, learningConcurrency, opts.Measure)
		f.one = p.run(ctx, true, 1, min(3*time.Second, opts.Measure))
		if f.got.Requests == 0 || f.got.Errors*1000 > f.got.Requests || f.base.Errors*1000 > f.base.Requests || f.one.Errors > 0 {
			return nil, fmt.Errorf("home: %d of %d requests failed (baseline: %d of %d): %s%s", f.got.Errors, f.got.Errors+f.got.Requests, f.base.Errors, f.base.Errors+f.base.Requests,
				f.got.FirstError+f.one.FirstError, f.base.FirstError)
		}
	}
	ratio := func(i int) float64 { return figures[i].got.RPS / figures[i].base.RPS }
	kv = [][2]string{
		{"lis", fmt.Sprint(registered)},
		{"seconds", fmt.Sprintf("%.1f", seconds)},
		{"per_lis_ms", ms(perLIS)},
		{"p99_lis_ms", ms(p99)},
		{"home_ratio", fmt.Sprintf("%.2f", ratio(1))},
		{"home_ratio_unmoved", fmt.Sprintf("%.2f", ratio(0))},
	}
	if registered < opts.LIS {
		kv = append(kv, [2]string{"asked", fmt.Sprint(opts.LIS)})
	}
	return append(kv,
		[2]string{"activities", fmt.Sprint(activities)},
		[2]string{"approvals_carried", fmt.Sprint(carried)},
		[2]string{"register_s", fmt.Sprintf("%.1f", registerSeconds)},
		[2]string{"sync_errors", fmt.Sprint(syncErrs.Load())},
		[2]string{"concurrency", fmt.Sprint(cfg.Concurrency)},
		[2]string{"home_rps", fmt.Sprintf("%.0f", figures[1].got.RPS)},
		[2]string{"home_baseline_rps", fmt.Sprintf("%.0f", figures[1].base.RPS)},
		[2]string{"home_c1_p50_ms", ms(figures[1].one.P50)},
		[2]string{"home_rps_unmoved", fmt.Sprintf("%.0f", figures[0].got.RPS)},
		[2]string{"home_baseline_rps_unmoved", fmt.Sprintf("%.0f", figures[0].base.RPS)},
		[2]string{"home_c1_p50_ms_unmoved", ms(figures[0].one.P50)},
		[2]string{"home_users", fmt.Sprint(len(moved))},
	), nil
}

// benchTenant is a tenant of the data set with what a move into it needs.
type benchTenant struct {
	ID        uuid.UUID `bun:"id"`
	Slug      string    `bun:"slug"`
	RHF       string    `bun:"rhf"`
	templates []uuid.UUID
	leders    []uuid.UUID
}

func benchTenants(ctx context.Context, db bun.IDB) ([]benchTenant, error) {
	var ts []benchTenant
	if err := db.NewRaw("SELECT id, slug, coalesce(rhf_code, '') AS rhf FROM tenants ORDER BY created_at, id").Scan(ctx, &ts); err != nil {
		return nil, err
	}
	for i := range ts {
		t := &ts[i]
		err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: t.ID}, func(ctx context.Context, tx bun.Tx) error {
			if err := tx.NewRaw("SELECT id FROM plan_templates WHERE tenant_id = ? AND archived_at IS NULL ORDER BY name, id", t.ID).Scan(ctx, &t.templates); err != nil {
				return err
			}
			return tx.NewRaw("SELECT person_id FROM memberships WHERE tenant_id = ? AND role = 'leder' ORDER BY person_id", t.ID).Scan(ctx, &t.leders)
		})
		if err != nil {
			return nil, err
		}
	}
	return ts, nil
}

// transferMove is one LIS to move.
type transferMove struct {
	LIS        uuid.UUID
	Email      string
	From, To   uuid.UUID
	ToSlug     string
	Template   uuid.UUID
	Leder      uuid.UUID
	Activities int
}

// planMoves picks up to n LIS that are not bench users, with an active plan,
// those with the most activities first (ties spread over the tenants), and
// gives each a tenant in another RHF (kommuner and private providers without
// one count as another, as in transfers.sameRHF), its plan and leder there.
func planMoves(ctx context.Context, db bun.IDB, ts []benchTenant, n int) ([]transferMove, error) {
	type candidate struct {
		transferMove
		rank, tenant int
	}
	var cands []candidate
	for i, t := range ts {
		var lis []struct {
			ID    uuid.UUID `bun:"id"`
			Email string    `bun:"email"`
			N     int       `bun:"n"`
		}
		err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: t.ID}, func(ctx context.Context, tx bun.Tx) error {
			return tx.NewRaw(`SELECT p.id, p.email, (SELECT count(*) FROM activities a WHERE a.tenant_id = m.tenant_id AND a.lis_id = m.person_id) AS n
				FROM memberships m JOIN people p ON p.id = m.person_id
				WHERE m.tenant_id = ? AND m.role = 'lis' AND p.email NOT LIKE 'bench-%'
				  AND EXISTS (SELECT 1 FROM plan_assignments pa WHERE pa.tenant_id = m.tenant_id AND pa.lis_id = m.person_id AND pa.archived_at IS NULL)
				ORDER BY n DESC, p.id`, t.ID).Scan(ctx, &lis)
		})
		if err != nil {
			return nil, err
		}
		for r, l := range lis {
			cands = append(cands, candidate{transferMove{LIS: l.ID, Email: l.Email, From: t.ID, Activities: l.N}, r, i})
		}
	}
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if a.Activities != b.Activities {
			return a.Activities > b.Activities
		}
		if a.rank != b.rank {
			return a.rank < b.rank
		}
		return a.tenant < b.tenant
	})
	cands = cands[:min(n, len(cands))]
	from, into := map[int]int{}, map[int]int{}
	moves := make([]transferMove, 0, len(cands))
	for _, c := range cands {
		src := ts[c.tenant]
		var targets []int
		for j, t := range ts {
			if j != c.tenant && len(t.templates) > 0 && len(t.leders) > 0 && (src.RHF == "" || t.RHF != src.RHF) {
				targets = append(targets, j)
			}
		}
		if len(targets) == 0 {
			return nil, fmt.Errorf("no tenant outside %s's RHF to move its LIS to", src.Slug)
		}
		j := targets[(c.tenant+from[c.tenant])%len(targets)]
		from[c.tenant]++
		to, k := ts[j], into[j]
		into[j]++
		m := c.transferMove
		m.To, m.ToSlug, m.Template, m.Leder = to.ID, to.Slug, to.templates[k%len(to.templates)], to.leders[k%len(to.leders)]
		moves = append(moves, m)
	}
	return moves, nil
}

// spread picks up to n moves, one new workplace at a time.
func spread(moves []transferMove, n int) []transferMove {
	by := map[uuid.UUID][]transferMove{}
	var order []uuid.UUID
	for _, m := range moves {
		if by[m.To] == nil {
			order = append(order, m.To)
		}
		by[m.To] = append(by[m.To], m)
	}
	var out []transferMove
	for round := 0; len(out) < min(n, len(moves)); round++ {
		for _, t := range order {
			if round < len(by[t]) && len(out) < n {
				out = append(out, by[t][round])
			}
		}
	}
	return out
}

// registerBatch writes the batch's rows (one per new workplace, all with the
// batch's id) and registers and queues every move, four at a time, as a CSV
// of arrivals would; it returns how many were queued.
func registerBatch(ctx context.Context, a *app, batch uuid.UUID, moves []transferMove) (int, error) {
	rows := map[uuid.UUID]int{}
	for _, m := range moves {
		rows[m.To]++
	}
	for t, n := range rows {
		err := tenants.WithTenantTx(ctx, a.db, tenants.Scope{TenantID: t}, func(ctx context.Context, tx bun.Tx) error {
			_, err := tx.ExecContext(ctx, "INSERT INTO transfer_batches (tenant_id, id, filename, rows) VALUES (?, ?, ?, ?)", t, batch, transferBatchFile, n)
			return err
		})
		if err != nil {
			return 0, err
		}
	}
	store := transfers.NewStore(a.db)
	today := time.Now().In(web.Oslo).Format("2006-01-02")
	by := tenants.Actor{Name: "kportal bench transfer"}
	var queued atomic.Int64
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, m := range moves {
		g.Go(func() error {
			t, err := store.Register(ctx, m.To, by, transfers.Arrival{Who: m.Email, StartsOn: today, TemplateID: m.Template.String(),
				LederID: m.Leder.String(), From: m.From.String()}, &batch)
			if err == nil {
				err = transfers.Enqueue(ctx, a.queue, t)
			}
			if err != nil {
				return fmt.Errorf("moving %s: %w", m.Email, err)
			}
			queued.Add(1)
			return nil
		})
	}
	err := g.Wait()
	return int(queued.Load()), err
}

// batchDone checks that every move of the batch is done and returns how many
// approvals they carried.
func batchDone(ctx context.Context, db bun.IDB, ts []benchTenant, batch uuid.UUID, want int) (int, error) {
	done, carried := 0, 0
	for _, t := range ts {
		var rows []struct {
			Status  string `bun:"status"`
			Carried int    `bun:"carried"`
			Reason  string `bun:"reason"`
		}
		err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: t.ID}, func(ctx context.Context, tx bun.Tx) error {
			return tx.NewRaw(`SELECT status, coalesce(jsonb_array_length(report->'carried'), 0) AS carried, coalesce(report->>'reason', '') AS reason
				FROM transfers WHERE tenant_id = ? AND batch_id = ?`, t.ID, batch).Scan(ctx, &rows)
		})
		if err != nil {
			return 0, err
		}
		for _, r := range rows {
			if r.Status != transfers.StatusDone {
				return 0, fmt.Errorf("a move into %s is %s: %s", t.Slug, r.Status, r.Reason)
			}
			done++
			carried += r.Carried
		}
	}
	if done != want {
		return 0, fmt.Errorf("%d of %d moves done", done, want)
	}
	return carried, nil
}

// swappedLogin is a moved LIS given a Kratos identity for the measurement:
// their person row's identity and e-mail before, and the identity made.
type swappedLogin struct {
	Person             uuid.UUID
	Identity, KratosID string
	Email              string
}

// movedLogins gives each moved LIS a Kratos identity (their own address
// replaced by bench-moved-<batch>-NNN@…, the original kept in the
// identity's admin metadata) and signs them in, eight at a time. Each is
// recorded in swaps before their row changes, so restoreLogins can put it
// back.
func movedLogins(ctx context.Context, cfg *config, a *app, owner bun.IDB, batch uuid.UUID, moves []transferMove) ([]benchUser, []swappedLogin, error) {
	users := make([]benchUser, len(moves))
	var (
		mu    sync.Mutex
		swaps []swappedLogin
	)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, m := range moves {
		email := fmt.Sprintf(movedEmail, batch.String(), i)
		g.Go(func() error {
			var p struct {
				Identity string `bun:"identity_id"`
				Email    string `bun:"email"`
				Given    string `bun:"given_name"`
				Family   string `bun:"family_name"`
			}
			if err := owner.NewRaw("SELECT identity_id::text, email, given_name, family_name FROM people WHERE id = ?", m.LIS).Scan(ctx, &p); err != nil {
				return err
			}
			id, err := benchIdentity(ctx, a.kratos, email, p.Given, p.Family, map[string]any{"person_id": m.LIS.String(), "identity_id": p.Identity, "email": p.Email})
			if err != nil {
				return err
			}
			mu.Lock()
			swaps = append(swaps, swappedLogin{Person: m.LIS, Identity: p.Identity, KratosID: id, Email: p.Email})
			mu.Unlock()
			if _, err := owner.NewRaw("UPDATE people SET identity_id = ?, email = ? WHERE id = ?", id, email, m.LIS).Exec(ctx); err != nil {
				return err
			}
			u, err := benchLogin(ctx, cfg, a, m.LIS, email)
			u.Tenant, u.Slug = m.To, m.ToSlug // the new workplace's home
			users[i] = u
			return err
		})
	}
	err := g.Wait()
	return users, swaps, err
}

// benchIdentity creates a Kratos identity with the bench password (one left
// with the address by an interrupted run goes first).
func benchIdentity(ctx context.Context, k *identity.Kratos, email, given, family string, meta map[string]any) (string, error) {
	found, _, err := k.Admin.IdentityAPI.ListIdentities(ctx).CredentialsIdentifier(email).Execute()
	if err != nil {
		return "", fmt.Errorf("looking up identity %s: %w", email, err)
	}
	for _, f := range found {
		if _, err := k.Admin.IdentityAPI.DeleteIdentity(ctx, f.Id).Execute(); err != nil {
			return "", fmt.Errorf("removing the old identity %s: %w", email, err)
		}
	}
	body := kratos.NewCreateIdentityBody(identity.SchemaID, map[string]any{"email": email, "name": map[string]any{"given": given, "family": family}})
	password := NationalBenchPassword
	body.Credentials = &kratos.IdentityWithCredentials{Password: &kratos.IdentityWithCredentialsPassword{
		Config: &kratos.IdentityWithCredentialsPasswordConfig{Password: &password}}}
	body.VerifiableAddresses = []kratos.VerifiableIdentityAddress{{Value: email, Via: "email", Verified: true, Status: "completed"}}
	body.MetadataAdmin = meta
	id, _, err := k.Admin.IdentityAPI.CreateIdentity(ctx).CreateIdentityBody(*body).Execute()
	if err != nil {
		return "", fmt.Errorf("creating identity %s: %w", email, err)
	}
	return id.Id, nil
}

// restoreLogins gives the moved LIS back their identity and e-mail and
// removes the identities made for them.
func restoreLogins(ctx context.Context, owner bun.IDB, k *identity.Kratos, swaps []swappedLogin) error {
	var errs []error
	for _, s := range swaps {
		if _, err := owner.NewRaw("UPDATE people SET identity_id = ?, email = ? WHERE id = ?", s.Identity, s.Email, s.Person).Exec(ctx); err != nil {
			errs = append(errs, err)
			continue
		}
		if resp, err := k.Admin.IdentityAPI.DeleteIdentity(ctx, s.KratosID).Execute(); err != nil && (resp == nil || resp.StatusCode != 404) {
			errs = append(errs, fmt.Errorf("removing identity %s: %w", s.KratosID, err))
		}
	}
	return errors.Join(errs...)
}

// restoreLeftovers puts back what an interrupted run left: its batches and
// the sign-ins it swapped (found by their bench-moved-… address, the original
// read from the identity's admin metadata).
func restoreLeftovers(ctx context.Context, owner *bun.DB, k *identity.Kratos, ts []benchTenant, notes io.Writer) error {
	var people []struct {
		ID       uuid.UUID `bun:"id"`
		Identity string    `bun:"identity_id"`
	}
	if err := owner.NewRaw("SELECT id, identity_id::text FROM people WHERE email LIKE ?", "bench-moved-%@"+NationalDomain).Scan(ctx, &people); err != nil {
		return err
	}
	var swaps []swappedLogin
	for _, p := range people {
		id, _, err := k.Admin.IdentityAPI.GetIdentity(ctx, p.Identity).Execute()
		if err != nil {
			return fmt.Errorf("the identity of %s, swapped by an earlier run: %w", p.ID, err)
		}
		meta, _ := id.MetadataAdmin.(map[string]any)
		orig, _ := meta["identity_id"].(string)
		email, _ := meta["email"].(string)
		if orig == "" || email == "" || meta["person_id"] != p.ID.String() {
			return fmt.Errorf("person %s was given identity %s by an earlier run, which does not say what it replaced", p.ID, p.Identity)
		}
		swaps = append(swaps, swappedLogin{Person: p.ID, Identity: orig, KratosID: p.Identity, Email: email})
	}
	batches := map[uuid.UUID]time.Time{}
	for _, t := range ts {
		var rows []struct {
			ID uuid.UUID `bun:"id"`
			At time.Time `bun:"created_at"`
		}
		err := tenants.WithTenantTx(ctx, owner, tenants.Scope{TenantID: t.ID}, func(ctx context.Context, tx bun.Tx) error {
			return tx.NewRaw("SELECT id, created_at FROM transfer_batches WHERE tenant_id = ? AND filename = ?", t.ID, transferBatchFile).Scan(ctx, &rows)
		})
		if err != nil {
			return err
		}
		for _, r := range rows {
			if at, ok := batches[r.ID]; !ok || r.At.Before(at) {
				batches[r.ID] = r.At
			}
		}
	}
	for id, at := range batches {
		fmt.Fprintf(notes, "transfer: putting back batch %s, left by an interrupted run\n", id)
		if err := restoreBatch(ctx, owner, ts, id, at, nil); err != nil {
			return err
		}
	}
	if len(swaps) > 0 {
		fmt.Fprintf(notes, "transfer: putting back %d sign-ins left by an interrupted run\n", len(swaps))
	}
	return restoreLogins(ctx, owner, k, swaps)
}

// restoreBatch undoes the batch's moves. A move's sync job did everything in
// one transaction, so every row it wrote carries that transaction's now(),
// which is also the move's synced_at: the plans it ended (archived_at), the
// plan, membership, relation and carried approvals it added at the new
// workplace, its audit entries and notices at both. The registrations'
// audit entries carry registered_at. Tenant entries since `since` of actors
// (and of the moved LIS) go too: the home's sign-ins wrote them.
func restoreBatch(ctx context.Context, owner *bun.DB, ts []benchTenant, batch uuid.UUID, since time.Time, actors []uuid.UUID) error {
	type moveRow struct {
		ID         uuid.UUID  `bun:"id"`
		Tenant     uuid.UUID  `bun:"tenant_id"`
		LIS        uuid.UUID  `bun:"lis_id"`
		From       uuid.UUID  `bun:"from_tenant_id"`
		Registered time.Time  `bun:"registered_at"`
		Synced     *time.Time `bun:"synced_at"`
	}
	var all []moveRow
	for _, t := range ts {
		var rows []moveRow
		err := tenants.WithTenantTx(ctx, owner, tenants.Scope{TenantID: t.ID}, func(ctx context.Context, tx bun.Tx) error {
			return tx.NewRaw("SELECT id, tenant_id, lis_id, from_tenant_id, registered_at, synced_at FROM transfers WHERE tenant_id = ? AND batch_id = ?",
				t.ID, batch).Scan(ctx, &rows)
		})
		if err != nil {
			return err
		}
		all = append(all, rows...)
	}
	stamp := func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.999999Z07:00") }
	var syncedAll []string
	for _, x := range all {
		if x.Synced != nil {
			syncedAll = append(syncedAll, stamp(*x.Synced))
		}
	}
	for _, t := range ts {
		var (
			ids, lis, regLIS, regAt, inLIS, inAt, outLIS, outAt, who []string
		)
		for _, x := range all {
			if x.Tenant == t.ID {
				ids, lis = append(ids, x.ID.String()), append(lis, x.LIS.String())
				regLIS, regAt = append(regLIS, x.LIS.String()), append(regAt, stamp(x.Registered))
				if x.Synced != nil {
					inLIS, inAt = append(inLIS, x.LIS.String()), append(inAt, stamp(*x.Synced))
				}
			}
			if x.From == t.ID && x.Synced != nil {
				outLIS, outAt = append(outLIS, x.LIS.String()), append(outAt, stamp(*x.Synced))
			}
		}
		for _, a := range actors {
			who = append(who, a.String())
		}
		who = append(who, lis...)
		if len(ids)+len(outLIS)+len(who) == 0 {
			continue
		}
		arr := func(s []string) any { return pgdialect.Array(s) }
		steps := []struct {
			sql  string
			args []any
		}{
			{`DELETE FROM deliveries WHERE tenant_id = ? AND event_id IN (SELECT id FROM outbox WHERE tenant_id = ? AND at = ANY (?::timestamptz[])
				AND topic IN ('plan.assigned', 'transfer.left', 'transfer.started', 'transfer.arrived', 'transfer.veileder'))`, []any{t.ID, t.ID, arr(syncedAll)}},
			{`DELETE FROM outbox WHERE tenant_id = ? AND at = ANY (?::timestamptz[])
				AND topic IN ('plan.assigned', 'transfer.left', 'transfer.started', 'transfer.arrived', 'transfer.veileder')`, []any{t.ID, arr(syncedAll)}},
			{`DELETE FROM audit_log WHERE tenant_id = ? AND at = ANY (?::timestamptz[])
				AND action IN ('transfer.left', 'transfer.done', 'role.granted', 'relation.added')`, []any{t.ID, arr(syncedAll)}},
			{`DELETE FROM audit_log WHERE tenant_id = ? AND action = 'transfer.registered'
				AND (subject_id, at) IN (SELECT * FROM unnest(?::uuid[], ?::timestamptz[]))`, []any{t.ID, arr(regLIS), arr(regAt)}},
			{`DELETE FROM audit_log WHERE tenant_id = ? AND action = 'tenant.entered' AND at >= ? AND actor_id = ANY (?::uuid[])`, []any{t.ID, since, arr(who)}},
			{`DELETE FROM goal_progress WHERE tenant_id = ? AND origin_id IS NOT NULL AND assignment_id IN (SELECT id FROM plan_assignments
				WHERE tenant_id = ? AND (lis_id, assigned_at) IN (SELECT * FROM unnest(?::uuid[], ?::timestamptz[])))`, []any{t.ID, t.ID, arr(inLIS), arr(inAt)}},
			{`DELETE FROM plan_assignments WHERE tenant_id = ? AND (lis_id, assigned_at) IN (SELECT * FROM unnest(?::uuid[], ?::timestamptz[]))`, []any{t.ID, arr(inLIS), arr(inAt)}},
			{`DELETE FROM relations WHERE tenant_id = ? AND (lis_id, created_at) IN (SELECT * FROM unnest(?::uuid[], ?::timestamptz[]))`, []any{t.ID, arr(inLIS), arr(inAt)}},
			{`DELETE FROM memberships WHERE tenant_id = ? AND created_at = ANY (?::timestamptz[])`, []any{t.ID, arr(inAt)}},
			{`DELETE FROM earlier_workplaces WHERE tenant_id = ? AND transfer_id = ANY (?::uuid[])`, []any{t.ID, arr(ids)}},
			{`DELETE FROM transfers WHERE tenant_id = ? AND batch_id = ?`, []any{t.ID, batch}},
			{`DELETE FROM transfer_batches WHERE tenant_id = ? AND id = ?`, []any{t.ID, batch}},
			{`UPDATE plan_assignments SET archived_at = NULL WHERE tenant_id = ?
				AND (lis_id, archived_at) IN (SELECT * FROM unnest(?::uuid[], ?::timestamptz[]))`, []any{t.ID, arr(outLIS), arr(outAt)}},
		}
		err := tenants.WithTenantTx(ctx, owner, tenants.Scope{TenantID: t.ID}, func(ctx context.Context, tx bun.Tx) error {
			for _, s := range steps {
				if _, err := tx.ExecContext(ctx, s.sql, s.args...); err != nil {
					return fmt.Errorf("%.40s…: %w", s.sql, err)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("tenant %s: %w", t.Slug, err)
		}
	}
	return nil
}
