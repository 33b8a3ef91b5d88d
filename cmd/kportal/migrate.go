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
	case "up":
		names, err := migrations.Up(ctx, db)
		if err != nil {
			return err
		}
		if len(names) == 0 {
			fmt.Println("database is up to date")
		}
		for _, n := range names {
			fmt.Println("applied", n)
		}
	case "down":
		names, err := migrations.Down(ctx, db)
		if err != nil {
			return err
		}
		if len(names) == 0 {
			fmt.Println("nothing to roll back")
		}
		for _, n := range names {
			fmt.Println("rolled back", n)
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
