package storage

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"
)

// Select runs a read whose arguments travel as query parameters, with the
// statement prepared once per connection, so PostgreSQL plans it once and not
// on every call. bun writes arguments into the SQL text, which makes every
// call a new statement to parse and plan: for the pages everyone loads (the
// LIS home, the signing queue) that planning cost more than the reading.
//
// query uses bun's placeholders, either ? in order or ?0, ?1, … (not both,
// and not bun's named ones); args are plain values pgx encodes itself (uuid,
// string, numbers, time, []string), not bun.In or bun.Ident. dest is what
// bun's Scan takes: a slice gets every row; anything else gets the first, and
// no row is sql.ErrNoRows.
func Select(ctx context.Context, db bun.IDB, dest any, query string, args ...any) error {
	q, err := numbered(query)
	if err != nil {
		return err
	}
	var conn bun.IConn
	switch d := db.(type) {
	case bun.Tx:
		conn = d.Tx
	case *bun.Tx:
		conn = d.Tx
	case *bun.DB:
		conn = d.DB
	case bun.Conn:
		conn = d.Conn
	default:
		return fmt.Errorf("storage.Select: %T is not a bun database, transaction or connection", db)
	}
	rows, err := conn.QueryContext(ctx, q, append([]any{pgx.QueryExecModeCacheStatement}, args...)...)
	if err != nil {
		return err
	}
	defer rows.Close()
	bdb := db.NewRaw("").DB()
	if v := reflect.ValueOf(dest); v.Kind() == reflect.Pointer && v.Elem().Kind() == reflect.Slice && v.Elem().Type().Elem().Kind() != reflect.Uint8 {
		return bdb.ScanRows(ctx, rows, dest)
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := bdb.ScanRow(ctx, rows, dest); err != nil {
		return err
	}
	for rows.Next() { // drain, so the connection is clean for the next query
	}
	return rows.Err()
}

var numberedCache sync.Map // bun query text → pgx query text

// numbered turns bun's placeholders (? in order, or ?N) into PostgreSQL's $n,
// leaving string literals alone.
func numbered(query string) (string, error) {
	if q, ok := numberedCache.Load(query); ok {
		return q.(string), nil
	}
	var b strings.Builder
	next, bare, indexed := 0, false, false
	inString := false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'':
			inString = !inString
			b.WriteByte(c)
		case c == '?' && !inString:
			j := i + 1
			for j < len(query) && query[j] >= '0' && query[j] <= '9' {
				j++
			}
			if j > i+1 {
				n, _ := strconv.Atoi(query[i+1 : j])
				b.WriteString("$" + strconv.Itoa(n+1))
				indexed = true
				i = j - 1
			} else {
				next++
				b.WriteString("$" + strconv.Itoa(next))
				bare = true
			}
		default:
			b.WriteByte(c)
		}
	}
	if bare && indexed {
		return "", fmt.Errorf("storage.Select: query mixes ? and ?N placeholders")
	}
	q := b.String()
	numberedCache.Store(query, q)
	return q, nil
}
