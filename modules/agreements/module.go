// Package agreements is the kommune's databehandleravtale (GDPR art. 28 data
// processing agreement): the versions of the text, shipped as files; the
// signatures, each keeping the exact text signed and its sha256; a PDF
// receipt per signature in object storage; and the pages where a kommune's
// (or private provider's) administrators read, sign and download receipts.
// Other modules ask InForce whether a tenant has an agreement.
package agreements

import (
	"context"
	"embed"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/uptrace/bun"

	"kportal/modules"
	"kportal/modules/apperr"
	"kportal/modules/web"
	"kportal/policies"
	"kportal/storage"
	"kportal/tenants"
)

//go:embed templates/*.html
var templatesFS embed.FS

// Casbin object and actions of the module's routes.
const (
	Object     = "agreement"
	ActionRead = "read"
	ActionSign = "sign"
)

// Module is the databehandleravtale module.
type Module struct {
	store *Store
	pages *web.Pages
}

// New returns the module. objects is kportal's object storage; opt may be
// zero (the embedded versions, DefaultOperator, the real clock). Invalid
// versions are a programming error and panic.
func New(db bun.IDB, objects ObjectStore, nav web.NavFunc, opt Options) *Module {
	s, err := NewStore(db, objects, opt)
	if err != nil {
		panic(err)
	}
	sub, _ := fs.Sub(templatesFS, "templates")
	return &Module{store: s, pages: web.MustPages(sub, nav)}
}

// Store is the module's store (signatures, versions).
func (m *Module) Store() *Store { return m.store }

func (m *Module) Info() modules.Info {
	return modules.Info{ID: "agreements", Title: "Databehandleravtale", Requires: []string{"web"}}
}

func (m *Module) Routes(r *modules.Router) {
	r.GET("/t/:tenant/databehandleravtale", m.page, modules.Need(Object, ActionRead))
	r.POST("/t/:tenant/databehandleravtale/signer", m.sign, modules.Need(Object, ActionSign))
	r.GET("/t/:tenant/databehandleravtale/kvittering/:id", m.receipt, modules.Need(Object, ActionRead))
}

func (m *Module) Policies() []policies.Rule {
	return []policies.Rule{
		{Role: "tenant_admin", Object: Object, Action: ActionRead},
		{Role: "tenant_admin", Object: Object, Action: ActionSign},
	}
}

// Nav shows the agreement to a kommune's or private provider's
// administrators, marked when the current version waits for their signature.
func (m *Module) Nav(v *modules.Viewer) []modules.NavItem {
	if v == nil || v.Tenant == nil || !Applies(v.Tenant.Kind) || !v.Holds("tenant_admin") {
		return nil
	}
	label := "Databehandleravtale"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if need, err := m.store.NeedsSignature(ctx, v.Tenant); err == nil && need {
		label = "Databehandleravtale – må signeres"
	}
	return []modules.NavItem{{Label: label, Href: pagePath(v.Tenant), Order: 50}}
}

func pagePath(t *tenants.Tenant) string { return "/t/" + t.Slug + "/databehandleravtale" }

// tenant is the URL's tenant, when the agreement applies to it: helseforetak
// and the national authority have none, so their pages do not exist.
func tenant(c echo.Context) (*modules.Viewer, *tenants.Tenant, error) {
	v := modules.ViewerFrom(c.Request().Context())
	if v == nil || v.Tenant == nil || !Applies(v.Tenant.Kind) {
		return nil, nil, apperr.Default(apperr.NotFound)
	}
	return v, v.Tenant, nil
}

// pageData is what the page shows.
type pageData struct {
	TenantName string
	State      State
	Current    *textView
	Signed     *signatureView // of the current version
	InForce    *signatureView
	History    []signatureView
	Notice     string
	Error      string
	SignerName string
	Action     string
	Title      string // the form's title field, kept after an error
	Confirmed  bool
}

type textView struct {
	Version   string
	Published string
	Checksum  string
	Blocks    []Block
	// ChecksumParts are the checksum in groups, so a phone can wrap it.
	ChecksumParts []string
}

