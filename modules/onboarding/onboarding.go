// Package onboarding is how organisations come into kportal and how people
// answer invitations: an RHF admin onboards the helseforetak of their RHF and
// Helsedirektoratet the kommuner (each names the first administrator, who gets
// an invitation e-mail), either can suspend and reopen what they onboarded, and
// anyone with an invitation link accepts it here.
package onboarding

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/labstack/echo/v4"
	"github.com/uptrace/bun"

	"kportal/modules"
	"kportal/modules/apperr"
	"kportal/modules/ratelimit"
	"kportal/modules/web"
	"kportal/policies"
	"kportal/tenants"
	"kportal/workers"
)

//go:embed templates
var templatesFS embed.FS

// Enqueuer puts a job on the queue (an *asynq.Client).
type Enqueuer interface {
	EnqueueContext(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Addresses tells which e-mail addresses a person's identity has verified
// (an *identity.Kratos).
type Addresses interface {
	VerifiedEmails(ctx context.Context, identityID string) ([]string, error)
}

// Module is the onboarding module.
type Module struct {
	db        bun.IDB
	pages     *web.Pages
	queue     Enqueuer
	baseURL   string
	addresses Addresses
	limiter   *ratelimit.Limiter
}

// New returns the module; baseURL starts the links in invitation e-mails.
func New(db bun.IDB, nav web.NavFunc, queue Enqueuer, baseURL string, addresses Addresses) *Module {
	sub, _ := fs.Sub(templatesFS, "templates")
	return &Module{db: db, pages: web.MustPages(sub, nav), queue: queue, baseURL: strings.TrimRight(baseURL, "/"), addresses: addresses}
}

// LimitWith has the module count the invitation e-mails each person sends against l.
func (m *Module) LimitWith(l *ratelimit.Limiter) *Module {
	m.limiter = l
	return m
}

// mailLimited counts one e-mail the viewer has kportal send; checked before
// anything is saved, so a refusal leaves nothing half done.
func (m *Module) mailLimited(c echo.Context) error {
	return m.limiter.Check(c.Request().Context(), ratelimit.Key{Kind: ratelimit.Mail, Value: viewer(c).PersonID.String()})
}

// refuse shows a rate-limit refusal in the form's page (again) with 429 and
// Retry-After; an API or htmx client gets the error as such.
func refuse(c echo.Context, limitErr error, again func(status int) error) error {
	if web.IsAPI(c) || web.IsPartial(c) {
		return limitErr
	}
	web.SetRetryAfter(c, limitErr)
	return again(apperr.Status(apperr.CodeOf(limitErr)))
}

func (m *Module) Info() modules.Info {
	return modules.Info{ID: "onboarding", Title: "Virksomheter og invitasjoner", Requires: []string{"web"}}
}

func (m *Module) Policies() []policies.Rule {
	var out []policies.Rule
	for _, role := range []string{tenants.RoleRHFAdmin, tenants.RoleHdir, tenants.RolePlatformAdmin} {
		out = append(out, policies.Rule{Role: role, Object: "tenant", Action: "onboard"})
	}
	return append(out, policies.Rule{Role: "lis", Object: "invitation", Action: "send"})
}

func (m *Module) Routes(r *modules.Router) {
	onboard := modules.NeedPlatform("tenant", "onboard")
	r.GET("/virksomheter", m.list, onboard)
	r.POST("/virksomheter", m.create, onboard)
	r.GET("/virksomheter/:id", m.detail, onboard)
	r.POST("/virksomheter/:id/status", m.setStatus, onboard)
	r.POST("/virksomheter/:id/invitasjoner/:inv/send-igjen", m.resend, onboard)
	r.GET("/invitasjon/:token", m.openLink, modules.Public())
	r.GET("/invitasjon", m.invitation, modules.Public())
	r.POST("/invitasjon", m.accept, modules.SignedIn())
	m.lisRoutes(r)
}

func (m *Module) Nav(v *modules.Viewer) []modules.NavItem {
	var lis []modules.NavItem
	if v.Holds("lis") {
		lis = []modules.NavItem{{Label: "Veiledere og ledere", Href: "/t/" + v.Tenant.Slug + "/invitasjoner", Order: 40}}
	}
	return append(lis, m.platformNav(v)...)
}

func (m *Module) platformNav(v *modules.Viewer) []modules.NavItem {
	r := tenants.ReachOf(v.PlatformRoles)
	switch {
	case r.Empty():
		return nil
	case len(r.RHFs) > 0 && !r.Kommuner && !r.All:
		return []modules.NavItem{{Label: "Foretak", Href: "/virksomheter", Order: 50, Home: true}}
	case r.Kommuner && len(r.RHFs) == 0 && !r.All:
		return []modules.NavItem{{Label: "Kommuner", Href: "/virksomheter", Order: 50, Home: true}}
	}
	return []modules.NavItem{{Label: "Virksomheter", Href: "/virksomheter", Order: 50, Home: true}}
}

func viewer(c echo.Context) *modules.Viewer { return modules.ViewerFrom(c.Request().Context()) }

func reach(c echo.Context) tenants.Reach { return tenants.ReachOf(viewer(c).PlatformRoles) }

// title names what the person looks after: "Foretak i Helse Vest RHF", "Kommuner".
func (m *Module) title(ctx context.Context, r tenants.Reach) string {
	if len(r.RHFs) == 1 && !r.Kommuner && !r.All {
		var name string
		if err := m.db.NewSelect().Table("rhf").Column("name").Where("code = ?", r.RHFs[0]).Scan(ctx, &name); err == nil {
			return "Foretak i " + name
		}
	}
	if r.Kommuner && len(r.RHFs) == 0 && !r.All {
		return "Kommuner og private virksomheter"
	}
	return "Virksomheter"
}

type listPage struct {
	Heading   string
	Tenants   []tenants.Tenant
	Available []tenants.RegistryOrg
	ByHand    bool // the person may type in a foretak that is not in the reference data
	Form      tenants.Onboarding
	Errors    map[string]string
	Message   string
}

func (m *Module) list(c echo.Context) error {
	return m.renderList(c, http.StatusOK, tenants.Onboarding{}, nil)
}

func (m *Module) renderList(c echo.Context, status int, form tenants.Onboarding, err error) error {
	ctx := c.Request().Context()
	r := reach(c)
	ts, lerr := tenants.InReach(ctx, m.db, r)
	if lerr != nil {
		return lerr
	}
	avail, lerr := tenants.Available(ctx, m.db, r)
	if lerr != nil {
		return lerr
	}
	p := listPage{Heading: m.title(ctx, r), Tenants: ts, Available: avail, ByHand: len(r.RHFs) > 0 || r.All, Form: form, Errors: apperr.FieldsOf(err)}
	if err != nil {
		p.Message = apperr.MessageOf(err)
	}
	return m.pages.Render(c, status, "list", p.Heading, p)
}

func (m *Module) create(c echo.Context) error {
	v := viewer(c)
	form := tenants.Onboarding{
		RegistryID: c.FormValue("registry_id"),
		Name:       c.FormValue("name"),
		Orgnr:      c.FormValue("orgnr"),
		Slug:       c.FormValue("slug"),
		AdminEmail: c.FormValue("admin_email"),
	}
	if err := m.mailLimited(c); err != nil {
		return refuse(c, err, func(status int) error { return m.renderList(c, status, form, err) })
	}
	t, inv, token, err := tenants.Onboard(c.Request().Context(), m.db, reach(c), tenants.Actor{PersonID: v.PersonID, Name: v.Name()}, form)
	if apperr.Is(err, apperr.Invalid) || apperr.Is(err, apperr.Conflict) {
		return m.renderList(c, apperr.Status(apperr.CodeOf(err)), form, err)
	}
	if err != nil {
		return err
	}
	return web.Redirect(c, fmt.Sprintf("/virksomheter/%s?%s", t.ID, m.mailInvitation(c, t, inv, token)))
}

// mailInvitation queues the invitation e-mail and says, as a query string for
// the next page, whether it went. The invitation is saved either way; a failed
// queue only means the admin must press "Send på nytt".
func (m *Module) mailInvitation(c echo.Context, t *tenants.Tenant, inv *tenants.Invitation, token string) string {
	link := m.baseURL + "/invitasjon/" + token
	until := inv.ExpiresAt.In(web.Oslo).Format("2.1.2006")
	// "Eva Solberg har invitert deg til å være administrator for Helse Førde HF",
	// "Kari Nordmann (lege i spesialisering ved Helse Bergen HF) har invitert deg
	// til å være veilederen sin".
	who, what := inv.InvitedByName, strings.ToLower(web.RoleName(inv.Role))+" for "+t.Name
	if inv.LisID != nil {
		who, what = inv.InvitedByName+" (lege i spesialisering ved "+t.Name+")", strings.ToLower(web.RoleName(inv.Role))+"en sin"
	}
	text := fmt.Sprintf("Hei,\n\n%s har invitert deg til å være %s i kportal, der legene i spesialisering dokumenterer utdanningen sin.\n\nÅpne lenken for å godta invitasjonen. Har du ikke bruker i kportal, oppretter du en underveis:\n%s\n\nLenken virker til og med %s. Var invitasjonen ikke ment for deg, kan du se bort fra den.\n\nHilsen kportal",
		who, what, link, until)
	html := fmt.Sprintf(`<p>Hei,</p><p>%s har invitert deg til å være <strong>%s</strong> i kportal, der legene i spesialisering dokumenterer utdanningen sin.</p><p><a href="%s">Godta invitasjonen</a></p><p>Har du ikke bruker i kportal, oppretter du en underveis. Lenken virker til og med %s. Var invitasjonen ikke ment for deg, kan du se bort fra den.</p><p>Hilsen kportal</p>`,
		template.HTMLEscapeString(who), template.HTMLEscapeString(what), template.HTMLEscapeString(link), until)
	task, err := workers.NewSendMailTask(workers.Mail{To: inv.Email, Subject: "Invitasjon til kportal: " + t.Name, Text: text, HTML: html}, workers.QueueCritical)
	if err == nil {
		_, err = m.queue.EnqueueContext(c.Request().Context(), task)
	}
	if err != nil {
		return "epost=feilet"
	}
	return "invitert=" + url.QueryEscape(inv.Email)
}

type detailPage struct {
	Tenant      *tenants.Tenant
	Invitations []tenants.Invitation
	Invited     string
	MailFailed  bool
	Errors      map[string]string
	Message     string
}

// tenantInReach loads the tenant named in the URL, or answers 404 when it is
// not within the person's reach (another RHF's foretak, say).
func (m *Module) tenantInReach(c echo.Context) (*tenants.Tenant, error) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return nil, apperr.Default(apperr.NotFound)
	}
	return tenants.InReachByID(c.Request().Context(), m.db, reach(c), id)
}

