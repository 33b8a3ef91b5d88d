package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"

	"kportal/storage"
	"kportal/tenants"
)

// runOrgs imports the reference data of RHF, helseforetak and kommuner.
func runOrgs(ctx context.Context, cfg *config, args []string) error {
	if len(args) == 0 || args[0] != "import" {
		return fmt.Errorf("say what to do: kportal orgs import [--dir DIR]")
	}
	fset := flag.NewFlagSet("orgs import", flag.ContinueOnError)
	dir := fset.String("dir", "", "folder with rhf.csv, helseforetak.csv and kommuner.csv (default: the data shipped with kportal)")
	if err := fset.Parse(args[1:]); err != nil {
		return err
	}
	var files fs.FS = tenants.RefData()
	if *dir != "" {
		files = os.DirFS(*dir)
	}
	reg, err := tenants.ReadRegistry(files)
	if err != nil {
		return err
	}
	for _, p := range reg.Warnings {
		fmt.Println("note:", p)
	}
	for _, p := range reg.Bad {
		fmt.Println("refused:", p)
	}
	if len(reg.Bad) > 0 {
		return fmt.Errorf("%d rows are not valid; nothing was imported", len(reg.Bad))
	}
	db, err := storage.OpenDB(ctx, cfg.MigrateURL, 2)
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := tenants.ImportRegistry(ctx, db, reg)
	if err != nil {
		return err
	}
	fmt.Printf("imported %d RHF and %d organisations\n", res.RHFs, res.Orgs)
	return nil
}
