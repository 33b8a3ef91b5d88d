// Package documents keeps a LIS's files: kursbevis for course activities and
// the dokumentarkiv (any document, linked to a goal's basis or an
// etterregistrering). Files are checked by content, streamed encrypted to the
// object store under tenants/<tenant>/people/<person>/<uuid>, and handed out
// through short-lived presigned URLs after the permission check; a row exists
// only for a stored object, and a job removes objects whose upload never got
// its row.
package documents

import (
	"context"
	"embed"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/labstack/echo/v4"
	"github.com/uptrace/bun"

	"kportal/modules"
	"kportal/modules/apperr"
	"kportal/modules/web"
	"kportal/policies"
	"kportal/storage"
	"kportal/tenants"
	"kportal/workers"
)

//go:embed templates
var templatesFS embed.FS

// DownloadTTL is how long a presigned download URL works.
const DownloadTTL = 5 * time.Minute

// TypeCleanup is the job that removes objects left without a row.
const TypeCleanup = "documents:cleanup"

// Module is the documents module.
type Module struct {
	store   *Store
	db      bun.IDB
	objects *storage.Objects
	pages   *web.Pages
}

// New returns the module; referrers say what refers to a document (the
// activities' and goals' attachment slots).
func New(db bun.IDB, objects *storage.Objects, nav web.NavFunc, referrers ...Referrer) *Module {
	sub, _ := fs.Sub(templatesFS, "templates")
	return &Module{store: NewStore(db, objects, referrers...), db: db, objects: objects, pages: web.MustPages(sub, nav)}
}

func (m *Module) Info() modules.Info {
	return modules.Info{ID: "documents", Title: "Dokumenter og kursbevis", Requires: []string{"web"}}
}

// Policies: a LIS keeps their own archive; supervisors, veiledere and ledere
// open documents of the LIS they follow (the store checks the relation).
func (m *Module) Policies() []policies.Rule {
	return []policies.Rule{
		{Role: "lis", Object: Object, Action: ActionCreate},
		{Role: "lis", Object: Object, Action: ActionRead},
		{Role: "supervisor", Object: Object, Action: ActionRead},
		{Role: "veileder", Object: Object, Action: ActionRead},
		{Role: "leder", Object: Object, Action: ActionRead},
		{Role: "goal_approver", Object: Object, Action: ActionRead}, // a delegate opens what they approve
		{Role: "tenant_admin", Object: Object, Action: "configure"},
	}
}

func (m *Module) Routes(r *modules.Router) {
	create, read := modules.Need(Object, ActionCreate), modules.Need(Object, ActionRead)
	r.GET("/t/:tenant/dokumenter", m.archive, create)
	r.POST("/t/:tenant/dokumenter", m.upload, create)
	r.POST("/t/:tenant/dokumenter/:id/slett", m.delete, create)
	r.GET("/t/:tenant/dokumenter/:id", m.download, read)
	r.GET("/t/:tenant/dokumenter/:id/vis", m.view, read)
	r.GET("/t/:tenant/admin/dokumenter", m.settings, modules.Need(Object, "configure"))
	r.POST("/t/:tenant/admin/dokumenter", m.saveSettings, modules.Need(Object, "configure"))
}

// StreamsBody reports whether a request goes to the upload route, which
// reads its body as a stream under the tenant's own limit (the server's
// general body limit must not apply to it).
func StreamsBody(c echo.Context) bool {
	return c.Request().Method == http.MethodPost && c.Path() == "/t/:tenant/dokumenter"
}

func (m *Module) Nav(v *modules.Viewer) []modules.NavItem {
	if v.Tenant == nil {
		return nil
	}
	for _, r := range v.RolesIn(v.Tenant.ID) {
		if r == "lis" {
			return []modules.NavItem{{Label: "Dokumenter", Href: "/t/" + v.Tenant.Slug + "/dokumenter", Order: 28}}
		}
	}
	return nil
}

// Tasks registers the cleanup job.
func (m *Module) Tasks(mux *asynq.ServeMux) {
	mux.HandleFunc(TypeCleanup, func(ctx context.Context, _ *asynq.Task) error {
		_, err := m.CleanupAll(ctx)
		return err
	})
}

// Schedules runs the cleanup every hour.
func (m *Module) Schedules() []workers.Schedule {
	return []workers.Schedule{{Cron: "23 * * * *", Task: asynq.NewTask(TypeCleanup, nil), Opts: []asynq.Option{asynq.Queue(workers.QueueMaintenance), asynq.MaxRetry(3)}}}
}

