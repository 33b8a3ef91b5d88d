package storage

import (
	"context"
	"strings"

	"github.com/uptrace/bun"
)

// Exists runs query (a SELECT) and reports whether it returned a row.
func Exists(ctx context.Context, db bun.IDB, query string, args ...any) (bool, error) {
	var ok bool
	err := db.NewRaw("SELECT EXISTS ("+query+")", args...).Scan(ctx, &ok)
	return ok, err
}

// Contains is an ILIKE pattern matching text that contains term literally:
// the wildcards % and _ (and the escape \) in term match only themselves.
func Contains(term string) string {
	return "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.TrimSpace(term)) + "%"
}
