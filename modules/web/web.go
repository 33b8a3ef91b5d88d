// Package web is the web shell: the layout (Designsystemet CSS and htmx,
// vendored and embedded), the home and help pages, Norwegian error pages and the
// JSON error shape, and the security middleware every page relies on.
package web

import (
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"kportal/modules"
	"kportal/modules/apperr"
	"kportal/storage"
)

//go:embed templates/layout.html
var layoutFS embed.FS

//go:embed templates/pages
var pagesFS embed.FS

//go:embed assets
var assetsFS embed.FS

// Module is the web shell.
type Module struct {
	pages *Pages
}

// New returns the web shell; nav fills the menu.
func New(nav NavFunc) *Module {
	sub, _ := fs.Sub(pagesFS, "templates/pages")
	return &Module{pages: MustPages(sub, nav)}
}

// Pages is the shell's own page set (used for error pages).
func (m *Module) Pages() *Pages { return m.pages }

func (m *Module) Info() modules.Info { return modules.Info{ID: "web", Title: "Nettsider"} }

func (m *Module) Routes(r *modules.Router) {
	assets, _ := fs.Sub(assetsFS, "assets")
	static := echo.WrapHandler(http.StripPrefix("/assets/", cacheForever(http.FileServer(http.FS(assets)))))
	r.GET("/assets/*", static, modules.Public())
	r.GET("/", m.home, modules.SignedIn())
	r.GET("/hjelp", m.help, modules.Public())
}

func (m *Module) Nav(v *modules.Viewer) []modules.NavItem {
	items := []modules.NavItem{{Label: "Hjem", Href: "/", Order: 0}}
	if v != nil && v.Tenant != nil {
		items = append(items, modules.NavItem{Label: v.Tenant.Name, Href: "/t/" + v.Tenant.Slug + "/", Order: 1})
	}
	return append(items, modules.NavItem{Label: "Hjelp", Href: "/hjelp", Order: 1000})
}

func (m *Module) home(c echo.Context) error {
	return m.pages.Render(c, http.StatusOK, "home", "Hjem", nil)
}

func (m *Module) help(c echo.Context) error {
	return m.pages.Render(c, http.StatusOK, "help", "Hjelp", nil)
}

func cacheForever(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Assets change only with a new binary; an hour keeps redeploys visible soon.
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// IsAPI reports whether a request wants JSON rather than a page.
func IsAPI(c echo.Context) bool {
	r := c.Request()
	return strings.HasPrefix(r.URL.Path, "/api/") ||
		(strings.Contains(r.Header.Get("Accept"), "application/json") && !strings.Contains(r.Header.Get("Accept"), "text/html"))
}

// ErrorHandler turns every error into a Norwegian page or the JSON shape
// {"error":{"code","message"}}; internal details are logged, never shown. An
// unauthenticated page request is sent to the login page.
func (m *Module) ErrorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		code, msg := apperr.CodeOf(err), apperr.MessageOf(err)
		if code == apperr.Internal && storage.IsDataError(err) {
			// A value no check caught before PostgreSQL did: bad input, not our failure.
			code, msg = apperr.Invalid, invalidInput
		}
		var he *echo.HTTPError
		if errors.As(err, &he) {
			code = apperr.FromStatus(he.Code)
			msg = apperr.DefaultMessage(code)
			if he.Code == http.StatusRequestEntityTooLarge {
				msg = "Forespørselen er for stor."
			}
			if he.Code == http.StatusForbidden && strings.Contains(he.Error(), "csrf") || he.Code == http.StatusBadRequest && strings.Contains(he.Error(), "csrf") {
				code, msg = apperr.Forbidden, "Skjemaet er utløpt eller ble sendt fra et annet nettsted. Last siden på nytt og prøv igjen."
			}
		}
		status := apperr.Status(code)
		SetRetryAfter(c, err)
		if status >= 500 {
			log.Error("request failed", "error", err, "method", c.Request().Method, "path", LogPath(c),
				"request_id", c.Response().Header().Get(echo.HeaderXRequestID))
		} else {
			log.Debug("request refused", "error", err, "path", LogPath(c))
		}
		if IsAPI(c) || code == apperr.RateLimited && IsPartial(c) {
			_ = c.JSON(status, map[string]any{"error": map[string]string{"code": string(code), "message": msg}})
			return
		}
		if code == apperr.Unauthorized && c.Request().Method == http.MethodGet {
			_ = Redirect(c, "/logg-inn?return_to="+url.QueryEscape(c.Request().URL.RequestURI()))
			return
		}
		if rerr := m.pages.Render(c, status, "error", errorTitle(status), map[string]any{"Status": status, "Message": msg}); rerr != nil {
			log.Error("rendering error page", "error", rerr)
			_ = c.String(status, msg)
		}
	}
}

// SetRetryAfter sends Retry-After (whole seconds, at least 1) when err asks
// the client to wait; handlers that show a refusal in their own page call it.
func SetRetryAfter(c echo.Context, err error) {
	if d := apperr.RetryAfterOf(err); d > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
	}
}