// CleanupAll runs Cleanup in every tenant, each with its tenant in force.
func (m *Module) CleanupAll(ctx context.Context) (int, error) {
	var ids []uuid.UUID
	if err := m.db.NewRaw("SELECT id FROM tenants ORDER BY id").Scan(ctx, &ids); err != nil {
		return 0, err
	}
	total := 0
	for _, id := range ids {
		n, err := m.store.Cleanup(ctx, id)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func actor(v *modules.Viewer) tenants.Actor {
	return tenants.Actor{PersonID: v.PersonID, Name: v.Name()}
}

// ---- The dokumentarkiv -----------------------------------------------------------

type archivePage struct {
	Documents []Document
	MaxBytes  int64
	MaxLabel  string
	Message   string
	Notice    string
	Kinds     []struct{ Code, Label string }
}

func (m *Module) archive(c echo.Context) error { return m.renderArchive(c, http.StatusOK, nil) }

func (m *Module) renderArchive(c echo.Context, status int, problem error) error {
	v := modules.ViewerFrom(c.Request().Context())
	ctx := c.Request().Context()
	p := archivePage{Kinds: []struct{ Code, Label string }{{KindKursbevis, KindLabel(KindKursbevis)}, {KindOther, KindLabel(KindOther)}}}
	var err error
	if p.Documents, err = m.store.List(ctx, v.Tenant.ID, v.PersonID); err != nil {
		return err
	}
	if web.IsAPI(c) && problem == nil {
		if p.Documents == nil {
			p.Documents = []Document{}
		}
		return c.JSON(http.StatusOK, map[string]any{"documents": p.Documents})
	}
	if p.MaxBytes, err = m.store.MaxBytes(ctx, v.Tenant.ID); err != nil {
		return err
	}
	p.MaxLabel = SizeLabel(p.MaxBytes)
	if problem != nil {
		p.Message = apperr.MessageOf(problem)
	}
	switch c.QueryParam("ok") {
	case "lastet-opp":
		p.Notice = "Dokumentet er lagret."
	case "slettet":
		p.Notice = "Dokumentet er slettet."
	}
	return m.pages.Render(c, status, "archive", "Dokumenter", p)
}

// upload takes a file two ways, both streamed: the page's script (and API
// clients) send the file itself as the body, with its name in X-File-Name
// (URL-encoded) and its kind in ?type=; a plain form sends multipart/form-data,
// read part by part (never parsed into memory as a whole). An answer in JSON
// for those who ask for it, otherwise back to the archive.
func (m *Module) upload(c echo.Context) error {
	v := modules.ViewerFrom(c.Request().Context())
	req := c.Request()
	var d *Document
	var err error
	if mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type")); mt == "multipart/form-data" {
		d, err = m.uploadForm(c, v)
	} else {
		name, _ := url.PathUnescape(req.Header.Get("X-File-Name"))
		size := req.ContentLength
		if size < 0 {
			size = -1
		}
		d, err = m.store.Upload(req.Context(), v.Tenant.ID, actor(v), Upload{Kind: c.QueryParam("type"), Name: name, Body: req.Body, Size: size})
	}
	if err != nil {
		if web.IsAPI(c) || apperr.CodeOf(err) != apperr.Invalid && apperr.CodeOf(err) != apperr.Unavailable {
			return err
		}
		return m.renderArchive(c, apperr.Status(apperr.CodeOf(err)), err)
	}
	if web.IsAPI(c) {
		return c.JSON(http.StatusCreated, d)
	}
	return web.Redirect(c, "/t/"+v.Tenant.Slug+"/dokumenter?ok=lastet-opp")
}

func (m *Module) uploadForm(c echo.Context, v *modules.Viewer) (*Document, error) {
	mr, err := c.Request().MultipartReader()
	if err != nil {
		return nil, apperr.New(apperr.Invalid, msgBroken)
	}
	kind := ""
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return nil, apperr.New(apperr.Invalid, "Velg en fil å laste opp.")
		}
		if err != nil {
			return nil, apperr.New(apperr.Invalid, msgBroken)
		}
		switch part.FormName() {
		case "kind":
			b, _ := io.ReadAll(io.LimitReader(part, 64))
			kind = strings.TrimSpace(string(b))
		case "file":
			// The name as sent: Part.FileName would quietly drop folder parts.
			_, params, _ := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
			if params["filename"] == "" && part.FileName() == "" {
				return nil, apperr.New(apperr.Invalid, "Velg en fil å laste opp.")
			}
			return m.store.Upload(c.Request().Context(), v.Tenant.ID, actor(v), Upload{Kind: kind, Name: params["filename"], Body: part, Size: -1})
		}
		part.Close()
	}
}

