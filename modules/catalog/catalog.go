// Package catalog is the national catalogue (Helsedirektoratet's, the same
// for every tenant): specialties, læringsmål, national procedures with
// recommended counts and recommended activities, in versions. A version is
// a draft until Helsedirektoratet has marked each changed goal stricter or
// not and published it; Migrate moves a LIS to a newer version.
package catalog

import (
	"embed"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"testing/fstest"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/uptrace/bun"

	"kportal/modules"
	"kportal/modules/apperr"
	"kportal/modules/web"
	"kportal/policies"
	"kportal/tenants"
)

//go:embed templates
var templatesFS embed.FS

// Module is the catalogue module.
type Module struct {
	db    bun.IDB
	pages *web.Pages
	now   func() time.Time
}

// New returns the module.
func New(db bun.IDB, nav web.NavFunc) *Module {
	sub, _ := fs.Sub(templatesFS, "templates")
	return &Module{db: db, pages: web.MustPages(sub, nav), now: time.Now}
}

func (m *Module) Info() modules.Info {
	return modules.Info{ID: "catalog", Title: "Nasjonal katalog", Requires: []string{"web"}}
}

func (m *Module) Policies() []policies.Rule {
	return []policies.Rule{{Role: tenants.RoleHdir, Object: "catalog", Action: "manage"}}
}

func (m *Module) Routes(r *modules.Router) {
	manage := modules.NeedPlatform("catalog", "manage")
	r.GET("/katalog", m.list, manage)
	r.POST("/katalog", m.upload, manage)
	r.GET("/katalog/:id", m.version, manage)
	r.POST("/katalog/:id/vurdering", m.assess, manage)
	r.POST("/katalog/:id/publiser", m.publish, manage)
}

func (m *Module) Nav(v *modules.Viewer) []modules.NavItem {
	if v.HasPlatformRole(tenants.RoleHdir) {
		return []modules.NavItem{{Label: "Katalog", Href: "/katalog", Order: 45, Home: true}}
	}
	return nil
}

type listPage struct {
	Versions []Version
	Label    string
	Bad      []Problem
	Warnings []Problem
	Errors   map[string]string
	Message  string
	Header   string
}

func (m *Module) list(c echo.Context) error { return m.renderList(c, http.StatusOK, &listPage{}) }

func (m *Module) renderList(c echo.Context, status int, p *listPage) error {
	var err error
	if p.Versions, err = Versions(c.Request().Context(), m.db); err != nil {
		return err
	}
	p.Header = GoalsCSVHeader
	return m.pages.Render(c, status, "list", "Nasjonal katalog", p)
}

// uploadFS turns the uploaded files into a catalogue folder. A CSV file whose
// name is not one of the known ones is read as a goals CSV.
func uploadFS(c echo.Context) (fs.FS, error) {
	form, err := c.MultipartForm()
	if err != nil {
		return nil, apperr.InvalidFields(map[string]string{"files": "Velg minst én fil."})
	}
	out := fstest.MapFS{}
	for _, fh := range form.File["files"] {
		name := path.Base(strings.ReplaceAll(fh.Filename, "\\", "/"))
		known := name == "specialties.csv" || name == "courses.csv" || name == "lis1-goals.json" ||
			strings.HasPrefix(name, "goals") || strings.HasPrefix(name, "procedures-")
		if !known {
			if !strings.HasSuffix(strings.ToLower(name), ".csv") {
				return nil, apperr.InvalidFields(map[string]string{"files": fmt.Sprintf("Kjenner ikke filen %s: bruk CSV- eller JSON-formatene beskrevet under.", name)})
			}
			name = "goals-" + name
		}
		f, err := fh.Open()
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(io.LimitReader(f, 10<<20))
		f.Close()
		if err != nil {
			return nil, err
		}
		out[name] = &fstest.MapFile{Data: b}
	}
	if len(out) == 0 {
		return nil, apperr.InvalidFields(map[string]string{"files": "Velg minst én fil."})
	}
	return out, nil
}

