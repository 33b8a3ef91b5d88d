package storage_test

import (
	"context"
	"testing"

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
