package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"github.com/uptrace/bun"

	"kportal/modules"
	"kportal/modules/activities"
	"kportal/modules/advisory"
	"kportal/modules/agreements"
	"kportal/modules/api"
	"kportal/modules/catalog"
	"kportal/modules/chain"
	"kportal/modules/documents"
	"kportal/modules/goals"
	"kportal/modules/hdir"
	"kportal/modules/health"
	"kportal/modules/history"
	"kportal/modules/identity"
	"kportal/modules/notifications"
	"kportal/modules/onboarding"
	"kportal/modules/overview"
	"kportal/modules/people"
	"kportal/modules/plans"
	"kportal/modules/progress"
	"kportal/modules/ratelimit"
	"kportal/modules/registrations"
	"kportal/modules/roles"
	"kportal/modules/transfers"
	"kportal/modules/web"
	"kportal/policies"
	"kportal/storage"
	"kportal/tenants"
	"kportal/workers"
)

// app is kportal wired together: connections, modules and their host.
type app struct {
	cfg      *config
	log      *slog.Logger
	db       *bun.DB
	objects  *storage.Objects
	kratos   *identity.Kratos
	redis    asynq.RedisClientOpt
	queue    *asynq.Client
	mailer   *workers.Mailer
	host     *modules.Host
	sessions *identity.Sessions
	web      *web.Module
	health   *health.Module
	metrics  *prometheus.Registry
	probe    bool // the role matrix test: real guard, stand-in handlers
	enforcer *policies.Enforcer
	// limitRedis counts rate limits, apart from asynq's connections so its
	// short timeouts keep a slow Redis from holding up a sign-in.
	limitRedis *redis.Client
	limiter    *ratelimit.Limiter
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
	redis.SetLogger(redisLog{log})
	return log
}

// redisLog puts go-redis' own lines (a failed dial, each time one is tried)
// into the JSON log at debug level: the health probe already logs each change
// of Redis' state once.
type redisLog struct{ log *slog.Logger }

func (r redisLog) Printf(ctx context.Context, format string, v ...any) {
	r.log.DebugContext(ctx, "redis client", "message", fmt.Sprintf(format, v...))
}

// openApp connects to every service and checks each, so bad configuration
// stops kportal at start with one line naming the problem; it also loads the
// authorization policy the web server needs.
func openApp(ctx context.Context, cfg *config) (*app, error) { return open(ctx, cfg, true) }

// open is openApp; unless it serves HTTP it skips the authorization policy, which the
// worker and the scheduler never ask (at national size a load and a LISTEN
// connection per process saved).
func open(ctx context.Context, cfg *config, serves bool) (*app, error) {
	a := &app{cfg: cfg, log: newLogger(cfg.LogLevel), metrics: prometheus.NewRegistry()}
	var err error
	if a.db, err = storage.OpenDB(ctx, cfg.DatabaseURL, cfg.DBMaxConns); err != nil {
		return nil, err
	}
	a.redis = asynq.RedisClientOpt{Addr: cfg.RedisAddr, Password: cfg.RedisPassword, DB: cfg.RedisDB}
	if err := pingRedis(ctx, a.redis); err != nil {
		return nil, err
	}
	if a.objects, err = storage.OpenObjects(ctx, storage.ObjectConfig{
		Endpoint: cfg.S3Endpoint, AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey, Bucket: cfg.S3Bucket, Secure: cfg.S3Secure,
	}); err != nil {
		return nil, err
	}
	a.kratos = identity.NewKratos(cfg.KratosPublic, cfg.KratosAdmin)
	if err := a.kratos.Ping(ctx); err != nil {
		return nil, fmt.Errorf("Ory Kratos at %s: %v", cfg.KratosAdmin, err)
	}
	if a.mailer, err = newMailer(cfg); err != nil {
		return nil, err
	}
	a.queue = asynq.NewClient(a.redis)
	a.limitRedis = redis.NewClient(&redis.Options{Addr: cfg.RedisAddr, Password: cfg.RedisPassword, DB: cfg.RedisDB,
		DialTimeout: 500 * time.Millisecond, ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond, MaxRetries: -1})
	a.limiter = ratelimit.New(a.limitRedis, cfg.Limits, a.log)

	a.host = modules.NewHost(a.db, nil)
	entries := &tenants.Entries{DB: a.db, Every: 12 * time.Hour}
	a.host.OnEnter(func(ctx context.Context, v *modules.Viewer) error {
		return entries.Record(ctx, v.Tenant.ID, tenants.Actor{PersonID: v.PersonID, Name: v.Name()})
	})
	nav := a.host.Nav
	a.sessions = identity.NewSessions(a.kratos, a.db, a.log, cfg.SessionCache)
	a.web = web.New(nav)
	// The probes read the app's fields when they run, so a test can point one elsewhere.
	a.health = health.New(a.log, a.metrics,
		health.Dependency{Name: "postgres", Required: true, Check: func(ctx context.Context) error { return a.db.PingContext(ctx) }},
		health.Dependency{Name: "redis", Check: func(ctx context.Context) error { return pingRedis(ctx, a.redis) }},
		health.Dependency{Name: "minio", Check: func(ctx context.Context) error { return a.objects.Ping(ctx) }},
		health.Dependency{Name: "kratos", Check: func(ctx context.Context) error { return a.kratos.Ping(ctx) }},
	)
	if err := a.host.Register(
		a.web,
		a.health,
		identity.New(a.kratos, a.sessions, nav, a.queue).LimitWith(a.limiter),
		onboarding.New(a.db, nav, a.queue, cfg.BaseURL, a.kratos).LimitWith(a.limiter),
		roles.New(a.db, nav, a.kratos),
		people.New(a.db, nav),
		history.New(a.db, nav).VerifyAt(cfg.BaseURL),
		chain.New(a.db, nav).LimitWith(a.limiter),
		hdir.New(a.db, nav),
		catalog.New(a.db, nav),
		plans.New(a.db, nav),
		goals.New(a.db, nav),
		activities.New(a.db, nav),
		overview.New(a.db, nav),
		advisory.New(a.db, nav),
		transfers.New(a.db, nav, a.queue, a.log),
		progress.New(a.db, nav),
		notifications.New(a.db, nav, a.mailer, a.queue, cfg.BaseURL),
		agreements.New(a.db, a.objects, nav, agreements.Options{}),
		documents.New(a.db, a.objects, nav, activities.DocumentReferrer, goals.DocumentReferrer),
		api.New(a.db, nav, a.limiter, a.log),
		registrations.New(a.db, nav, func(ctx context.Context, tenantID uuid.UUID) (bool, error) {
			s, err := agreements.InForce(ctx, a.db, tenantID)
			return s != nil, err
		}),
	); err != nil {
		return nil, err
	}
	if _, err := a.host.Workflows(); err != nil {
		return nil, err
	}
	if serves {
		if a.enforcer, err = policies.Open(ctx, a.db, cfg.DatabaseURL, a.host.Rules(), a.log); err != nil {
			return nil, fmt.Errorf("authorization policy: %w", err)
		}
		a.host.SetAuthorizer(a.enforcer)
	}
	a.metrics.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(a.db.DB, "kportal"),
		workers.NewQueueCollector(asynq.NewInspector(a.redis)),
	)
	return a, nil
}

