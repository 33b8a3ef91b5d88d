package transfers

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/apperr"
	"kportal/modules/csvfile"
	"kportal/modules/web"
	"kportal/tenants"
)

// Limits of one file of arrivals (the yearly LIS1 rotation is a few hundred).
const (
	MaxBatchBytes = 2 << 20 // 2 MB
	MaxBatchRows  = 5000
)

// The file of arrivals: UTF-8 (a byte order mark is fine), a header row, then
// one LIS a line, separated by semicolons (what Norwegian Excel writes) or
// commas, whichever the header row has more of. Columns in any order, named
// case-insensitively (spaces, "-", "_" and "." ignored):
//
//	lis        required  e-mail or HPR number (or columns epost and hpr: the first filled in)
//	startdato  required  1.3.2027 or 2027-03-01
//	plan       required  the plan's name here (exact, any case) or its id
//	leder      optional  e-mail of the LIS's leder here
//	fra        optional  the workplace left (its address, e.g. helse-bergen), when the LIS has several
//	navn       optional  for the reader; not used
var batchColumns = map[string]string{
	"lis": "who", "epost": "who", "epostadresse": "who", "email": "who", "hpr": "who", "hprnummer": "who", "hprnr": "who",
	"epostellerhpr": "who", "epostellerhprnummer": "who",
	"startdato": "starts_on", "start": "starts_on", "dato": "starts_on",
	"plan": "plan", "planmal": "plan", "læringsmålplan": "plan",
	"leder": "leder", "lederepost": "leder",
	"fra": "from", "fraarbeidssted": "from", "arbeidssted": "from", "slutterved": "from",
	"navn": "name",
}

// BatchRow is one line of a file of arrivals.
type BatchRow struct {
	Line                                   int // in the file; the header is line 1
	Who, Name, StartsOn, Plan, Leder, From string
}

// Refused is a line of a file that was not registered, and why.
type Refused struct {
	Line   int    `json:"line"`
	Who    string `json:"who"`
	Reason string `json:"reason"`
}

// RefusedRows is the refused column.
type RefusedRows []Refused

// Scan reads the refused column.
func (r *RefusedRows) Scan(src any) error { return scanJSON(r, src) }

// Batch is one uploaded file of arrivals.
type Batch struct {
	TenantID   uuid.UUID   `bun:"tenant_id"`
	ID         uuid.UUID   `bun:"id"`
	Filename   string      `bun:"filename"`
	CreatedBy  string      `bun:"created_by_name"`
	CreatedAt  time.Time   `bun:"created_at"`
	Rows       int         `bun:"rows"`
	Refused    RefusedRows `bun:"refused"`
	Registered int         `bun:"registered"` // moves the file registered
}

// CreatedAtText is when the file was uploaded, as shown.
func (b *Batch) CreatedAtText() string {
	t := b.CreatedAt.In(web.Oslo)
	return web.Date(t) + " kl. " + t.Format("15.04")
}

// fileError refuses a whole file: nothing of it is registered.
func fileError(format string, args ...any) error {
	return apperr.InvalidFields(map[string]string{"file": fmt.Sprintf(format, args...)})
}

