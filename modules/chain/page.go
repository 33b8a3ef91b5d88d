package chain

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/uptrace/bun"

	"kportal/modules"
	"kportal/modules/ratelimit"
	"kportal/modules/web"
)

//go:embed templates
var templatesFS embed.FS

// Module is the public verification page, /verifiser/<code>: no login, and
// nothing but valid or invalid and a date, so it tells a stranger holding a
// code nothing about whose it is.
type Module struct {
	db      bun.IDB
	pages   *web.Pages
	limiter *ratelimit.Limiter
}

// New returns the module.
func New(db bun.IDB, nav web.NavFunc) *Module {
	sub, _ := fs.Sub(templatesFS, "templates")
	return &Module{db: db, pages: web.MustPages(sub, nav)}
}

// LimitWith counts verifications per client address (ratelimit.Verify).
func (m *Module) LimitWith(l *ratelimit.Limiter) *Module {
	m.limiter = l
	return m
}

func (m *Module) Info() modules.Info {
	return modules.Info{ID: "chain", Title: "Verifisering", Requires: []string{"web"}}
}

func (m *Module) Routes(r *modules.Router) {
	r.GET("/verifiser", m.form, modules.Public())
	r.GET("/verifiser/:code", m.verify, modules.Public())
}

// form asks for a code; ?kode= goes on to its page.
func (m *Module) form(c echo.Context) error {
	if k := c.QueryParam("kode"); k != "" {
		if code, ok := ParseCode(k); ok {
			return c.Redirect(http.StatusSeeOther, "/verifiser/"+code)
		}
		return m.pages.Render(c, http.StatusUnprocessableEntity, "verify", "Verifiser dokumentasjon",
			map[string]any{"Typed": k, "Error": "Koden har 16 tegn (0–9 og A–F), som ABCD-1234-EF56-7890."})
	}
	return m.pages.Render(c, http.StatusOK, "verify", "Verifiser dokumentasjon", map[string]any{})
}

func (m *Module) verify(c echo.Context) error {
	code, ok := ParseCode(c.Param("code"))
	if !ok {
		return m.pages.Render(c, http.StatusNotFound, "verify", "Verifiser dokumentasjon",
			map[string]any{"Typed": c.Param("code"), "Error": "Koden har 16 tegn (0–9 og A–F), som ABCD-1234-EF56-7890."})
	}
	ctx := c.Request().Context()
	if err := m.limiter.Check(ctx, ratelimit.Key{Kind: ratelimit.Verify, Value: ratelimit.ClientAddress(c.RealIP())}); err != nil {
		return err
	}
	res, err := Verify(ctx, m.db, code)
	if err != nil {
		return err
	}
	data := map[string]any{"Checked": true, "Code": (&Link{Hash: code}).Code()}
	status := http.StatusOK
	if res == nil {
		status = http.StatusNotFound
	} else {
		data["Valid"], data["Date"] = res.Valid, web.Date(res.At.In(web.Oslo))
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return m.pages.Render(c, status, "verify", "Verifiser dokumentasjon", data)
}