func (m *Module) detail(c echo.Context) error {
	t, err := m.tenantInReach(c)
	if err != nil {
		return err
	}
	return m.renderDetail(c, http.StatusOK, t, nil)
}

func (m *Module) renderDetail(c echo.Context, status int, t *tenants.Tenant, err error) error {
	invs, lerr := tenants.Invitations(c.Request().Context(), m.db, t.ID)
	if lerr != nil {
		return lerr
	}
	p := detailPage{Tenant: t, Invitations: invs, Invited: c.QueryParam("invitert"), MailFailed: c.QueryParam("epost") == "feilet", Errors: apperr.FieldsOf(err)}
	if err != nil {
		p.Message = apperr.MessageOf(err)
	}
	return m.pages.Render(c, status, "detail", t.Name, p)
}

func (m *Module) setStatus(c echo.Context) error {
	t, err := m.tenantInReach(c)
	if err != nil {
		return err
	}
	suspend := c.FormValue("action") == "suspend"
	nt, err := tenants.SetSuspended(c.Request().Context(), m.db, tenants.Actor{PersonID: viewer(c).PersonID, Name: viewer(c).Name()}, t.ID, suspend, c.FormValue("reason"))
	if apperr.Is(err, apperr.Invalid) || apperr.Is(err, apperr.Conflict) {
		return m.renderDetail(c, apperr.Status(apperr.CodeOf(err)), t, err)
	}
	if err != nil {
		return err
	}
	return web.Redirect(c, "/virksomheter/"+nt.ID.String())
}

