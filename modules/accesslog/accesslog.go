// Package accesslog is the one national log of reads of a LIS's record by
// someone else: who read whose record, for which case (saksnummer), what and
// when. Helsedirektoratet's pages write it now, the API later; the LIS reads
// the rows about themselves on Min utdanning. Rows are never changed or
// removed (the application role has no UPDATE or DELETE on the table).
package accesslog

import (
	"context"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/apperr"
	"kportal/tenants"
)

// Entry is one read. Exactly one of ReaderID (a person) and APIKeyID (a
// machine client) is set.
type Entry struct {
	ID         uuid.UUID  `bun:"id"`
	SubjectID  uuid.UUID  `bun:"subject_id"`  // whose record was read
	ReaderID   *uuid.UUID `bun:"reader_id"`   // the person who read it
	APIKeyID   *uuid.UUID `bun:"api_key_id"`  // or the API key that read it
	ReaderName string     `bun:"reader_name"` // as at the read (names change)
	ReaderOrg  string     `bun:"reader_org"`  // e.g. "Helsedirektoratet"
	CaseNumber string     `bun:"case_number"` // the saksnummer, checked by CheckCase
	What       string     `bun:"what"`        // Norwegian, e.g. "Hele journalen"
	At         time.Time  `bun:"at"`
}

var caseFormat = regexp.MustCompile(`^[0-9A-Za-z/-]{4,20}$`)

// CheckCase trims a case number and says, in Norwegian, what is wrong with
// it ("" when it is good): 4–20 digits, letters, '/' and '-'.
func CheckCase(s string) (string, string) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return s, "Skriv saksnummeret til søknaden du behandler. Uten saksnummer kan du ikke søke opp eller lese en journal."
	case !caseFormat.MatchString(s):
		return s, "Saksnummeret må være 4–20 tegn: sifre, bokstaver (a–z), «/» og «-», for eksempel 26/01234-3."
	}
	return s, ""
}

// Record writes e to the log in tx before the read it describes (a read that
// then fails is still logged: the log may say too much, never too little).
// tx has the reader in force as person (tenants.WithTenantTx with
// Scope{PersonID: reader}), or, for an API key, no person. The case number is
// checked again here; a bad one is an apperr.Invalid on the field "case".
func Record(ctx context.Context, tx bun.IDB, e Entry) error {
	cs, msg := CheckCase(e.CaseNumber)
	if msg != "" {
		return apperr.InvalidFields(map[string]string{"case": msg})
	}
	// The insert policy wants app.access_log on; it is put back at once so
	// nothing else in tx writes to the log.
	if _, err := tx.ExecContext(ctx, "SELECT set_config('app.access_log', 'on', true)"); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO access_log (subject_id, reader_id, api_key_id, reader_name, reader_org, case_number, what)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, e.SubjectID, e.ReaderID, e.APIKeyID, e.ReaderName, e.ReaderOrg, cs, e.What)
	if _, rerr := tx.ExecContext(ctx, "SELECT set_config('app.access_log', '', true)"); err == nil {
		err = rerr
	}
	return err
}

// About lists the reads of person's record, newest first (at most limit),
// with person in force: the subject_reads policy shows only their own rows.
func About(ctx context.Context, db bun.IDB, person uuid.UUID, limit int) ([]Entry, error) {
	var out []Entry
	err := tenants.WithTenantTx(ctx, db, tenants.Scope{PersonID: person}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw(`SELECT * FROM access_log WHERE subject_id = ? ORDER BY at DESC, id LIMIT ?`, person, limit).Scan(ctx, &out)
	})
	return out, err
}
