package plans

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/uptrace/bun"

	"kportal/modules/apperr"
	"kportal/modules/catalog"
	"kportal/modules/web"
	"kportal/tenants"
)

// Behind returns the LIS in the tenant whose active plans are pinned to a
// catalogue version older than to.
func Behind(ctx context.Context, db bun.IDB, tenantID uuid.UUID, to int) ([]uuid.UUID, error) {
	var out []uuid.UUID
	err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw(`SELECT DISTINCT lis_id FROM plan_assignments WHERE tenant_id = ? AND archived_at IS NULL AND version_id < ?`,
			tenantID, to).Scan(ctx, &out)
	})
	return out, err
}

// MoveAll moves every LIS of the tenant whose plans are behind to version to,
// in one transaction (catalog.Migrate: activities always, approvals only where
// the change is not stricter). It returns how many were moved.
func MoveAll(ctx context.Context, db bun.IDB, tenantID uuid.UUID, to int) (int, error) {
	lis, err := Behind(ctx, db, tenantID, to)
	if err != nil || len(lis) == 0 {
		return 0, err
	}
	err = tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		for _, id := range lis {
			if err := catalog.Migrate(ctx, tx, tenantID, id, to); err != nil {
				return err
			}
		}
		return nil
	})
	return len(lis), err
}

// moveToLatest is the tenant admin's button on the plans page.
func (m *Module) moveToLatest(c echo.Context) error {
	ctx := c.Request().Context()
	v := viewer(c)
	latest, err := catalog.LatestPublished(ctx, m.db)
	if err != nil {
		return err
	}
	if latest == nil || fmt.Sprint(latest.ID) != c.FormValue("version") {
		return m.renderTemplates(c, 409, apperr.New(apperr.Conflict, "Katalogen har fått en nyere versjon siden siden ble lastet. Se over og prøv igjen."))
	}
	n, err := MoveAll(ctx, m.db, v.Tenant.ID, latest.ID)
	if err != nil {
		return err
	}
	return web.Redirect(c, fmt.Sprintf("/t/%s/admin/planer?flyttet=%d", v.Tenant.Slug, n))
}
