package storage_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/uptrace/bun"

	"kportal/storage"
	"kportal/storage/testenv"
)

func TestContainsMatchesTheTermLiterally(t *testing.T) {
	db := testenv.Get(t).App
	cases := []struct {
		text, term string
		want       bool
	}{
		{"Appendektomi", "dekto", true},
		{"Appendektomi", " dekto ", true},
		{"100% utført", "100%", true},
		{"1000 utført", "100%", false},
		{"a_b", "a_b", true},
		{"axb", "a_b", false},
		{`c:\temp`, `\t`, true},
	}
	for _, c := range cases {
		got, err := storage.Exists(context.Background(), db, "SELECT 1 WHERE ? ILIKE ?", c.text, storage.Contains(c.term))
		if err != nil || got != c.want {
			t.Errorf("%q contains %q: %v (%v), want %v", c.text, c.term, got, err, c.want)
		}
	}
}

func TestSelectSendsArgumentsAsParameters(t *testing.T) {
	db := testenv.Get(t).App
	ctx := context.Background()
	var rows []struct {
		N    int    `bun:"n"`
		Text string `bun:"text"`
	}
	// ?N placeholders, reused; a ? inside a string literal is text.
	if err := storage.Select(ctx, db, &rows, "SELECT n, ?1 || '?' AS text FROM generate_series(1, ?0) AS n ORDER BY n", 3, "x"); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[2].N != 3 || rows[0].Text != "x?" {
		t.Fatalf("rows = %+v", rows)
	}
	// One value; an argument that would be SQL in bun's text is a value here.
	var s string
	if err := storage.Select(ctx, db, &s, "SELECT ? || ?", "a'; DROP TABLE people; --", "b"); err != nil || s != "a'; DROP TABLE people; --b" {
		t.Fatalf("got %q, %v", s, err)
	}
	// Inside a transaction, no row is sql.ErrNoRows, as bun's Scan says.
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var n int
		return storage.Select(ctx, tx, &n, "SELECT 1 WHERE false")
	})
	if !errors.Is(err, sql.ErrNoRows) {
		t.Fatalf("no row: %v, want sql.ErrNoRows", err)
	}
	if err := storage.Select(ctx, db, &s, "SELECT ? || ?1", "a", "b"); err == nil {
		t.Fatal("mixed placeholders accepted")
	}
}