type signatureView struct {
	ID, Version, Published, SignedAt, SignerName, SignerTitle, Checksum, ReceiptHref string
}

func (m *Module) view(c echo.Context, t *tenants.Tenant, v *modules.Viewer) (*pageData, error) {
	st, err := m.store.Status(c.Request().Context(), t)
	if err != nil {
		return nil, err
	}
	d := &pageData{TenantName: t.Name, State: st.State, SignerName: v.Name(), Action: pagePath(t) + "/signer"}
	if st.Current != nil {
		d.Current = &textView{Version: st.Current.Version.ID, Published: st.Current.Version.PublishedText(),
			Checksum: st.Current.Checksum, Blocks: Blocks(st.Current.Body)}
		for c := st.Current.Checksum; c != ""; c = c[min(16, len(c)):] {
			d.Current.ChecksumParts = append(d.Current.ChecksumParts, c[:min(16, len(c))])
		}
	}
	for _, s := range st.History {
		d.History = append(d.History, signatureView{
			ID: s.ID.String(), Version: s.Version, Published: norwegianDate(s.VersionPublished),
			SignedAt: norwegianTime(s.SignedAt), SignerName: s.SignerName, SignerTitle: s.SignerTitle,
			Checksum: s.Checksum, ReceiptHref: pagePath(t) + "/kvittering/" + s.ID.String(),
		})
	}
	for i, s := range st.History {
		if st.Signed != nil && s.ID == st.Signed.ID {
			d.Signed = &d.History[i]
		}
		if st.InForce != nil && s.ID == st.InForce.ID {
			d.InForce = &d.History[i]
		}
	}
	return d, nil
}

func (m *Module) page(c echo.Context) error {
	v, t, err := tenant(c)
	if err != nil {
		return err
	}
	d, err := m.view(c, t, v)
	if err != nil {
		return err
	}
	if c.QueryParam("signert") != "" && d.Signed != nil {
		d.Notice = "Takk! Databehandleravtalen er signert, og kvitteringen er lagret."
	}
	return m.pages.Render(c, http.StatusOK, "agreement", "Databehandleravtale", d)
}

func (m *Module) sign(c echo.Context) error {
	v, t, err := tenant(c)
	if err != nil {
		return err
	}
	req := SignRequest{
		Tenant:    t,
		PersonID:  v.PersonID,
		Name:      v.Name(),
		Title:     c.FormValue("title"),
		Version:   c.FormValue("version"),
		Checksum:  c.FormValue("checksum"),
		Confirmed: c.FormValue("confirm") == "yes",
	}
	if _, err := m.store.Sign(c.Request().Context(), req); err != nil {
		code := apperr.CodeOf(err)
		if code != apperr.Invalid && code != apperr.Conflict && code != apperr.Unavailable {
			return err
		}
		// Refused: the page again, with the message and what was typed.
		d, verr := m.view(c, t, v)
		if verr != nil {
			return verr
		}
		d.Error, d.Title, d.Confirmed = apperr.MessageOf(err), req.Title, req.Confirmed
		return m.pages.Render(c, apperr.Status(code), "agreement", "Databehandleravtale", d)
	}
	return web.Redirect(c, pagePath(t)+"?signert=1")
}

func (m *Module) receipt(c echo.Context) error {
	_, t, err := tenant(c)
	if err != nil {
		return err
	}
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return apperr.Default(apperr.NotFound)
	}
	sig, rc, info, err := m.store.Receipt(c.Request().Context(), t.ID, id)
	if err != nil {
		return err
	}
	defer rc.Close()
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "application/pdf")
	h.Set(echo.HeaderContentDisposition, storage.ContentDisposition("databehandleravtale-"+t.Slug+"-"+sig.Version+".pdf"))
	h.Set(echo.HeaderContentLength, strconv.FormatInt(info.Size, 10))
	h.Set("Cache-Control", "private, no-store")
	c.Response().WriteHeader(http.StatusOK)
	_, err = io.Copy(c.Response(), rc)
	return err
}
