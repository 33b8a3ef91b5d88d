// Package testenv gives integration tests real services, isolated per test
// package: a PostgreSQL database cloned from a migrated template, a Redis
// database number, and a MinIO bucket of their own; the shared Kratos and the
// maildev SMTP sink. Addresses come from the same KPORTAL_* variables as
// kportal itself, with the deploy/dev defaults. Start the services with
// `make services` (make test does it).
package testenv

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"
	"github.com/redis/go-redis/v9"
	"github.com/uptrace/bun"

	"kportal/migrations"
	"kportal/storage"
	"kportal/tenants"
)

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// Settings the tests use (the same variables and defaults as cmd/kportal).
var (
	AppURL       = env("KPORTAL_DATABASE_URL", "postgres://kportal_app:kportal_app@127.0.0.1:5432/kportal?sslmode=disable")
	OwnerURL     = env("KPORTAL_MIGRATE_DATABASE_URL", "postgres://kportal_owner:kportal_owner@127.0.0.1:5432/kportal?sslmode=disable")
	RedisAddr    = env("KPORTAL_REDIS_ADDR", "127.0.0.1:6379")
	S3Endpoint   = env("KPORTAL_S3_ENDPOINT", "127.0.0.1:9000")
	S3AccessKey  = env("KPORTAL_S3_ACCESS_KEY", "kportal")
	S3SecretKey  = env("KPORTAL_S3_SECRET_KEY", "kportal-secret")
	KratosPublic = env("KPORTAL_KRATOS_PUBLIC_URL", "http://127.0.0.1:4433")
	KratosAdmin  = env("KPORTAL_KRATOS_ADMIN_URL", "http://127.0.0.1:4434")
	SMTPURL      = env("KPORTAL_SMTP_URL", "smtp://127.0.0.1:1025/?disable_starttls=true")
	MaildevURL   = env("KPORTAL_MAILDEV_URL", "http://127.0.0.1:1080")
)

// Env is one test package's share of the services.
type Env struct {
	DBName   string
	AppDSN   string // as the application role: bound by row-level security
	OwnerDSN string // as the owner role: migrations, seeds
	App      *bun.DB
	Owner    *bun.DB
	RedisDB  int
	Bucket   string

	redisClaim string
}

var (
	once   sync.Once
	shared *Env
	setErr error
)

// Main runs a package's tests and removes its database and bucket afterwards.
// Use it from TestMain: func TestMain(m *testing.M) { testenv.Main(m) }.
// Each check runs after the tests; one that fails fails the package.
func Main(m *testing.M, checks ...func() error) {
	code := m.Run()
	for _, check := range checks {
		if err := check(); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL:", err)
			code = 1
		}
	}
	if shared != nil {
		shared.teardown()
	}
	os.Exit(code)
}

// Get returns the package's environment, creating it on first use. A missing
// service fails the test with a line saying how to start them.
func Get(t testing.TB) *Env {
	t.Helper()
	once.Do(func() { shared, setErr = setup(context.Background()) })
	if setErr != nil {
		t.Fatalf("test services: %v\n(start them with `make services`)", setErr)
	}
	return shared
}

func withDB(dsn, db string) string {
	u, _ := url.Parse(dsn)
	u.Path = "/" + db
	return u.String()
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// templateName is named after a hash of the migrations, so a changed
// migration gets a fresh template and stale ones are never reused.
func templateName() string {
	h := sha256.New()
	names, _ := fs.Glob(migrations.Files, "*.sql")
	sort.Strings(names)
	for _, n := range names {
		b, _ := fs.ReadFile(migrations.Files, n)
		h.Write([]byte(n))
		h.Write(b)
	}
	return "kportal_tmpl_" + hex.EncodeToString(h.Sum(nil))[:12]
}

func setup(ctx context.Context) (*Env, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, withDB(OwnerURL, "postgres"))
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL as owner: %w", err)
	}
	defer admin.Close(ctx)
	tmpl := templateName()
	// Test packages run in parallel processes: one builds the template, the
	// others wait on the lock and then clone it.
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock(7419001)"); err != nil {
		return nil, err
	}
	err = ensureTemplate(ctx, admin, tmpl)
	_, _ = admin.Exec(ctx, "SELECT pg_advisory_unlock(7419001)")
	if err != nil {
		return nil, fmt.Errorf("template database: %w", err)
	}
	e := &Env{}
	if e.DBName, err = cloneTemplate(ctx, admin, tmpl); err != nil {
		return nil, err
	}
	e.AppDSN, e.OwnerDSN = withDB(AppURL, e.DBName), withDB(OwnerURL, e.DBName)
	if e.App, err = storage.OpenDB(ctx, e.AppDSN, 10); err != nil {
		return nil, err
	}
	if e.Owner, err = storage.OpenDB(ctx, e.OwnerDSN, 4); err != nil {
		return nil, err
	}
	if e.RedisDB, e.redisClaim, err = redisDB(ctx); err != nil {
		return nil, err
	}
	e.Bucket = "kportal-test-" + randHex(6)
	return e, nil
}