func (m *Module) resend(c echo.Context) error {
	t, err := m.tenantInReach(c)
	if err != nil {
		return err
	}
	invID, err := uuid.Parse(c.Param("inv"))
	if err != nil {
		return apperr.Default(apperr.NotFound)
	}
	if err := m.mailLimited(c); err != nil {
		return refuse(c, err, func(status int) error { return m.renderDetail(c, status, t, err) })
	}
	v := viewer(c)
	inv, token, err := tenants.Reinvite(c.Request().Context(), m.db, tenants.Scope{TenantID: t.ID, PersonID: v.PersonID}, invID, v.Name())
	if apperr.Is(err, apperr.Conflict) {
		return m.renderDetail(c, http.StatusConflict, t, err)
	}
	if err != nil {
		return err
	}
	return web.Redirect(c, fmt.Sprintf("/virksomheter/%s?%s", t.ID, m.mailInvitation(c, t, inv, token)))
}

// The link's token is a secret: it is taken out of the address at once and
// kept in a cookie only the invitation pages receive, so it is not in the
// request log, in browser history after the first visit, or in the return_to
// of the login and registration pages.
const (
	invitationCookie    = "kportal_invitasjon"
	invitationPath      = "/invitasjon"
	invitationCookieAge = 2 * time.Hour // long enough to register and verify the address
)

