package tenants

import (
	"context"
	"embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/uptrace/bun"
)

// RefData is the reference data set shipped with kportal (refdata/SOURCE.md).
//
//go:embed refdata/*.csv
var refdata embed.FS

// RefData returns the embedded reference files.
func RefData() fs.FS {
	sub, _ := fs.Sub(refdata, "refdata")
	return sub
}

// RHF is a regional health authority.
type RHF struct {
	Code, Name, Orgnr string
}

// Org is an organisation that can become a tenant.
type Org struct {
	Kind          Kind
	Name          string
	Orgnr         string // "" when not known (reported)
	Kommunenummer string // kommuner only
	RHF           string // helseforetak and private providers
	Category      string
	Fylke         string
}

// Problem is a row of a reference file that was refused or needs a look.
type Problem struct {
	File   string
	Line   int
	Reason string
}

func (p Problem) String() string { return fmt.Sprintf("%s line %d: %s", p.File, p.Line, p.Reason) }

// Registry is a parsed reference data set.
type Registry struct {
	RHFs     []RHF
	Orgs     []Org
	Bad      []Problem // rows refused: nothing is imported while there are any
	Warnings []Problem // rows imported, with a note (e.g. no orgnr known)
}

// ReadRegistry parses rhf.csv, helseforetak.csv and kommuner.csv from fsys
// and checks every row: orgnr mod-11, kommunenummer, known RHF, duplicates.
func ReadRegistry(fsys fs.FS) (*Registry, error) {
	r := &Registry{}
	rhfs := map[string]bool{}
	seenOrgnr := map[string]string{}
	checkOrgnr := func(file string, line int, orgnr string, required bool) bool {
		switch {
		case orgnr == "" && !required:
			return true
		case !ValidOrgnr(orgnr):
			r.Bad = append(r.Bad, Problem{file, line, fmt.Sprintf("organisasjonsnummer %q er ikke gyldig (mod-11)", orgnr)})
			return false
		case seenOrgnr[orgnr] != "":
			r.Bad = append(r.Bad, Problem{file, line, fmt.Sprintf("organisasjonsnummer %s står også i %s", orgnr, seenOrgnr[orgnr])})
			return false
		}
		seenOrgnr[orgnr] = fmt.Sprintf("%s linje %d", file, line)
		return true
	}

	err := eachRow(fsys, "rhf.csv", []string{"code", "name", "orgnr"}, func(line int, row map[string]string) {
		if row["code"] == "" || row["name"] == "" {
			r.Bad = append(r.Bad, Problem{"rhf.csv", line, "kode og navn må fylles ut"})
			return
		}
		if checkOrgnr("rhf.csv", line, row["orgnr"], true) {
			r.RHFs = append(r.RHFs, RHF{Code: row["code"], Name: row["name"], Orgnr: row["orgnr"]})
			rhfs[row["code"]] = true
		}
	})
	if err != nil {
		return nil, err
	}
	err = eachRow(fsys, "helseforetak.csv", []string{"orgnr", "name", "rhf_code", "category"}, func(line int, row map[string]string) {
		if row["name"] == "" {
			r.Bad = append(r.Bad, Problem{"helseforetak.csv", line, "navn mangler"})
			return
		}
		if row["rhf_code"] != "" && !rhfs[row["rhf_code"]] {
			r.Bad = append(r.Bad, Problem{"helseforetak.csv", line, fmt.Sprintf("ukjent RHF %q", row["rhf_code"])})
			return
		}
		if !checkOrgnr("helseforetak.csv", line, row["orgnr"], true) {
			return
		}
		kind := KindHF
		if strings.HasPrefix(row["category"], "privat") {
			kind = KindPrivate
		}
		r.Orgs = append(r.Orgs, Org{Kind: kind, Name: row["name"], Orgnr: row["orgnr"], RHF: row["rhf_code"], Category: row["category"]})
	})
	if err != nil {
		return nil, err
	}
	seenKnr := map[string]bool{}
	err = eachRow(fsys, "kommuner.csv", []string{"kommunenummer", "kommunenavn", "fylkesnavn", "orgnr"}, func(line int, row map[string]string) {
		knr, name := row["kommunenummer"], row["kommunenavn"]
		switch {
		case !ValidKommunenummer(knr):
			r.Bad = append(r.Bad, Problem{"kommuner.csv", line, fmt.Sprintf("kommunenummer %q må ha fire sifre", knr)})
			return
		case seenKnr[knr]:
			r.Bad = append(r.Bad, Problem{"kommuner.csv", line, fmt.Sprintf("kommunenummer %s står to ganger", knr)})
			return
		case name == "":
			r.Bad = append(r.Bad, Problem{"kommuner.csv", line, "kommunenavn mangler"})
			return
		}
		seenKnr[knr] = true
		if !checkOrgnr("kommuner.csv", line, row["orgnr"], false) {
			return
		}
		if row["orgnr"] == "" {
			r.Warnings = append(r.Warnings, Problem{"kommuner.csv", line, fmt.Sprintf("%s %s har ikke organisasjonsnummer; det må legges inn før kommunen kan tas i bruk", knr, name)})
		}
		r.Orgs = append(r.Orgs, Org{Kind: KindKommune, Name: name + " kommune", Orgnr: row["orgnr"], Kommunenummer: knr, Fylke: row["fylkesnavn"]})
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// eachRow calls fn for every data row of a CSV file with a header, keyed by
// column name; the columns in need must exist.
func eachRow(fsys fs.FS, name string, need []string, fn func(line int, row map[string]string)) error {
	f, err := fsys.Open(name)
	if err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return fmt.Errorf("%s: no header row: %w", name, err)
	}
	for _, n := range need {
		found := false
		for _, h := range header {
			found = found || strings.TrimSpace(h) == n
		}
		if !found {
			return fmt.Errorf("%s: column %q is missing", name, n)
		}
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return fmt.Errorf("%s line %d: %w", name, line, err)
		}
		row := map[string]string{}
		for i, h := range header {
			if i < len(rec) {
				row[strings.TrimSpace(h)] = strings.TrimSpace(rec[i])
			}
		}
		fn(line, row)
	}
}

// ImportResult counts what an import wrote.
type ImportResult struct {
	RHFs, Orgs int
}

// ImportRegistry writes a checked registry in one transaction (insert or
// update by orgnr / kommunenummer). It refuses a registry with bad rows:
// reference data is all or nothing.
func ImportRegistry(ctx context.Context, db bun.IDB, r *Registry) (ImportResult, error) {
	if len(r.Bad) > 0 {
		return ImportResult{}, fmt.Errorf("%d rows are not valid; nothing was imported", len(r.Bad))
	}
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for _, h := range r.RHFs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO rhf (code, name, orgnr) VALUES (?, ?, ?)
				ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, orgnr = EXCLUDED.orgnr`, h.Code, h.Name, h.Orgnr); err != nil {
				return fmt.Errorf("RHF %s: %w", h.Code, err)
			}
		}
		for _, o := range r.Orgs {
			var err error
			if o.Kind == KindKommune {
				_, err = tx.ExecContext(ctx, `INSERT INTO org_registry (kind, name, orgnr, kommunenummer, fylke) VALUES ('kommune', ?, nullif(?, ''), ?, ?)
					ON CONFLICT (kommunenummer) DO UPDATE SET name = EXCLUDED.name, orgnr = EXCLUDED.orgnr, fylke = EXCLUDED.fylke`,
					o.Name, o.Orgnr, o.Kommunenummer, o.Fylke)
			} else {
				_, err = tx.ExecContext(ctx, `INSERT INTO org_registry (kind, name, orgnr, rhf_code, category) VALUES (?, ?, ?, nullif(?, ''), ?)
					ON CONFLICT (orgnr) DO UPDATE SET kind = EXCLUDED.kind, name = EXCLUDED.name, rhf_code = EXCLUDED.rhf_code, category = EXCLUDED.category`,
					o.Kind, o.Name, o.Orgnr, o.RHF, o.Category)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", o.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		return ImportResult{}, err
	}
	return ImportResult{RHFs: len(r.RHFs), Orgs: len(r.Orgs)}, nil
}