func (a *app) close() {
	if a.enforcer != nil {
		a.enforcer.Close()
	}
	if a.queue != nil {
		a.queue.Close()
	}
	if a.limitRedis != nil {
		a.limitRedis.Close()
	}
	if a.db != nil {
		a.db.Close()
	}
}

func pingRedis(ctx context.Context, opt asynq.RedisClientOpt) error {
	c := redis.NewClient(&redis.Options{Addr: opt.Addr, Password: opt.Password, DB: opt.DB})
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("Redis at %s is not reachable: %v", opt.Addr, err)
	}
	return nil
}

// recoveredPanics counts handler panics answered as 500; the tests fail
// when any happened that a test did not provoke on purpose.
var recoveredPanics atomic.Int64

// server builds the HTTP server with every module's routes.
func (a *app) server() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = a.web.ErrorHandler(a.log)
	e.IPExtractor = clientAddress(a.cfg.TrustedProxies)
	e.Use(
		middleware.RequestID(),
		middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
			LogStatus: true, LogMethod: true, LogLatency: true, LogRequestID: true, LogError: true,
			HandleError: true,
			LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
				// Not the query, and not an invitation link's token: searches and tokens stay out of logs.
				a.log.Info("request", "method", v.Method, "path", web.LogPath(c), "status", v.Status,
					"latency_ms", v.Latency.Milliseconds(), "request_id", v.RequestID)
				return nil
			},
		}),
		health.HTTPMetrics(a.metrics), // outside the recovery, so a panic counts as the 500 it becomes
		middleware.RecoverWithConfig(middleware.RecoverConfig{
			LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
				recoveredPanics.Add(1)
				a.log.Error("panic", "error", err, "path", web.LogPath(c), "stack", string(stack))
				return err
			},
		}),
		middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{Limit: "30M", Skipper: documents.StreamsBody}),
	)
	e.Use(web.Security(a.cfg.HTTPS())...)
	e.Use(skip(health.IsProbe, a.sessions.Middleware()))
	if a.probe {
		a.host.MountProbe(e)
	} else {
		a.host.Mount(e)
	}
	e.Server.ReadHeaderTimeout = 10 * time.Second
	e.Server.IdleTimeout = 2 * time.Minute
	return e
}

// clientAddress is how a request's client address is found (c.RealIP, which
// the per-address rate limits count): the direct peer, unless trusted proxies
// are configured; then X-Forwarded-For, believed only as far back as it passes
// through them. Echo's defaults (no extractor: any X-Forwarded-For believed;
// XFF extractor: every private address trusted) would let a client choose the
// address it is counted under.
func clientAddress(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// skip applies mw except to requests for which skipped is true.
func skip(skipped func(echo.Context) bool, mw echo.MiddlewareFunc) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		with := mw(next)
		return func(c echo.Context) error {
			if skipped(c) {
				return next(c)
			}
			return with(c)
		}
	}
}