// ParseBatch reads a file of arrivals. An error refuses the whole file (not a
// CSV, too big, no header it knows, no rows): nothing may be registered; what
// each line says is checked by RegisterBatch.
func ParseBatch(data []byte) ([]BatchRow, error) {
	if len(data) > MaxBatchBytes {
		return nil, fileError("Filen er for stor: høyst 2 MB og %d LIS. Del den opp i flere filer.", MaxBatchRows)
	}
	r, problem := csvfile.Open(data)
	if problem != "" {
		return nil, fileError("%s", problem)
	}
	head, err := r.Read()
	if err != nil {
		return nil, fileError("Fant ingen overskriftsrad: %s", csvfile.Problem(err))
	}
	col := map[string][]int{}
	var unknown []string
	for i, h := range head {
		name := csvfile.Column(h)
		if name == "" {
			continue
		}
		key, ok := batchColumns[name]
		if !ok {
			unknown = append(unknown, "«"+strings.TrimSpace(h)+"»")
			continue
		}
		if len(col[key]) > 0 && key != "who" {
			return nil, fileError("Kolonnen «%s» står to ganger i overskriftsraden.", strings.TrimSpace(h))
		}
		col[key] = append(col[key], i)
	}
	const format = "Den første linjen skal være overskriftene lis;startdato;plan (og eventuelt leder, fra og navn): last ned eksempelfilen og bruk den som mal."
	if len(col) == 0 {
		return nil, fileError("Fant ingen overskriftsrad som kportal kjenner igjen. %s", format)
	}
	if len(unknown) > 0 {
		return nil, fileError("Ukjent kolonne %s i overskriftsraden. %s", strings.Join(unknown, ", "), format)
	}
	var missing []string
	for _, c := range []struct{ key, name string }{{"who", "lis"}, {"starts_on", "startdato"}, {"plan", "plan"}} {
		if len(col[c.key]) == 0 {
			missing = append(missing, "«"+c.name+"»")
		}
	}
	if len(missing) > 0 {
		return nil, fileError("Overskriftsraden mangler kolonnen %s. %s", strings.Join(missing, " og "), format)
	}
	get := func(rec []string, key string) string {
		for _, i := range col[key] {
			if i < len(rec) && strings.TrimSpace(rec[i]) != "" {
				return strings.TrimSpace(rec[i])
			}
		}
		return ""
	}
	var rows []BatchRow
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fileError("Linje %d kan ikke leses: %s", pe.StartLine, csvfile.Problem(err))
			}
			return nil, fileError("Filen kan ikke leses.")
		}
		if csvfile.Blank(rec) { // Excel writes ";;;;" for empty rows
			continue
		}
		if len(rows) == MaxBatchRows {
			return nil, fileError("Filen har mer enn %d LIS. Del den opp i flere filer.", MaxBatchRows)
		}
		line, _ := r.FieldPos(0)
		rows = append(rows, BatchRow{Line: line, Who: clip(get(rec, "who")), Name: clip(get(rec, "name")), StartsOn: clip(get(rec, "starts_on")),
			Plan: clip(get(rec, "plan")), Leder: clip(get(rec, "leder")), From: clip(get(rec, "from"))})
	}
	if len(rows) == 0 {
		return nil, fileError("Filen har ingen LIS under overskriftsraden.")
	}
	return rows, nil
}

// clip shortens a cell no field could hold, since refusals quote it back.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= 300 {
		return s
	}
	return string([]rune(s)[:300]) + "…"
}

// batchDate reads a start date as Norwegians and ISO write it.
func batchDate(s string) (string, bool) {
	for _, layout := range []string{"2006-01-02", "2.1.2006", "2/1/2006"} {
		if d, err := time.Parse(layout, s); err == nil {
			return d.Format("2006-01-02"), true
		}
	}
	return "", false
}

// fieldOrder is the order a refused line's reasons are given in.
var fieldOrder = []string{"who", "from", "starts_on", "template", "leder"}

func reasonOf(err error) string {
	fields := apperr.FieldsOf(err)
	if len(fields) == 0 {
		return apperr.MessageOf(err)
	}
	var out []string
	for _, f := range fieldOrder {
		if m := fields[f]; m != "" {
			out = append(out, m)
		}
	}
	return strings.Join(out, " ")
}

type idName struct {
	ID   string `bun:"id"`
	Name string `bun:"name"`
}

