package modules

import (
	"net/http"
	"sort"

	"github.com/labstack/echo/v4"

	"kportal/modules/apperr"
	"kportal/tenants"
)

// Access is what a route requires. Every route declares one; the role matrix
// test (policies) walks them all.
type Access struct {
	Public   bool   // anyone, signed in or not
	Object   string // with Action: the Casbin object and action needed in the URL's tenant
	Action   string
	SignedIn bool // any signed-in person
	// Platform: Object and Action are checked against the person's platform
	// roles (rhf_admin, hdir, platform_admin) instead of a tenant's.
	Platform bool
	// Hidden: a person the guard turns away gets 404, not 403, so a page that
	// reads personal data (Helsedirektoratet's record pages) does not even
	// tell that it exists.
	Hidden bool
}

// Public lets anyone call the route.
func Public() Access { return Access{Public: true} }

// SignedIn lets any signed-in person call the route.
func SignedIn() Access { return Access{SignedIn: true} }

// Need requires permission to do act on obj in the tenant named in the URL.
func Need(obj, act string) Access { return Access{Object: obj, Action: act} }

// NeedPlatform requires permission to do act on obj through a platform role
// (rhf_admin, hdir, platform_admin); which objects within that reach (one
// RHF's foretak, say) is the handler's relationship check.
func NeedPlatform(obj, act string) Access { return Access{Object: obj, Action: act, Platform: true} }

// Hide makes the guard answer 404 instead of 403 to whoever it turns away.
func (a Access) Hide() Access {
	a.Hidden = true
	return a
}

func (a Access) String() string {
	switch {
	case a.Public:
		return "public"
	case a.SignedIn:
		return "signed-in"
	case a.Platform:
		return "platform " + a.Object + ":" + a.Action
	default:
		return a.Object + ":" + a.Action
	}
}

// RouteInfo is one registered route and what it requires.
type RouteInfo struct {
	Module string
	Method string
	Path   string
	Access Access
}

// Authorizer decides whether a person, holding roles in a tenant (their
// memberships), may do act on obj there.
type Authorizer interface {
	Allowed(person string, roles []string, tenant, obj, act string) (bool, error)
}

// Router registers a module's routes, each with its declared access.
type Router struct {
	e      *echo.Echo
	module Info
	host   *Host
	probe  echo.HandlerFunc // MountProbe: stands in for every handler
}

// GET registers a GET route.
func (r *Router) GET(path string, h echo.HandlerFunc, a Access) { r.Add(http.MethodGet, path, h, a) }

// POST registers a POST route.
func (r *Router) POST(path string, h echo.HandlerFunc, a Access) { r.Add(http.MethodPost, path, h, a) }

// PUT registers a PUT route.
func (r *Router) PUT(path string, h echo.HandlerFunc, a Access) { r.Add(http.MethodPut, path, h, a) }

// DELETE registers a DELETE route.
func (r *Router) DELETE(path string, h echo.HandlerFunc, a Access) {
	r.Add(http.MethodDelete, path, h, a)
}

// Add registers a route. Routes under /t/:tenant/ are tenant routes: the host
// resolves the tenant, checks membership and the module's switch for it.
func (r *Router) Add(method, path string, h echo.HandlerFunc, a Access) {
	r.host.routes = append(r.host.routes, RouteInfo{Module: r.module.ID, Method: method, Path: path, Access: a})
	if r.probe != nil {
		h = r.probe
	}
	r.e.Add(method, path, h, r.host.guard(r.module, a))
}

// Routes lists every registered route, sorted by path and method.
func (h *Host) Routes() []RouteInfo {
	out := append([]RouteInfo(nil), h.routes...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Method < out[j].Method
	})
	return out
}

// guard enforces a route's access: session, tenant membership, module switch,
// then the Casbin permission. A tenant the viewer does not belong to answers 404
// (not 403), so ids of other tenants' objects reveal nothing.
func (h *Host) guard(m Info, a Access) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if a.Public {
				return next(c)
			}
			v := ViewerFrom(c.Request().Context())
			if v == nil {
				return apperr.New(apperr.Unauthorized, "Du må logge inn for å se dette.")
			}
			if slug := c.Param("tenant"); slug != "" {
				v.Tenant = nil
				for i := range v.Memberships {
					if v.Memberships[i].Tenant.Slug == slug {
						v.Tenant = &v.Memberships[i].Tenant
					}
				}
				if v.Tenant == nil {
					return apperr.Default(apperr.NotFound)
				}
				if v.Tenant.Status == "suspended" {
					return apperr.New(apperr.Forbidden, "%s er midlertidig stengt i kportal. Kontakt virksomhetens administrator.", v.Tenant.Name)
				}
				if h.onEnter != nil {
					if err := h.onEnter(c.Request().Context(), v); err != nil {
						return err
					}
				}
				if m.Optional {
					on, err := h.Enabled(c.Request().Context(), v.Tenant.ID, m.ID)
					if err != nil {
						return err
					}
					if !on {
						return apperr.Default(apperr.NotFound)
					}
				}
			}
			if a.Platform {
				if h.authz == nil {
					return apperr.Default(apperr.Forbidden)
				}
				ok, err := h.authz.Allowed(v.PersonID.String(), v.PlatformRoleNames(), tenants.PlatformDomain, a.Object, a.Action)
				if err != nil {
					return err
				}
				if !ok && a.Hidden {
					return apperr.Default(apperr.NotFound)
				}
				if !ok {
					return apperr.Default(apperr.Forbidden)
				}
				return next(c)
			}
			if a.Action != "" {
				if v.Tenant == nil || h.authz == nil {
					return apperr.Default(apperr.Forbidden)
				}
				ok, err := h.authz.Allowed(v.PersonID.String(), v.RolesIn(v.Tenant.ID), v.Tenant.ID.String(), a.Object, a.Action)
				if err != nil {
					return err
				}
				if !ok {
					return apperr.Default(apperr.Forbidden)
				}
			}
			return next(c)
		}
	}
}
