package web

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"

	"kportal/modules"
	"kportal/modules/apperr"
)

// NavFunc gives the menu for a viewer (the host's Nav).
type NavFunc func(ctx context.Context, v *modules.Viewer) []modules.NavItem

// View is what every page template gets: the layout reads the fields around
// Data, the page reads Data.
type View struct {
	Title  string
	Viewer *modules.Viewer
	Nav    []modules.NavItem
	CSRF   string
	Path   string
	Data   any
}

// Pages renders one module's page templates inside the shared layout.
type Pages struct {
	pages map[string]*template.Template
	nav   NavFunc
}

// Funcs are the template functions every page may use.
var Funcs = template.FuncMap{
	"roleName":  RoleName,
	"roleNames": func(roles []string) string { return RoleNames(roles) },
	"lower":     strings.ToLower,
	// plural picks the word for a count: {{plural .N "aktivitet" "aktiviteter"}}.
	"plural": func(n int, one, many string) string {
		if n == 1 {
			return one
		}
		return many
	},
}

// NewPages parses every *.html file in fsys (each defining "content" and
// optionally "title") on top of the layout.
func NewPages(fsys fs.FS, nav NavFunc) (*Pages, error) {
	base, err := template.New("layout").Funcs(Funcs).ParseFS(layoutFS, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	files, err := fs.Glob(fsys, "*.html")
	if err != nil {
		return nil, err
	}
	p := &Pages{pages: map[string]*template.Template{}, nav: nav}
	for _, f := range files {
		t, err := template.Must(base.Clone()).ParseFS(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", f, err)
		}
		p.pages[strings.TrimSuffix(path.Base(f), ".html")] = t
	}
	return p, nil
}

// MustPages is NewPages for embedded templates, where an error is a bug.
func MustPages(fsys fs.FS, nav NavFunc) *Pages {
	p, err := NewPages(fsys, nav)
	if err != nil {
		panic(err)
	}
	return p
}

// Render writes page name with data. A request from htmx (HX-Request) that
// targets part of the page gets only the "content" block.
func (p *Pages) Render(c echo.Context, status int, name, title string, data any) error {
	t, ok := p.pages[name]
	if !ok {
		return fmt.Errorf("no page template %q", name)
	}
	ctx := c.Request().Context()
	v := View{Title: title, Viewer: modules.ViewerFrom(ctx), CSRF: CSRFToken(c), Path: c.Request().URL.Path, Data: data}
	if p.nav != nil && v.Viewer != nil {
		v.Nav = p.nav(ctx, v.Viewer)
	}
	entry := "layout"
	if c.Request().Header.Get("HX-Request") == "true" && c.Request().Header.Get("HX-Boosted") != "true" {
		entry = "content"
	}
	var buf bytes.Buffer // render fully first, so a template error never sends half a page
	if err := t.ExecuteTemplate(&buf, entry, v); err != nil {
		return err
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// CSRFToken is the request's CSRF token (set by Echo's CSRF middleware).
func CSRFToken(c echo.Context) string {
	s, _ := c.Get("csrf").(string)
	return s
}

var roleNames = map[string]string{
	"lis":            "LIS",
	"leder":          "Leder",
	"veileder":       "Veileder",
	"supervisor":     "Supervisør",
	"uao":            "Utdanningsansvarlig overlege",
	"tenant_admin":   "Administrator",
	"rhf_admin":      "RHF-administrator",
	"hdir":           "Helsedirektoratet",
	"platform_admin": "Plattformadministrator",
}

// RoleName is a role's Norwegian name.
func RoleName(role string) string {
	if n, ok := roleNames[role]; ok {
		return n
	}
	return role
}

// RoleNames joins roles' Norwegian names.
func RoleNames(roles []string) string {
	out := make([]string, len(roles))
	for i, r := range roles {
		out[i] = RoleName(r)
	}
	return strings.Join(out, ", ")
}

// Redirect sends the browser to url; for htmx requests it uses HX-Redirect so
// the whole page changes.
func Redirect(c echo.Context, url string) error {
	if c.Request().Header.Get("HX-Request") == "true" {
		c.Response().Header().Set("HX-Redirect", url)
		return c.NoContent(http.StatusNoContent)
	}
	return c.Redirect(http.StatusSeeOther, url)
}

// Answer ends a form's POST: a problem the person can put right (invalid
// input, a conflict) shows the form again through again, with its status and
// message; any other error goes to the error handler; success redirects to next.
func Answer(c echo.Context, err error, again func(c echo.Context, status int, problem error) error, next string) error {
	if err == nil {
		return Redirect(c, next)
	}
	if code := apperr.CodeOf(err); code == apperr.Invalid || code == apperr.Conflict {
		return again(c, apperr.Status(code), err)
	}
	return err
}
