package accesslog

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/apperr"
	"kportal/storage/testenv"
	"kportal/tenants"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The log is written only through Record, as the reader in force, and read
// only by its subject; nobody changes or removes a row.
func TestHdirIsolationAccessLogPolicies(t *testing.T) {
	db := testenv.Get(t).App
	ctx := context.Background()
	lis, other, hanne := testenv.NewPerson(t, db, "Kari", "Lis"), testenv.NewPerson(t, db, "Stein", "Lis"), testenv.NewPerson(t, db, "Hanne", "Hdir")
	as := func(person uuid.UUID, fn func(ctx context.Context, tx bun.Tx) error) error {
		return tenants.WithTenantTx(ctx, db, tenants.Scope{PersonID: person}, fn)
	}
	entry := Entry{SubjectID: lis, ReaderID: &hanne, ReaderName: "Hanne Hdir", ReaderOrg: "Helsedirektoratet", CaseNumber: " 26/01234-3 ", What: "Hele journalen"}
	if err := as(hanne, func(ctx context.Context, tx bun.Tx) error { return Record(ctx, tx, entry) }); err != nil {
		t.Fatal(err)
	}
	// The flag ends with Record: a bare INSERT later in the transaction fails.
	err := as(hanne, func(ctx context.Context, tx bun.Tx) error {
		if err := Record(ctx, tx, entry); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO access_log (subject_id, reader_id, reader_name, reader_org, case_number, what)
			VALUES (?, ?, 'x', 'x', '1234', 'x')`, lis, hanne)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "row-level security") {
		t.Fatalf("a bare insert after Record: %v", err)
	}
	// Writing as someone else than the person in force.
	forged := entry
	forged.ReaderID = &other
	if err := as(hanne, func(ctx context.Context, tx bun.Tx) error { return Record(ctx, tx, forged) }); err == nil {
		t.Fatal("Record wrote a row in another reader's name")
	}
	// A bad case number is a field error, and writes nothing.
	for _, c := range []string{"", "ab", "26/01234 OR 1", strings.Repeat("1", 21), "sak<1>"} {
		bad := entry
		bad.CaseNumber = c
		err := as(hanne, func(ctx context.Context, tx bun.Tx) error { return Record(ctx, tx, bad) })
		if apperr.FieldsOf(err)["case"] == "" {
			t.Errorf("case %q: %v", c, err)
		}
	}

	got, err := About(ctx, db, lis, 10)
	if err != nil || len(got) != 1 || got[0].CaseNumber != "26/01234-3" || got[0].ReaderName != "Hanne Hdir" || *got[0].ReaderID != hanne {
		t.Fatalf("the LIS's log: %+v %v", got, err)
	}
	for _, p := range []uuid.UUID{other, hanne} {
		if got, err := About(ctx, db, p, 10); err != nil || len(got) != 0 {
			t.Fatalf("another person reads %d rows (%v)", len(got), err)
		}
	}
	for _, q := range []string{"UPDATE access_log SET case_number = '9999'", "DELETE FROM access_log", "TRUNCATE access_log"} {
		err := as(lis, func(ctx context.Context, tx bun.Tx) error { _, err := tx.ExecContext(ctx, q); return err })
		if err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("%s: %v", q, err)
		}
	}
}