func (m *Module) upload(c echo.Context) error {
	v := modules.ViewerFrom(c.Request().Context())
	p := &listPage{Label: c.FormValue("label")}
	fsys, err := uploadFS(c)
	if err != nil {
		if p.Errors = apperr.FieldsOf(err); p.Errors == nil {
			return err
		}
		return m.renderList(c, http.StatusUnprocessableEntity, p)
	}
	set, err := Read(fsys)
	if err != nil {
		p.Errors = map[string]string{"files": "Filene kunne ikke leses: " + err.Error()}
		return m.renderList(c, http.StatusUnprocessableEntity, p)
	}
	if len(set.Bad) > 0 {
		p.Bad, p.Warnings = set.Bad, set.Warnings
		p.Message = fmt.Sprintf("%d rader er ikke gyldige; ingenting er importert. Rett radene og last opp på nytt.", len(set.Bad))
		return m.renderList(c, http.StatusUnprocessableEntity, p)
	}
	res, err := Import(c.Request().Context(), m.db, set, p.Label, "Lastet opp av "+v.Name(), v.PersonID)
	if fe := apperr.FieldsOf(err); fe != nil {
		p.Errors = fe
		return m.renderList(c, http.StatusUnprocessableEntity, p)
	}
	if err != nil {
		return err
	}
	return web.Redirect(c, "/katalog/"+strconv.Itoa(res.VersionID))
}

type versionPage struct {
	Version Version
	Changes []Change
	Goals   []Goal
	Message string
}

func (m *Module) versionOf(c echo.Context) (*Version, error) {
	id, err := strconv.Atoi(c.Param("id"))
	if err != nil {
		return nil, apperr.Default(apperr.NotFound)
	}
	return VersionByID(c.Request().Context(), m.db, id)
}

func (m *Module) version(c echo.Context) error { return m.renderVersion(c, http.StatusOK, "") }

func (m *Module) renderVersion(c echo.Context, status int, message string) error {
	ctx := c.Request().Context()
	v, err := m.versionOf(c)
	if err != nil {
		return err
	}
	p := &versionPage{Version: *v, Message: message}
	if p.Changes, err = Changes(ctx, m.db, v.ID); err != nil {
		return err
	}
	if p.Goals, err = Goals(ctx, m.db, v.ID); err != nil {
		return err
	}
	return m.pages.Render(c, status, "version", "Katalogversjon "+v.Label, p)
}

func (m *Module) assess(c echo.Context) error {
	ctx := c.Request().Context()
	v, err := m.versionOf(c)
	if err != nil {
		return err
	}
	if v.Published() {
		return m.renderVersion(c, http.StatusConflict, "Versjonen er publisert og kan ikke endres.")
	}
	changes, err := Changes(ctx, m.db, v.ID)
	if err != nil {
		return err
	}
	for _, ch := range changes {
		switch c.FormValue("stricter_" + ch.New.Code) {
		case "yes":
			err = MarkStricter(ctx, m.db, v.ID, ch.New.Code, true)
		case "no":
			err = MarkStricter(ctx, m.db, v.ID, ch.New.Code, false)
		}
		if err != nil {
			return err
		}
	}
	return web.Redirect(c, "/katalog/"+strconv.Itoa(v.ID))
}

func (m *Module) publish(c echo.Context) error {
	v, err := m.versionOf(c)
	if err != nil {
		return err
	}
	err = Publish(c.Request().Context(), m.db, v.ID, m.now())
	if code := apperr.CodeOf(err); code == apperr.Invalid || code == apperr.Conflict {
		return m.renderVersion(c, apperr.Status(code), apperr.MessageOf(err))
	}
	if err != nil {
		return err
	}
	return web.Redirect(c, "/katalog/"+strconv.Itoa(v.ID))
}