func (m *Module) delete(c echo.Context) error {
	v := modules.ViewerFrom(c.Request().Context())
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return apperr.Default(apperr.NotFound)
	}
	err = m.store.Delete(c.Request().Context(), v.Tenant.ID, actor(v), id)
	if apperr.Is(err, apperr.Conflict) && !web.IsAPI(c) {
		return m.renderArchive(c, http.StatusConflict, err)
	}
	if err != nil {
		return err
	}
	if web.IsAPI(c) {
		return c.NoContent(http.StatusNoContent)
	}
	return web.Redirect(c, "/t/"+v.Tenant.Slug+"/dokumenter?ok=slettet")
}

// download sends the browser to a presigned URL valid for minutes, which
// MinIO serves as an attachment with the document's clean name.
func (m *Module) download(c echo.Context) error {
	v := modules.ViewerFrom(c.Request().Context())
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return apperr.Default(apperr.NotFound)
	}
	d, err := m.store.Open(c.Request().Context(), v.Tenant.ID, actor(v), id, "lastet ned")
	if err != nil {
		return err
	}
	u, err := m.objects.PresignDownload(c.Request().Context(), d.ObjectKey, d.Name, DownloadTTL)
	if err != nil {
		return apperr.Wrap(err, apperr.Unavailable, msgStore)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	if web.IsAPI(c) {
		return c.JSON(http.StatusOK, map[string]any{"url": u.String(), "expires_at": time.Now().Add(DownloadTTL).UTC(), "name": d.Name})
	}
	return c.Redirect(http.StatusSeeOther, u.String())
}

// view streams the document through kportal for the browser to show (an
// image in the page, a PDF in its viewer): same origin, so the page's
// content security policy holds, and sandboxed, so a PDF runs nothing.
func (m *Module) view(c echo.Context) error {
	v := modules.ViewerFrom(c.Request().Context())
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return apperr.Default(apperr.NotFound)
	}
	d, err := m.store.Open(c.Request().Context(), v.Tenant.ID, actor(v), id, "vist")
	if err != nil {
		return err
	}
	rc, _, err := m.objects.Get(c.Request().Context(), d.ObjectKey)
	if err != nil {
		return apperr.Wrap(err, apperr.Unavailable, msgStore)
	}
	defer rc.Close()
	h := c.Response().Header()
	h.Set("Content-Disposition", strings.Replace(storage.ContentDisposition(d.Name), "attachment", "inline", 1))
	// An image runs in a sandbox; Chromium's PDF viewer refuses to open in
	// one, so a PDF gets the policy without it (nothing else may load).
	csp := "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
	if d.ContentType != "application/pdf" {
		csp = "sandbox; " + csp
	}
	h.Set("Content-Security-Policy", csp)
	h.Set("Cache-Control", "private, no-store")
	h.Set("Content-Length", strconv.FormatInt(d.Size, 10))
	return c.Stream(http.StatusOK, d.ContentType, rc)
}

// ---- The tenant's limit -------------------------------------------------------------

type settingsPage struct {
	MaxMB  int64
	Errors map[string]string
	Notice string
}

func (m *Module) settings(c echo.Context) error {
	v := modules.ViewerFrom(c.Request().Context())
	n, err := m.store.MaxBytes(c.Request().Context(), v.Tenant.ID)
	if err != nil {
		return err
	}
	p := settingsPage{MaxMB: n >> 20}
	if c.QueryParam("ok") == "lagret" {
		p.Notice = "Lagret."
	}
	return m.pages.Render(c, http.StatusOK, "settings", "Dokumenter", p)
}

func (m *Module) saveSettings(c echo.Context) error {
	v := modules.ViewerFrom(c.Request().Context())
	mb, err := strconv.Atoi(strings.TrimSpace(c.FormValue("max_mb")))
	if err != nil {
		mb = 0
	}
	if err := m.store.SetMaxBytes(c.Request().Context(), v.Tenant.ID, actor(v), mb); err != nil {
		if apperr.Is(err, apperr.Invalid) {
			return m.pages.Render(c, http.StatusUnprocessableEntity, "settings", "Dokumenter", settingsPage{MaxMB: int64(mb), Errors: apperr.FieldsOf(err)})
		}
		return err
	}
	return web.Redirect(c, "/t/"+v.Tenant.Slug+"/admin/dokumenter?ok=lagret")
}
