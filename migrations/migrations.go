// Package migrations holds kportal's SQL migrations, embedded in the binary and run
// by bun's migrator under its lock. They run as the owner role; the application
// role (kportal_app) gets only row privileges and is bound by row-level security.
//
// Conventions for every tenant-scoped table: a tenant_id column leading the
// primary key and indexes, ENABLE + FORCE ROW LEVEL SECURITY, and a policy on
// kportal_tenant() (see the first migration).
package migrations

import (
	"context"
	"embed"
	"fmt"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"
)

// Files holds the SQL migrations.
//
//go:embed *.sql
var Files embed.FS

func migrator(db *bun.DB) (*migrate.Migrator, error) {
	m := migrate.NewMigrations()
	if err := m.Discover(Files); err != nil {
		return nil, err
	}
	return migrate.NewMigrator(db, m, migrate.WithMarkAppliedOnSuccess(true)), nil
}

// Up applies every pending migration and returns the names applied.
func Up(ctx context.Context, db *bun.DB) ([]string, error) {
	return locked(ctx, db, (*migrate.Migrator).Migrate)
}

// Down rolls back the last group of migrations and returns the names rolled back.
func Down(ctx context.Context, db *bun.DB) ([]string, error) {
	return locked(ctx, db, (*migrate.Migrator).Rollback)
}

// locked runs one migrator step under bun's migration lock, so two instances
// starting at once never migrate together.
func locked(ctx context.Context, db *bun.DB, step func(*migrate.Migrator, context.Context, ...migrate.MigrationOption) (*migrate.MigrationGroup, error)) ([]string, error) {
	mg, err := migrator(db)
	if err != nil {
		return nil, err
	}
	if err := mg.Init(ctx); err != nil {
		return nil, fmt.Errorf("creating migration tables: %w", err)
	}
	if err := mg.Lock(ctx); err != nil {
		return nil, fmt.Errorf("taking the migration lock: %w", err)
	}
	defer mg.Unlock(ctx) //nolint:errcheck // released with the connection anyway
	group, err := step(mg, ctx)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, m := range group.Migrations {
		names = append(names, m.Name+"_"+m.Comment)
	}
	return names, nil
}

// State is one migration and whether it is applied.
type State struct {
	Name    string
	Applied bool
	GroupID int64
}

// Status lists every known migration in order.
func Status(ctx context.Context, db *bun.DB) ([]State, error) {
	mg, err := migrator(db)
	if err != nil {
		return nil, err
	}
	if err := mg.Init(ctx); err != nil {
		return nil, err
	}
	ms, err := mg.MigrationsWithStatus(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]State, 0, len(ms))
	for _, m := range ms {
		out = append(out, State{Name: m.Name + "_" + m.Comment, Applied: m.IsApplied(), GroupID: m.GroupID})
	}
	return out, nil
}