// cloneTemplate creates a database from the migrated template and names it.
func cloneTemplate(ctx context.Context, admin *pgx.Conn, tmpl string) (string, error) {
	name := "kportal_test_" + randHex(6)
	if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, tmpl)); err != nil {
		return "", fmt.Errorf("cloning %s: %w", tmpl, err)
	}
	return name, nil
}

// Fresh returns a migrated database of the test's own, empty of the package's
// data (as the application role and as the owner), dropped when the test ends:
// for what refuses a database others wrote to, such as kportal seed.
func Fresh(t testing.TB) (appDSN, ownerDSN string) {
	t.Helper()
	Get(t) // the template exists
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, withDB(OwnerURL, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	name, err := cloneTemplate(ctx, admin, templateName())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if admin, err := pgx.Connect(ctx, withDB(OwnerURL, "postgres")); err == nil {
			_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			admin.Close(ctx)
		}
	})
	return withDB(AppURL, name), withDB(OwnerURL, name)
}

func ensureTemplate(ctx context.Context, admin *pgx.Conn, tmpl string) error {
	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", tmpl).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	building := tmpl + "_building"
	_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+building+" WITH (FORCE)")
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+building); err != nil {
		return err
	}
	db, err := storage.OpenDB(ctx, withDB(OwnerURL, building), 2)
	if err != nil {
		return err
	}
	_, err = migrations.Up(ctx, db)
	db.Close()
	if err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	_, err = admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", building, tmpl))
	return err
}

// redisDB claims a Redis database number from 1 to 15 (0 is development's)
// that no running test package holds, and empties it. A claim is a key in
// database 0, released at teardown and expiring after two hours should a
// package die; while all are held it waits. (Handing numbers out in turn let
// a package that started late empty the database of one still running, such
// as cmd/kportal's, and its queued jobs with it.)
func redisDB(ctx context.Context) (int, string, error) {
	c := redis.NewClient(&redis.Options{Addr: RedisAddr})
	defer c.Close()
	token := randHex(8)
	for {
		for db := 1; db <= 15; db++ {
			ok, err := c.SetNX(ctx, fmt.Sprintf("kportal:test:db:%d", db), token, 2*time.Hour).Result()
			if err != nil {
				return 0, "", fmt.Errorf("Redis at %s: %w", RedisAddr, err)
			}
			if ok {
				dc := redis.NewClient(&redis.Options{Addr: RedisAddr, DB: db})
				defer dc.Close()
				return db, token, dc.FlushDB(ctx).Err()
			}
		}
		select {
		case <-ctx.Done():
			return 0, "", fmt.Errorf("no free Redis database for tests: %w", ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// releaseRedisDB gives a claimed database number back, if still ours.
func releaseRedisDB(ctx context.Context, db int, token string) {
	c := redis.NewClient(&redis.Options{Addr: RedisAddr})
	defer c.Close()
	key := fmt.Sprintf("kportal:test:db:%d", db)
	if v, err := c.Get(ctx, key).Result(); err == nil && v == token {
		c.Del(ctx, key)
	}
}

// Redis returns a client for the package's Redis database.
func (e *Env) Redis() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: RedisAddr, DB: e.RedisDB})
}

// Objects returns the object store on the package's bucket (created on first use).
func (e *Env) Objects(t testing.TB) *storage.Objects {
	t.Helper()
	o, err := storage.OpenObjects(context.Background(), storage.ObjectConfig{
		Endpoint: S3Endpoint, AccessKey: S3AccessKey, SecretKey: S3SecretKey, Bucket: e.Bucket,
	})
	if err != nil {
		t.Fatalf("object storage: %v", err)
	}
	return o
}

func (e *Env) teardown() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e.App.Close()
	e.Owner.Close()
	releaseRedisDB(ctx, e.RedisDB, e.redisClaim)
	if admin, err := pgx.Connect(ctx, withDB(OwnerURL, "postgres")); err == nil {
		_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+e.DBName+" WITH (FORCE)")
		admin.Close(ctx)
	}
	if o, err := storage.OpenObjects(ctx, storage.ObjectConfig{Endpoint: S3Endpoint, AccessKey: S3AccessKey, SecretKey: S3SecretKey, Bucket: e.Bucket}); err == nil {
		c := o.Client()
		for obj := range c.ListObjects(ctx, e.Bucket, minio.ListObjectsOptions{Recursive: true, WithVersions: true}) {
			_ = c.RemoveObject(ctx, e.Bucket, obj.Key, minio.RemoveObjectOptions{VersionID: obj.VersionID, ForceDelete: true})
		}
		_ = c.RemoveBucket(ctx, e.Bucket)
	}
}

// UniqueEmail returns an e-mail address no other test uses.
func UniqueEmail(name string) string {
	return strings.ToLower(name) + "-" + randHex(4) + "@test.kportal.no"
}

// Count returns the number a count(*) query reads with tenantID in force, as
// the application would.
func Count(t testing.TB, db bun.IDB, tenantID uuid.UUID, query string, args ...any) int {
	t.Helper()
	var n int
	err := tenants.WithTenantTx(context.Background(), db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw(query, args...).Scan(ctx, &n)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