// RegisterBatch registers the arrivals of a file (each line in its own
// transaction, through Register, tied to one batch) and records the lines
// refused, with why. It returns the batch and the moves registered; their
// sync is the caller's to queue.
func (s *Store) RegisterBatch(ctx context.Context, tenantID uuid.UUID, by tenants.Actor, filename string, rows []BatchRow, log *slog.Logger) (*Batch, []*Transfer, error) {
	filename = strings.ToValidUTF8(strings.ReplaceAll(filename, "\x00", ""), "")
	if utf8.RuneCountInString(filename) > 300 {
		filename = string([]rune(filename)[:299]) + "…"
	}
	var (
		batchID uuid.UUID
		plans   []idName
		leders  []idName // the leders here: person id and e-mail
	)
	err := tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID, PersonID: by.PersonID}, func(ctx context.Context, tx bun.Tx) error {
		if err := tx.NewRaw("SELECT id::text, name FROM plan_templates WHERE tenant_id = ? AND archived_at IS NULL ORDER BY name", tenantID).Scan(ctx, &plans); err != nil {
			return err
		}
		if err := tx.NewRaw(`SELECT m.person_id::text AS id, lower(p.email) AS name FROM memberships m JOIN people p ON p.id = m.person_id
			WHERE m.tenant_id = ? AND m.role = 'leder'`, tenantID).Scan(ctx, &leders); err != nil {
			return err
		}
		return tx.NewRaw("INSERT INTO transfer_batches (tenant_id, filename, created_by, rows) VALUES (?, ?, ?, ?) RETURNING id",
			tenantID, filename, actorID(by), len(rows)).Scan(ctx, &batchID)
	})
	if err != nil {
		return nil, nil, err
	}
	lederOf := map[string]string{}
	for _, l := range leders {
		lederOf[l.Name] = l.ID
	}
	refused := RefusedRows{}
	var moves []*Transfer
	seen := map[uuid.UUID]int{} // LIS → the line naming them first
	for _, row := range rows {
		who := row.Who // as the report names the line's LIS
		switch {
		case row.Name != "" && row.Who != "":
			who = row.Name + " (" + row.Who + ")"
		case row.Name != "":
			who = row.Name
		}
		bad := map[string]string{}
		var p *person
		err := tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
			var err error
			p, err = findPerson(ctx, tx, row.Who)
			return err
		})
		switch {
		case apperr.FieldsOf(err) != nil:
			bad["who"] = apperr.FieldsOf(err)["who"]
		case err != nil:
			log.Error("looking up the LIS of a line of a file of arrivals", "batch", batchID, "line", row.Line, "error", err)
			bad["who"] = apperr.MessageOf(err)
		default:
			if row.Name == "" {
				who = p.Name + " (" + row.Who + ")"
			}
			if first, dup := seen[p.ID]; dup {
				bad["who"] = fmt.Sprintf("%s står også på linje %d: en LIS kan bare ha ett bytte i filen.", p.Name, first)
			} else {
				seen[p.ID] = row.Line
			}
		}
		starts, ok := batchDate(row.StartsOn)
		switch {
		case row.StartsOn == "":
			bad["starts_on"] = "Mangler startdato."
		case !ok:
			bad["starts_on"] = fmt.Sprintf("«%s» er ikke en dato: skriv startdatoen som 1.3.2027 eller 2027-03-01.", row.StartsOn)
		}
		plan, msg := findPlan(plans, row.Plan)
		if msg != "" {
			bad["template"] = msg
		}
		var leder string
		if row.Leder != "" {
			if leder = lederOf[strings.ToLower(row.Leder)]; leder == "" {
				bad["leder"] = fmt.Sprintf("%s er ikke leder her.", row.Leder)
			}
		}
		if len(bad) == 0 {
			var t *Transfer
			t, err = s.Register(ctx, tenantID, by, Arrival{Who: row.Who, StartsOn: starts, TemplateID: plan, LederID: leder, From: row.From}, &batchID)
			if err == nil {
				moves = append(moves, t)
				continue
			}
			if apperr.CodeOf(err) == apperr.Internal {
				// One line's failure is that line's: the rest are registered.
				log.Error("registering a line of a file of arrivals", "batch", batchID, "line", row.Line, "error", err)
			}
		} else {
			err = apperr.InvalidFields(bad)
		}
		refused = append(refused, Refused{Line: row.Line, Who: who, Reason: reasonOf(err)})
	}
	raw, err := json.Marshal(refused)
	if err != nil {
		return nil, nil, err
	}
	err = tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE transfer_batches SET refused = ? WHERE tenant_id = ? AND id = ?", string(raw), tenantID, batchID)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	b, err := s.Batch(ctx, tenantID, batchID)
	return b, moves, err
}

