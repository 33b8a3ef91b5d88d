// Package storage holds kportal's connections to PostgreSQL (bun over pgx) and to
// object storage (minio-go).
package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// OpenDB connects to PostgreSQL and checks the connection, so that bad
// configuration fails at start with one clear line instead of on the first request.
func OpenDB(ctx context.Context, dsn string, maxConns int) (*bun.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("database URL is not valid: %v", err)
	}
	// bun sends every query with its arguments already in the text, so each
	// text is new: pgx's default statement cache would prepare every one (an
	// extra round trip, and a server-side statement evicted unused). One
	// round trip with the unnamed statement instead.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	sqldb := stdlib.OpenDB(*cfg)
	if maxConns > 0 {
		sqldb.SetMaxOpenConns(maxConns)
		sqldb.SetMaxIdleConns(maxConns)
	}
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := sqldb.PingContext(ctx); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("PostgreSQL at %s (database %q, user %q) is not reachable: %v",
			net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port)), cfg.Database, cfg.User, err)
	}
	return bun.NewDB(sqldb, pgdialect.New()), nil
}

// Tx runs fn in a transaction, committing when fn returns nil.
func Tx(ctx context.Context, db bun.IDB, fn func(ctx context.Context, tx bun.Tx) error) error {
	return db.RunInTx(ctx, &sql.TxOptions{}, fn)
}

// IsDataError reports whether PostgreSQL refused a value itself (SQLSTATE
// class 22: bytes that are not UTF-8 or hold NUL, a date or number out of
// range, text that is no uuid): the input was bad, and the statement, with
// its transaction, was rolled back.
func IsDataError(err error) bool { return strings.HasPrefix(SQLState(err), "22") }

// SQLState is the SQLSTATE PostgreSQL answered err with ("" for other errors).
func SQLState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}
