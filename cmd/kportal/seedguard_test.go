package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// Seed and the benchmarks that write refuse production and any database
// holding people seed did not create, in one line, writing nothing; a
// database seed made still takes seed again after people joined it (the demo).
func TestSecuritySeedRefusesRealData(t *testing.T) {
	ctx := context.Background()
	oneLine := func(t *testing.T, errb string, want string) {
		t.Helper()
		if strings.Count(strings.TrimSpace(errb), "\n") != 0 || !strings.Contains(errb, want) {
			t.Fatalf("want one line containing %q, got:\n%s", want, errb)
		}
	}
	t.Run("production", func(t *testing.T) {
		cfg, app, _ := freshDatabase(t)
		setEnv(t, cfg)
		t.Setenv("KPORTAL_ENV", "production")
		for _, args := range [][]string{{"seed"}, {"seed", "--national", "--scale", "0.001"}, {"bench", "digest"}, {"bench", "upload"}, {"bench", "transfer"}} {
			var out, errb bytes.Buffer
			if code := run(args, &out, &errb); code == 0 {
				t.Fatalf("%v ran in production", args)
			}
			oneLine(t, errb.String(), "KPORTAL_ENV is production")
		}
		var marks, tenants int
		if err := app.NewRaw("SELECT (SELECT count(*) FROM seed_marks), (SELECT count(*) FROM tenants)").Scan(ctx, &marks, &tenants); err != nil || marks+tenants != 0 {
			t.Fatalf("refused seed wrote: %d marks, %d tenants, %v", marks, tenants, err)
		}
	})

	t.Run("people seed did not create", func(t *testing.T) {
		cfg, app, owner := freshDatabase(t)
		setEnv(t, cfg)
		if _, err := owner.NewRaw("INSERT INTO people (identity_id, email) VALUES (?, 'ekte.lege@sykehus.no')", uuid.New()).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"seed"}, {"seed", "--national", "--scale", "0.001"}, {"bench", "digest"}, {"bench", "upload"}, {"bench", "home"}, {"bench", "transfer", "--lis", "5"}} {
			var out, errb bytes.Buffer
			if code := run(args, &out, &errb); code == 0 {
				t.Fatalf("%v ran on real data", args)
			}
			oneLine(t, errb.String(), "1 people that kportal seed did not create")
		}
		var people, tenants int
		if err := app.NewRaw("SELECT (SELECT count(*) FROM people), (SELECT count(*) FROM tenants)").Scan(ctx, &people, &tenants); err != nil || people != 1 || tenants != 0 {
			t.Fatalf("refused seed wrote: %d people, %d tenants, %v", people, tenants, err)
		}
	})

	t.Run("a seeded database people joined", func(t *testing.T) {
		cfg, app, owner := freshDatabase(t)
		setEnv(t, cfg)
		var out, errb bytes.Buffer
		if code := run([]string{"seed"}, &out, &errb); code != 0 {
			t.Fatalf("seed: exit %d\n%s", code, errb.String())
		}
		if _, err := owner.NewRaw("INSERT INTO people (identity_id, email) VALUES (?, 'invitert@helse-forde.no')", uuid.New()).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		errb.Reset()
		if code := run([]string{"seed"}, &out, &errb); code != 0 {
			t.Fatalf("seed again: exit %d\n%s", code, errb.String())
		}
		if err := refuseRealData(ctx, cfg, app); err != nil {
			t.Fatalf("the benchmarks refuse the demo database: %v", err)
		}
	})
}
