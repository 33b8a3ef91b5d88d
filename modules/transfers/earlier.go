package transfers

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/tenants"
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
	var out []Workplace
	if err := tx.NewRaw(`SELECT earlier_tenant_id, left_on, same_rhf FROM earlier_workplaces WHERE tenant_id = ? AND lis_id = ?
		ORDER BY left_on DESC`, tenantID, lisID).Scan(ctx, &out); err != nil || len(out) == 0 {
		return out, err
	}
	ids := make([]uuid.UUID, len(out))
	for i, w := range out {
		ids[i] = w.TenantID
	}
	ts, err := tenants.ByIDs(ctx, tx, ids)
	if err != nil {
		return nil, err
	}
	names := map[uuid.UUID]string{}
	for _, t := range ts {
		names[t.ID] = t.Name
	}
	for i := range out {
		out[i].Name = names[out[i].TenantID]
	}
	return out, nil
}
