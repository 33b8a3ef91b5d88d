package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// scenario is one benchmark: it runs against the services in cfg and returns
// its figures as key=value pairs in order.
type scenario func(ctx context.Context, cfg *config) ([][2]string, error)

// bench is a scenario, whether it writes to the database (and so runs only
// where seed may: see refuseRealData), and its options, if any.
type bench struct {
	run    scenario
	writes bool
	flags  func(*flag.FlagSet)
}

// scenarios are added by the features they measure.
var scenarios = map[string]bench{}

func runBench(ctx context.Context, cfg *config, args []string) error {
	names := make([]string, 0, len(scenarios))
	for n := range scenarios {
		names = append(names, n)
	}
	sort.Strings(names)
	// Options may stand anywhere among the names: kportal bench transfer --lis 100.
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the error is the one line kportal prints
	for _, n := range names {
		if f := scenarios[n].flags; f != nil {
			f(fs)
		}
	}
	var asked []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if rest = fs.Args(); len(rest) == 0 {
			break
		}
		asked, rest = append(asked, rest[0]), rest[1:]
	}
	args = asked
	if len(args) == 0 || args[0] == "list" {
		if len(names) == 0 {
			fmt.Println("no scenarios yet")
		}
		for _, n := range names {
			fmt.Println(n)
		}
		if len(args) == 0 {
			return fmt.Errorf("name a scenario: kportal bench <scenario> (or 'all')")
		}
		return nil
	}
	if args[0] == "all" {
		args = names
	}
	for _, name := range args {
		s, ok := scenarios[name]
		if !ok {
			return fmt.Errorf("unknown scenario %q (known: %s)", name, strings.Join(names, ", "))
		}
		if s.writes {
			if err := refuseRealDataAt(ctx, cfg); err != nil {
				return fmt.Errorf("scenario %s: %w", name, err)
			}
		}
		kv, err := s.run(ctx, cfg)
		if err != nil {
			return fmt.Errorf("scenario %s: %w", name, err)
		}
		fmt.Println(benchLine(name, kv))
	}
	return nil
}

// benchLine formats one machine-readable result line.
func benchLine(name string, kv [][2]string) string {
	var b strings.Builder
	b.WriteString("scenario=" + name)
	for _, p := range kv {
		b.WriteString(" " + p[0] + "=" + p[1])
	}
	return b.String()
}
