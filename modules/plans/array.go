package plans

import "github.com/uptrace/bun/dialect/pgdialect"

func pgdialectArray(s []string) any { return pgdialect.Array(s) }
