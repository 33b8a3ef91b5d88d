// Command kportal is the one binary: web server, job worker, scheduler,
// migrations, demo seed and benchmarks. All wiring lives in this package.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // Europe/Oslo for the scheduler, whatever the host has
)

const usage = `kportal – documentation of doctors' specialist training (LIS).

Usage:
  kportal <command> [flags]

Commands:
  serve       run the web server
  worker      run the background job worker
  scheduler   run the periodic job scheduler
  all         serve + worker + scheduler in one process (development)
  migrate     apply or inspect database migrations: up | down | status
  orgs        import reference data of RHF, helseforetak and kommuner: import [--dir DIR]
  catalog     import the national catalogue: import [--dir DIR] [--label L] [--publish]
  seed        create the demo data set (--national: national-size data set)
  bench       run a benchmark scenario and print one line per scenario

Run 'kportal <command> --help' for a command's flags.
`

type command struct {
	run   func(ctx context.Context, cfg *config, args []string) error
	usage string
}

var commands = map[string]command{
	"serve":     {runServe, "kportal serve\n\nRuns the web server on KPORTAL_ADDR."},
	"worker":    {runWorker, "kportal worker\n\nRuns the asynq job worker (queues: critical, mail, default, bulk, maintenance)."},
	"scheduler": {runScheduler, "kportal scheduler\n\nRuns the asynq scheduler for periodic jobs (times in Europe/Oslo)."},
	"all":       {runAll, "kportal all\n\nRuns the web server, the worker and the scheduler in one process (development)."},
	"migrate":   {runMigrate, "kportal migrate up|down|status\n\n  up      apply every pending migration (as the owner role)\n  down    roll back the last group of migrations\n  status  list migrations and whether each is applied"},
	"orgs":      {runOrgs, "kportal orgs import [--dir DIR]\n\nImports the 4 RHF, the helseforetak and private providers, and all kommuner\n(orgnr checked with mod-11; bad rows are listed and nothing is imported).\n  --dir  folder with rhf.csv, helseforetak.csv, kommuner.csv (default: shipped data)"},
	"catalog":   {runCatalog, "kportal catalog import [--dir DIR] [--label L] [--publish]\n\nImports the national catalogue (specialties, læringsmål, national procedures,\nrecommended courses) as a new draft version; bad rows are listed with file and\nline and nothing is imported.\n  --dir      folder with the catalogue files (default: the data shipped with kportal)\n  --label    the version's name (default: today's date)\n  --publish  publish the version at once (refused while changed goals are not marked)"},
	"seed":      {runSeed, "kportal seed [--national [--scale F] [--bench-users N] [--jobs N]]\n\nCreates the demo organisations and users (idempotent) and prints the logins.\n  --national     create the national-size data set instead, in a fresh database (for benchmarks):\n                 400 tenants, 40,000 people, 10,000 LIS, 10 million activities, 2 million signatures\n  --scale        a fraction of that size (tests use 0.001)\n  --bench-users  how many LIS and supervisors get a login for kportal bench\n  --jobs         tenants loaded at once"},
	"bench":     {runBench, "kportal bench <scenario>... [--lis N]\n\nRuns benchmark scenarios against the running services and prints one line per\nscenario: scenario=<name> key=value ...  'kportal bench list' lists them.\n  --lis  transfer: how many LIS to move (default 1000)"},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage+"\n"+envHelp())
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "kportal: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	for _, a := range args[1:] {
		if a == "-h" || a == "--help" || a == "-help" {
			fmt.Fprintf(stdout, "%s\n\n%s", cmd.usage, envHelp())
			return 0
		}
	}
	cfg, err := loadConfig()
	if err != nil {
		fmt.Fprintf(stderr, "kportal: configuration: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := cmd.run(ctx, cfg, args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "kportal %s: %v\n", args[0], err)
		return 1
	}
	return 0
}
