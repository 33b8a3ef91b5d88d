// Package transferstest moves a LIS for the tests of other packages (goals,
// activities, cmd/kportal): a move registered by the new workplace and synced
// at once, as the sync job does on its start date.
package transferstest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/transfers"
	"kportal/modules/web"
	"kportal/storage/testenv"
	"kportal/tenants"
)

// RHF makes sure the regional health authorities with these codes (2–4
// capital letters) exist, so tenants can belong to them.
func RHF(t testing.TB, codes ...string) {
	t.Helper()
	for _, c := range codes {
		orgnr := fmt.Sprintf("9%08d", int(c[0])*10000+int(c[1])*100+len(c))
		if _, err := testenv.Get(t).Owner.ExecContext(context.Background(), "INSERT INTO rhf (code, name, orgnr) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
			c, "Helse "+c, orgnr); err != nil {
			t.Fatal(err)
		}
	}
}

// Move registers lis's move from `from` into `to`, starting today, on the
// plan template of `to` (leder: the LIS's leder there, or uuid.Nil), and
// syncs it. The test fails unless the move is done.
func Move(t testing.TB, db bun.IDB, from, to *tenants.Tenant, lis, template, leder uuid.UUID) *transfers.Transfer {
	t.Helper()
	ctx := context.Background()
	var email string
	if err := db.NewRaw("SELECT email FROM people WHERE id = ?", lis).Scan(ctx, &email); err != nil {
		t.Fatal(err)
	}
	s := transfers.NewStore(db)
	in := transfers.Arrival{Who: email, StartsOn: time.Now().In(web.Oslo).Format("2006-01-02"), TemplateID: template.String(), From: from.Slug}
	if leder != uuid.Nil {
		in.LederID = leder.String()
	}
	tr, err := s.Register(ctx, to.ID, tenants.Actor{PersonID: leder, Name: "Leder"}, in, nil)
	if err != nil {
		t.Fatalf("register the move to %s: %v", to.Name, err)
	}
	done, err := s.Sync(ctx, to.ID, tr.ID)
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != transfers.StatusDone {
		t.Fatalf("move to %s: %s %+v", to.Name, done.Status, done.Report)
	}
	return done
}
