package main

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

	"kportal/storage"
)

// refuseRealData stops seed and the benchmarks that write anywhere but on a
// development database seed made: they create accounts with a published
// password. It refuses with KPORTAL_ENV other than development, and on a
// database holding people from before its first seed mark (any people, when
// it has none).
func refuseRealData(ctx context.Context, cfg *config, db bun.IDB) error {
	if cfg.Env != "development" {
		return fmt.Errorf("refused: KPORTAL_ENV is %s; this writes demo data with a published password and runs only in development", cfg.Env)
	}
	var n int
	if err := db.NewRaw(`SELECT count(*) FROM people
		WHERE created_at < coalesce((SELECT min(at) FROM seed_marks), 'infinity')`).Scan(ctx, &n); err != nil {
		return fmt.Errorf("checking the database: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("refused: the database holds %d people that kportal seed did not create; this writes demo data with a published password and runs only on databases seed made", n)
	}
	return nil
}

// markSeeded checks the database at dsn with refuseRealData and marks it as
// one seed made.
func markSeeded(ctx context.Context, cfg *config, dsn, kind string) error {
	db, err := storage.OpenDB(ctx, dsn, 1)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := refuseRealData(ctx, cfg, db); err != nil {
		return err
	}
	_, err = db.NewRaw("INSERT INTO seed_marks (kind) VALUES (?)", kind).Exec(ctx)
	return err
}

// refuseRealDataAt is refuseRealData on the database kportal runs against.
func refuseRealDataAt(ctx context.Context, cfg *config) error {
	db, err := storage.OpenDB(ctx, cfg.DatabaseURL, 1)
	if err != nil {
		return err
	}
	defer db.Close()
	return refuseRealData(ctx, cfg, db)
}