type invitationPage struct {
	Invitation *tenants.Invitation
	Tenant     *tenants.Tenant
	State      string
	Address    string // the invited address, masked
	Answer     string // for a signed-in person: "accept", "verify" (their address, unverified) or "other"
	ReturnTo   string
	Message    string
}

// openLink is where the e-mail's link lands: it keeps the token in the
// cookie and shows the invitation at a plain address.
func (m *Module) openLink(c echo.Context) error {
	token := c.Param("token")
	if _, _, err := tenants.InvitationByToken(c.Request().Context(), m.db, token); err != nil {
		if apperr.Is(err, apperr.NotFound) {
			return m.pages.Render(c, http.StatusNotFound, "invitation", "Invitasjonen finnes ikke", invitationPage{State: "unknown"})
		}
		return err
	}
	m.setToken(c, token, invitationCookieAge)
	return c.Redirect(http.StatusSeeOther, invitationPath)
}

func (m *Module) setToken(c echo.Context, token string, age time.Duration) {
	ck := &http.Cookie{Name: invitationCookie, Value: token, Path: invitationPath, MaxAge: int(age.Seconds()),
		HttpOnly: true, Secure: c.Scheme() == "https", SameSite: http.SameSiteLaxMode}
	if age <= 0 {
		ck.MaxAge = -1
	}
	c.SetCookie(ck)
}

func tokenOf(c echo.Context) string {
	if ck, err := c.Cookie(invitationCookie); err == nil {
		return ck.Value
	}
	return ""
}

func (m *Module) invitation(c echo.Context) error {
	return m.renderInvitation(c, http.StatusOK, nil)
}

func (m *Module) renderInvitation(c echo.Context, status int, problem error) error {
	ctx := c.Request().Context()
	token := tokenOf(c)
	if token == "" {
		return m.pages.Render(c, http.StatusNotFound, "invitation", "Åpne invitasjonen", invitationPage{State: "missing"})
	}
	inv, t, err := tenants.InvitationByToken(ctx, m.db, token)
	if apperr.Is(err, apperr.NotFound) {
		return m.pages.Render(c, http.StatusNotFound, "invitation", "Invitasjonen finnes ikke", invitationPage{State: "unknown"})
	}
	if err != nil {
		return err
	}
	p := invitationPage{Invitation: inv, Tenant: t, State: inv.State(time.Now()), Address: tenants.MaskEmail(inv.Email), ReturnTo: invitationPath}
	if problem != nil && !apperr.Is(problem, apperr.Forbidden) { // a refusal is explained by Answer
		p.Message = apperr.MessageOf(problem)
	}
	if p.State == tenants.InvitationPending && t.Status == tenants.StatusSuspended {
		p.State = "suspended"
	}
	if v := viewer(c); v != nil && p.State == tenants.InvitationPending {
		verified, err := m.addresses.VerifiedEmails(ctx, v.IdentityID)
		if err != nil {
			return err
		}
		switch {
		case inv.MayAccept(verified):
			p.Answer = "accept"
		case strings.EqualFold(strings.TrimSpace(v.Email), inv.Email):
			p.Answer = "verify"
		default:
			p.Answer = "other"
		}
	}
	return m.pages.Render(c, status, "invitation", "Invitasjon til "+t.Name, p)
}

// accept gives the invited role to the signed-in person, when the address the
// invitation went to is theirs and verified; anyone else holding the link is
// told which address it is for, and nothing changes.
func (m *Module) accept(c echo.Context) error {
	v := viewer(c)
	ctx := c.Request().Context()
	token := tokenOf(c)
	if token == "" {
		return m.renderInvitation(c, http.StatusNotFound, nil)
	}
	verified, err := m.addresses.VerifiedEmails(ctx, v.IdentityID)
	if err != nil {
		return err
	}
	_, t, err := tenants.AcceptInvitation(ctx, m.db, token, tenants.Invitee{PersonID: v.PersonID, Verified: verified})
	if apperr.Is(err, apperr.Conflict) || apperr.Is(err, apperr.NotFound) || apperr.Is(err, apperr.Forbidden) {
		return m.renderInvitation(c, apperr.Status(apperr.CodeOf(err)), err)
	}
	if err != nil {
		return err
	}
	m.setToken(c, "", 0)
	return web.Redirect(c, "/t/"+t.Slug+"/")
}
