package api

import (
	"context"
	"net/http"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"kportal/modules"
	"kportal/modules/apperr"
	"kportal/modules/web"
	"kportal/tenants"
)

// keysPage is the platform admin's page of API keys.
type keysPage struct {
	Keys    []Key
	Audit   []AuditEntry
	Owners  []tenants.Tenant
	Form    NewKey
	Errors  map[string]string
	Created *Key   // the key just made
	Token   string // shown this once
	Base    string // where the API is, for the example
}

func (m *Module) keysPage(c echo.Context) error {
	return m.renderKeys(c, http.StatusOK, &keysPage{})
}

func (m *Module) renderKeys(c echo.Context, status int, p *keysPage) error {
	ctx := c.Request().Context()
	var err error
	if p.Keys, err = Keys(ctx, m.db); err != nil {
		return err
	}
	if p.Audit, err = Audit(ctx, m.db, 50); err != nil {
		return err
	}
	if p.Owners, err = owners(ctx, m); err != nil {
		return err
	}
	p.Base = c.Scheme() + "://" + c.Request().Host + Prefix
	if p.Token != "" {
		c.Response().Header().Set("Cache-Control", "no-store") // the key must not stay in a cache
	}
	return m.pages.Render(c, status, "keys", "API-nøkler", p)
}

// owners are the organisations a key can belong to.
func owners(ctx context.Context, m *Module) ([]tenants.Tenant, error) {
	var ts []tenants.Tenant
	err := m.db.NewSelect().Model(&ts).Column("id", "slug", "name", "kind", "status").
		Where("status <> ?", tenants.StatusPending).Order("name").Scan(ctx)
	return ts, err
}

func (m *Module) createKey(c echo.Context) error {
	v := modules.ViewerFrom(c.Request().Context())
	in := NewKey{Name: c.FormValue("name"), OwnerID: c.FormValue("owner"),
		Records: c.FormValue("records") == "on", Tenant: c.FormValue("tenant") == "on"}
	k, token, err := CreateKey(c.Request().Context(), m.db, Actor{ID: v.PersonID, Name: v.Name()}, in)
	if err != nil {
		if fields := apperr.FieldsOf(err); fields != nil {
			return m.renderKeys(c, http.StatusUnprocessableEntity, &keysPage{Form: in, Errors: fields})
		}
		return err
	}
	return m.renderKeys(c, http.StatusOK, &keysPage{Created: k, Token: token})
}

func (m *Module) revokeKey(c echo.Context) error {
	v := modules.ViewerFrom(c.Request().Context())
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return apperr.Default(apperr.NotFound)
	}
	if err := RevokeKey(c.Request().Context(), m.db, Actor{ID: v.PersonID, Name: v.Name()}, id); err != nil {
		return err
	}
	return web.Redirect(c, "/plattform/api-nokler")
}
