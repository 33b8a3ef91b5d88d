package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/google/uuid"

	"kportal/modules/catalog"
	"kportal/storage"
)

// runCatalog imports the national catalogue as a new version.
func runCatalog(ctx context.Context, cfg *config, args []string) error {
	if len(args) == 0 || args[0] != "import" {
		return fmt.Errorf("say what to do: kportal catalog import [--dir DIR] [--label L] [--publish]")
	}
	fset := flag.NewFlagSet("catalog import", flag.ContinueOnError)
	dir := fset.String("dir", "", "folder with the catalogue files (default: the data shipped with kportal)")
	label := fset.String("label", time.Now().Format("2006-01-02"), "the version's name")
	publish := fset.Bool("publish", false, "publish the version at once")
	if err := fset.Parse(args[1:]); err != nil {
		return err
	}
	var files fs.FS = catalog.Data()
	if *dir != "" {
		files = os.DirFS(*dir)
	}
	set, err := catalog.Read(files)
	if err != nil {
		return err
	}
	for _, p := range set.Warnings {
		fmt.Println("note:", p)
	}
	for _, p := range set.Bad {
		fmt.Println("refused:", p)
	}
	if len(set.Bad) > 0 {
		return fmt.Errorf("%d rows are not valid; nothing was imported", len(set.Bad))
	}
	db, err := storage.OpenDB(ctx, cfg.MigrateURL, 2)
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := catalog.Import(ctx, db, set, *label, "kportal catalog import", uuid.Nil)
	if err != nil {
		return err
	}
	fmt.Printf("version %s (id %d): %d specialties, %d goals (%d changed, %d new, %d carried over), %d procedures, %d recommended activities\n",
		*label, res.VersionID, res.Specialties, res.Goals, res.Changed, res.New, res.CarriedOver, res.Procedures, res.Activities)
	if *publish {
		if err := catalog.Publish(ctx, db, res.VersionID, time.Now()); err != nil {
			return err
		}
		fmt.Println("published")
	} else {
		fmt.Println("draft: mark changed goals and publish at /katalog")
	}
	return nil
}
