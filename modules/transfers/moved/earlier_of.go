package moved

import (
	"context"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"kportal/tenants"
)

// EarlierOf is Earlier for many LIS in one query (the leder's
// fremdriftsrapport): each LIS's earlier workplaces, most recently left first,
// with their names. LIS who never moved here are absent.
func EarlierOf(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, lisIDs []uuid.UUID) (map[uuid.UUID][]Workplace, error) {
	var rows []struct {
		LisID uuid.UUID `bun:"lis_id"`
		Workplace
	}
	if err := tx.NewRaw(`SELECT lis_id, earlier_tenant_id, left_on, same_rhf FROM earlier_workplaces WHERE tenant_id = ? AND lis_id = ANY(?)
		ORDER BY lis_id, left_on DESC`, tenantID, pgdialect.Array(lisIDs)).Scan(ctx, &rows); err != nil || len(rows) == 0 {
		return nil, err
	}
	var ids []uuid.UUID
	for _, r := range rows {
		ids = append(ids, r.TenantID)
	}
	ts, err := tenants.ByIDs(ctx, tx, ids)
	if err != nil {
		return nil, err
	}
	names := map[uuid.UUID]string{}
	for _, t := range ts {
		names[t.ID] = t.Name
	}
	out := map[uuid.UUID][]Workplace{}
	for _, r := range rows {
		r.Name = names[r.TenantID]
		out[r.LisID] = append(out[r.LisID], r.Workplace)
	}
	return out, nil
}