// IsPartial reports an htmx request for part of a page (not a boosted link),
// which htmx does not swap in on an error status: it gets the JSON shape.
func IsPartial(c echo.Context) bool {
	h := c.Request().Header
	return h.Get("HX-Request") == "true" && h.Get("HX-Boosted") != "true"
}

func errorTitle(status int) string {
	switch status {
	case http.StatusNotFound:
		return "Fant ikke siden"
	case http.StatusForbidden:
		return "Ingen tilgang"
	case http.StatusUnauthorized:
		return "Logg inn"
	case http.StatusServiceUnavailable:
		return "Midlertidig utilgjengelig"
	case http.StatusConflict:
		return "Kan ikke gjøres nå"
	case http.StatusTooManyRequests:
		return "For mange forsøk"
	}
	if status >= 500 {
		return "Noe gikk galt"
	}
	return "Kan ikke gjøres"
}

// LogPath is a request's path as logs show it: a route whose path carries a
// secret (an invitation link's token) is logged as its pattern,
// "/invitasjon/:token", so logs never hold a working link.
func LogPath(c echo.Context) string {
	if route := c.Path(); strings.Contains(route, ":token") {
		return route
	}
	return c.Request().URL.Path
}

// cleanInput refuses query strings and plain forms holding a NUL byte or
// bytes that are not UTF-8: no field anywhere may hold them, and PostgreSQL
// cuts a query at a NUL. (Multipart bodies are files; their handlers check
// their own text fields.)
func cleanInput(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		bad := func(vs map[string][]string) bool {
			for k, v := range vs {
				for _, x := range append(v, k) {
					if !utf8.ValidString(x) || strings.ContainsRune(x, 0) {
						return true
					}
				}
			}
			return false
		}
		if bad(c.QueryParams()) {
			return apperr.New(apperr.Invalid, invalidInput)
		}
		if strings.HasPrefix(c.Request().Header.Get(echo.HeaderContentType), echo.MIMEApplicationForm) {
			if form, err := c.FormParams(); err == nil && bad(form) {
				return apperr.New(apperr.Invalid, invalidInput)
			}
		}
		return next(c)
	}
}

const invalidInput = "Noe av det du sendte kan ikke lagres: ugyldige tegn, eller en dato eller et tall utenfor det gyldige. Rett det og prøv igjen."

func isMultipart(c echo.Context) bool {
	return strings.HasPrefix(c.Request().Header.Get(echo.HeaderContentType), echo.MIMEMultipartForm)
}

// csrf protects forms, looking for the token where lookup says; requests
// that skip says are left to the other instance.
func csrf(secureCookies bool, lookup string, skip func(echo.Context) bool) echo.MiddlewareFunc {
	return middleware.CSRFWithConfig(middleware.CSRFConfig{
		TokenLookup:    lookup,
		CookieName:     "kportal_csrf",
		CookiePath:     "/",
		CookieHTTPOnly: true,
		CookieSecure:   secureCookies,
		CookieSameSite: http.SameSiteLaxMode,
		// API clients authenticate with a session token header, not a cookie,
		// so a cross-site page cannot make them act.
		Skipper: func(c echo.Context) bool {
			return skip(c) || c.Request().Header.Get("X-Session-Token") != "" && c.Request().Header.Get("Cookie") == ""
		},
	})
}

// Security is the middleware every response passes: security headers and CSRF
// protection of forms. https says the site is served over HTTPS (its base
// URL), perhaps through a load balancer that ends TLS: cookies are then
// Secure and every response carries HSTS. Over plain HTTP there is no HSTS,
// whatever a client's X-Forwarded-Proto claims.
func Security(https bool) []echo.MiddlewareFunc {
	return []echo.MiddlewareFunc{
		middleware.SecureWithConfig(middleware.SecureConfig{
			XSSProtection:         "0",
			ContentTypeNosniff:    "nosniff",
			XFrameOptions:         "DENY",
			ReferrerPolicy:        "same-origin",
			ContentSecurityPolicy: "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'",
		}),
		hsts(https),
		// A multipart body is never parsed to look for the token (that would read
		// an upload of any size, from anyone, before the session is checked): such
		// forms carry it in the header or the URL.
		csrf(https, "header:X-CSRF-Token,query:_csrf,form:_csrf", func(c echo.Context) bool { return isMultipart(c) }),
		csrf(https, "header:X-CSRF-Token,query:_csrf", func(c echo.Context) bool { return !isMultipart(c) }),
		cleanInput,
	}
}

// hsts sends Strict-Transport-Security (two years, subdomains too) when the
// site is HTTPS.
func hsts(https bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if !https {
			return next
		}
		return func(c echo.Context) error {
			c.Response().Header().Set(echo.HeaderStrictTransportSecurity, "max-age=63072000; includeSubDomains")
			return next(c)
		}
	}
}
