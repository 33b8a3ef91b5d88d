// Package moved reads what the moves between workplaces left behind, for the
// modules that show it (goals, activities, progress): a LIS's earlier
// workplaces as seen from where they work now, and a move away from a
// workplace. modules/transfers writes these rows; it depends on those
// modules, so what they read lives here.
package moved

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/apperr"
	"kportal/modules/web"
)

// Workplace is a tenant a LIS worked at before, as seen from where they work
// now ("Tidligere arbeidssted").
type Workplace struct {
	TenantID uuid.UUID `bun:"earlier_tenant_id"`
	Name     string    `bun:"-"`
	LeftOn   time.Time `bun:"left_on"`
	SameRHF  bool      `bun:"same_rhf"`
}

// Earlier lists the LIS's earlier workplaces as seen from tenantID, most
// recently left first, with their names: the tenants whose record the
// earlier_record policies let tenantID read. tx has tenantID in force. A LIS
// who never moved here has none.
func Earlier(ctx context.Context, tx bun.IDB, tenantID, lisID uuid.UUID) ([]Workplace, error) {
	m, err := EarlierOf(ctx, tx, tenantID, []uuid.UUID{lisID})
	return m[lisID], err
}

// Departure is the LIS's move away from a tenant: where to, and from when.
type Departure struct {
	ToName   string    `bun:"to_name"`
	StartsOn time.Time `bun:"starts_on"`
}

// LeftFrom returns the LIS's latest move away from tenantID that has
// happened, or nil; tx has tenantID in force (the left_from policy). The old
// workplace's record is ended at the move: activities and goals refuse new
// work there with it.
func LeftFrom(ctx context.Context, tx bun.IDB, tenantID, lisID uuid.UUID) (*Departure, error) {
	var out []Departure
	err := tx.NewRaw(`SELECT n.name AS to_name, x.starts_on FROM transfers x JOIN tenants n ON n.id = x.tenant_id
		WHERE x.from_tenant_id = ? AND x.lis_id = ? AND x.status = 'done' ORDER BY x.starts_on DESC LIMIT 1`, tenantID, lisID).Scan(ctx, &out)
	if err != nil || len(out) == 0 {
		return nil, err
	}
	return &out[0], nil
}

// Refusal is the message a LIS gets for new work at a workplace they left.
func (d *Departure) Refusal() error {
	return apperr.New(apperr.Conflict, "Du har flyttet til %s (fra %s), og planen din her er avsluttet. Registrer nytt der.", d.ToName, web.Date(d.StartsOn))
}

// StartsOnText is the date the LIS started at the new workplace, as shown.
func (d *Departure) StartsOnText() string { return web.Date(d.StartsOn) }