// internalServer is what only operators reach (KPORTAL_INTERNAL_ADDR): the
// metrics, and the probes again for a monitor inside the network.
func (a *app) internalServer() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Use(middleware.Recover())
	e.GET("/metrics", echo.WrapHandler(a.health.Metrics()))
	e.GET("/healthz", health.Alive)
	e.GET("/readyz", a.health.Ready)
	e.Server.ReadHeaderTimeout = 10 * time.Second
	return e
}

// dependencyProbeInterval is how often every dependency is probed for the
// log and the kportal_dependency_up gauge.
const dependencyProbeInterval = 15 * time.Second

// serveHTTP runs the public server and the internal one until ctx ends, then
// drains both; when one fails, both stop.
func (a *app) serveHTTP(ctx context.Context) error {
	type listener struct {
		name, addr string
		e          *echo.Echo
	}
	ls := []listener{{"web server", a.cfg.Addr, a.server()}}
	if a.cfg.InternalAddr != "" {
		ls = append(ls, listener{"internal server", a.cfg.InternalAddr, a.internalServer()})
	}
	errc := make(chan error, len(ls))
	for _, l := range ls {
		go func() {
			err := l.e.Start(l.addr)
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			} else {
				err = fmt.Errorf("%s on %s: %w", l.name, l.addr, err)
			}
			errc <- err
		}()
	}
	a.log.Info("web server listening", "addr", a.cfg.Addr, "url", a.cfg.BaseURL, "internal_addr", a.cfg.InternalAddr)
	wctx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() { a.health.Watch(wctx, dependencyProbeInterval); close(watched) }()
	defer func() { stopWatch(); <-watched }()
	var first error
	select {
	case first = <-errc:
	case <-ctx.Done():
	}
	a.log.Info("web server draining")
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownPeriod)
	defer cancel()
	for _, l := range ls {
		if err := l.e.Shutdown(sctx); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// jobMux registers every job handler: the infrastructure's and the modules'.
func (a *app) jobMux() *asynq.ServeMux {
	mux := asynq.NewServeMux()
	mux.HandleFunc(workers.TypeSendMail, a.mailer.HandleSendMail)
	a.host.RegisterTasks(mux)
	return mux
}

// work runs the asynq worker until ctx ends: Stop (take no new jobs), then
// Shutdown (wait for running ones).
func (a *app) work(ctx context.Context) error {
	srv := workers.NewServer(a.redis, a.cfg.Concurrency, a.log)
	if err := srv.Start(a.jobMux()); err != nil {
		return fmt.Errorf("starting worker: %w", err)
	}
	a.log.Info("worker started", "concurrency", a.cfg.Concurrency)
	relayed := make(chan struct{})
	go func() { // the outbox relay runs with the worker: events wait in PostgreSQL until one does
		(&workers.Relay{DB: a.db, Queue: a.queue, Log: a.log}).Run(ctx)
		close(relayed)
	}()
	<-ctx.Done()
	<-relayed
	srv.Stop()
	srv.Shutdown()
	a.log.Info("worker stopped")
	return nil
}

// schedule runs the scheduler until ctx ends.
func (a *app) schedule(ctx context.Context) error {
	s, err := workers.NewScheduler(a.redis, a.log, a.host.Schedules())
	if err != nil {
		return err
	}
	if err := s.Start(); err != nil {
		return fmt.Errorf("starting scheduler: %w", err)
	}
	a.log.Info("scheduler started")
	<-ctx.Done()
	s.Shutdown()
	return nil
}

// withApp opens kportal (with what the web server needs when serves), runs one part of it
// until ctx ends, and closes it.
func withApp(serves bool, part func(a *app, ctx context.Context) error) func(context.Context, *config, []string) error {
	return func(ctx context.Context, cfg *config, _ []string) error {
		a, err := open(ctx, cfg, serves)
		if err != nil {
			return err
		}
		defer a.close()
		return part(a, ctx)
	}
}

var (
	runServe     = withApp(true, (*app).serveHTTP)
	runWorker    = withApp(false, (*app).work)
	runScheduler = withApp(false, (*app).schedule)
)

// runAll runs server, worker and scheduler together; when one fails, all stop.
func runAll(ctx context.Context, cfg *config, _ []string) error {
	a, err := openApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	parts := []func(context.Context) error{a.serveHTTP, a.work, a.schedule}
	errc := make(chan error, len(parts))
	for _, p := range parts {
		go func() {
			err := p(ctx)
			cancel()
			errc <- err
		}()
	}
	var first error
	for range parts {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// newMailer is kportal's mailer as configured (KPORTAL_SMTP_URL,
// KPORTAL_SMTP_CA_FILE, KPORTAL_MAIL_FROM).
func newMailer(cfg *config) (*workers.Mailer, error) {
	// The site's own name in EHLO: relays refuse "localhost" from afar.
	var hello string
	if u, err := url.Parse(cfg.BaseURL); err == nil {
		hello = u.Hostname()
	}
	return workers.NewMailer(cfg.SMTPURL, cfg.MailFrom, workers.WithCAFile(cfg.SMTPCAFile), workers.WithHelloName(hello))
}
