package main

import (
	"context"
	"fmt"
	"os"
	"text/tabwriter"

	"kportal/migrations"
	"kportal/storage"
)

func runMigrate(ctx context.Context, cfg *config, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("say what to do: kportal migrate up|down|status")
	}
	db, err := storage.OpenDB(ctx, cfg.MigrateURL, 2)
	if err != nil {
		return err
	}
	defer db.Close()
	switch args[0] {
	case "up", "down":
		step, verb, none := migrations.Up, "applied", "database is up to date"
		if args[0] == "down" {
			step, verb, none = migrations.Down, "rolled back", "nothing to roll back"
		}
		names, err := step(ctx, db)
		if err != nil {
			return err
		}
		if len(names) == 0 {
			fmt.Println(none)
		}
		for _, n := range names {
			fmt.Println(verb, n)
		}
	case "status":
		states, err := migrations.Status(ctx, db)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "MIGRATION\tSTATUS")
		pending := 0
		for _, s := range states {
			st := fmt.Sprintf("applied (group %d)", s.GroupID)
			if !s.Applied {
				st, pending = "pending", pending+1
			}
			fmt.Fprintf(w, "%s\t%s\n", s.Name, st)
		}
		w.Flush()
		fmt.Printf("%d migrations, %d applied, %d pending\n", len(states), len(states)-pending, pending)
	default:
		return fmt.Errorf("unknown migrate action %q: use up, down or status", args[0])
	}
	return nil
}