// findPlan finds a plan template by its id or its name (exact, any case).
func findPlan(plans []idName, s string) (id, problem string) {
	if s == "" {
		return "", "Mangler plan."
	}
	var hits []string
	for _, p := range plans {
		if p.ID == strings.ToLower(s) {
			return p.ID, ""
		}
		if strings.EqualFold(p.Name, s) {
			hits = append(hits, p.ID)
		}
	}
	switch len(hits) {
	case 1:
		return hits[0], ""
	case 0:
		names := make([]string, 0, len(plans))
		for i, p := range plans {
			if i == 10 {
				names = append(names, "…")
				break
			}
			names = append(names, "«"+p.Name+"»")
		}
		if len(names) == 0 {
			return "", fmt.Sprintf("Fant ingen plan som heter «%s» her: lag planen først.", s)
		}
		return "", fmt.Sprintf("Fant ingen plan som heter «%s» her. Planene her: %s.", s, strings.Join(names, ", "))
	}
	return "", fmt.Sprintf("Flere planer heter «%s»: bruk planens id i stedet for navnet.", s)
}

const batchColumnsSQL = `b.tenant_id, b.id, b.filename, coalesce(trim(p.given_name || ' ' || p.family_name), '') AS created_by_name, b.created_at, b.rows, b.refused,
	(SELECT count(*) FROM transfers x WHERE x.tenant_id = b.tenant_id AND x.batch_id = b.id) AS registered
	FROM transfer_batches b LEFT JOIN people p ON p.id = b.created_by`

// Batch returns a file of arrivals registered here.
func (s *Store) Batch(ctx context.Context, tenantID, id uuid.UUID) (*Batch, error) {
	var out []Batch
	err := tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw("SELECT "+batchColumnsSQL+" WHERE b.tenant_id = ? AND b.id = ?", tenantID, id).Scan(ctx, &out)
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, apperr.New(apperr.NotFound, "Fant ikke filen med arbeidsstedsbytter.")
	}
	return &out[0], nil
}

// Batches returns the tenant's latest files of arrivals, newest first.
func (s *Store) Batches(ctx context.Context, tenantID uuid.UUID) ([]Batch, error) {
	var out []Batch
	err := tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw("SELECT "+batchColumnsSQL+" WHERE b.tenant_id = ? ORDER BY b.created_at DESC LIMIT 20", tenantID).Scan(ctx, &out)
	})
	return out, err
}

// BatchMoves returns the moves a file registered.
func (s *Store) BatchMoves(ctx context.Context, tenantID, id uuid.UUID) ([]Transfer, error) {
	var out []Transfer
	err := tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw("SELECT "+transferColumns+" WHERE x.tenant_id = ? AND x.batch_id = ? ORDER BY lis_name, x.id", tenantID, id).Scan(ctx, &out)
	})
	return out, err
}

// Progress is how far a file's moves have come. A move dated later waits for
// its start date and counts as handled, so the bar finishes for a file whose
// dates are still ahead.
type Progress struct {
	Total     int `bun:"total"`
	Done      int `bun:"done"`
	Failed    int `bun:"failed"`
	Cancelled int `bun:"cancelled"`
	Waiting   int `bun:"waiting"` // registered, start date ahead
}

// Finished counts the moves with nothing left to run now.
func (p Progress) Finished() int { return p.Done + p.Failed + p.Cancelled + p.Waiting }

// Complete: every move of the file finished (or none registered).
func (p Progress) Complete() bool { return p.Finished() >= p.Total }

// BatchProgress counts a file's moves by where they are (one small query:
// the page polls it while the jobs run).
func (s *Store) BatchProgress(ctx context.Context, tenantID, id uuid.UUID) (Progress, error) {
	var out Progress
	err := tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw(`SELECT count(*) AS total, count(*) FILTER (WHERE status = 'done') AS done, count(*) FILTER (WHERE status = 'failed') AS failed,
				count(*) FILTER (WHERE status = 'cancelled') AS cancelled, count(*) FILTER (WHERE status = 'registered' AND starts_on > ?) AS waiting
			FROM transfers WHERE tenant_id = ? AND batch_id = ?`, s.today().Format("2006-01-02"), tenantID, id).Scan(ctx, &out)
	})
	return out, err
}
