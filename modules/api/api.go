// Package api is kportal's JSON API for machine clients under /api/v1 (the
// OpenAPI 3.1 document at /api/v1/openapi.json describes it) and the
// platform admin's page of API keys. Clients authenticate with a scoped API
// key (Authorization: Bearer kp_…): records:read for Helsedirektoratet's case
// system, tenant:<slug>:read for one tenant's HR or LMS system. OAuth2 client
// credentials are not offered: keys only.
//
// The /api/v1 routes pass the session guard as public; the key, its scope and
// its rate limit are checked here (requireKey), and every refusal answers in
// the {"error":{"code","message"}} shape.
package api

import (
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/uptrace/bun"

	"kportal/modules"
	"kportal/modules/activities"
	"kportal/modules/apperr"
	"kportal/modules/goals"
	"kportal/modules/ratelimit"
	"kportal/modules/web"
	"kportal/policies"
	"kportal/tenants"
)

//go:embed openapi.json
var openAPIDocument []byte

// OpenAPIDocument is the OpenAPI 3.1 document of /api/v1, written by hand;
// TestOpenAPIDocumentMatchesRoutes keeps it true to the routes.
func OpenAPIDocument() []byte { return openAPIDocument }

//go:embed templates
var templatesFS embed.FS

// Prefix is where the API lives.
const Prefix = "/api/v1"

// Module is the api module.
type Module struct {
	db      bun.IDB
	pages   *web.Pages
	limiter *ratelimit.Limiter
	log     *slog.Logger
	goals   *goals.Store
	acts    *activities.Store
}

// New returns the module. limiter counts requests per key (ratelimit.APIKey).
func New(db bun.IDB, nav web.NavFunc, limiter *ratelimit.Limiter, log *slog.Logger) *Module {
	sub, _ := fs.Sub(templatesFS, "templates")
	return &Module{db: db, pages: web.MustPages(sub, nav), limiter: limiter, log: log,
		goals: goals.NewStore(db), acts: activities.NewStore(db)}
}

func (m *Module) Info() modules.Info {
	return modules.Info{ID: "api", Title: "API", Requires: []string{"web"}}
}

func (m *Module) Policies() []policies.Rule {
	return []policies.Rule{{Role: tenants.RolePlatformAdmin, Object: "api_keys", Action: "manage"}}
}

func (m *Module) Routes(r *modules.Router) {
	// Public to the session guard: the key is the client's credential.
	r.GET(Prefix+"/openapi.json", m.openAPI, modules.Public())
	r.GET(Prefix+"/records/:hpr", m.requireKey(m.record), modules.Public())
	r.GET(Prefix+"/tenants/:slug/lis", m.requireKey(m.tenantLIS), modules.Public())

	manage := modules.NeedPlatform("api_keys", "manage")
	r.GET("/plattform/api-nokler", m.keysPage, manage)
	r.POST("/plattform/api-nokler", m.createKey, manage)
	r.POST("/plattform/api-nokler/:id/trekk-tilbake", m.revokeKey, manage)
}

func (m *Module) Nav(v *modules.Viewer) []modules.NavItem {
	if v != nil && v.HasPlatformRole(tenants.RolePlatformAdmin) {
		return []modules.NavItem{{Label: "API-nøkler", Href: "/plattform/api-nokler", Order: 60, Home: true}}
	}
	return nil
}

func (m *Module) openAPI(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, "application/json", openAPIDocument)
}

// keyFrom is the key that authenticated the request.
func keyFrom(c echo.Context) *Key { k, _ := c.Get("api_key").(*Key); return k }

// requireKey authenticates the bearer key, counts it against its rate limit,
// logs the use, and writes every error of next in the API's error shape.
func (m *Module) requireKey(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := m.withKey(c, next)
		if err == nil {
			return nil
		}
		return writeError(c, err)
	}
}

func (m *Module) withKey(c echo.Context, next echo.HandlerFunc) error {
	ctx := c.Request().Context()
	auth := c.Request().Header.Get("Authorization")
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="kportal"`)
		return apperr.New(apperr.Unauthorized, "Send API-nøkkelen som Authorization: Bearer <nøkkel>.")
	}
	k, err := lookup(ctx, m.db, strings.TrimSpace(token))
	if err != nil {
		if apperr.Is(err, apperr.Unauthorized) {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="kportal", error="invalid_token"`)
			// A refused key is worth a line: someone holds a key that does not work.
			m.log.Warn("api key refused", "key_prefix", visiblePrefix(token), "path", c.Path(), "client", c.RealIP())
		}
		return err
	}
	if err := m.limiter.Check(ctx, ratelimit.Key{Kind: ratelimit.APIKey, Value: k.ID.String()}); err != nil {
		m.log.Warn("api key rate limited", "key_id", k.ID, "key_prefix", k.Prefix)
		return err
	}
	c.Set("api_key", k)
	err = next(c)
	m.log.Info("api request", "key_id", k.ID, "key_prefix", k.Prefix, "path", c.Path(),
		"status", statusOf(c, err), "request_id", c.Response().Header().Get(echo.HeaderXRequestID))
	return err
}

func statusOf(c echo.Context, err error) int {
	if err != nil {
		return apiStatus(apperr.CodeOf(err))
	}
	return c.Response().Status
}

// apiStatus is apperr.Status, except that bad input in a query (a missing
// case number, a cursor from another query) is 400: the API has no form.
func apiStatus(code apperr.Code) int {
	if code == apperr.Invalid {
		return http.StatusBadRequest
	}
	return apperr.Status(code)
}

// writeError answers an application error in the API's shape; anything else
// goes to the server's error handler (logged, a 500 in the same shape).
func writeError(c echo.Context, err error) error {
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Code == apperr.Internal {
		return err
	}
	web.SetRetryAfter(c, err)
	return c.JSON(apiStatus(ae.Code), map[string]any{"error": map[string]string{"code": string(ae.Code), "message": ae.Message}})
}

// need refuses a key without scope.
func need(k *Key, scope string) error {
	if k.Has(scope) {
		return nil
	}
	return apperr.New(apperr.Forbidden, "API-nøkkelen har ikke tilgangen %s.", scope)
}

// visiblePrefix is the part of a presented key that lists show (never more).
func visiblePrefix(token string) string {
	token = strings.TrimSpace(token)
	if len(token) < len(tokenPrefix)+8 {
		return ""
	}
	return token[:len(tokenPrefix)+8]
}
