package onboarding

import (
	"net/http"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"kportal/modules"
	"kportal/modules/apperr"
	"kportal/modules/web"
	"kportal/tenants"
)

// The kommune way (DOMAIN.md): a LIS invites their leder, veileder and
// supervisors by e-mail; accepting creates the role and the relation.

type lisPage struct {
	Invitations []tenants.Invitation
	Relations   []tenants.Relation
	Form        struct{ Email, Role string }
	Errors      map[string]string
	Message     string
	Invited     string
	MailFailed  bool
}

func (m *Module) lisRoutes(r *modules.Router) {
	send := modules.Need("invitation", "send")
	r.GET("/t/:tenant/invitasjoner", m.lisInvitations, send)
	r.POST("/t/:tenant/invitasjoner", m.lisInvite, send)
	r.POST("/t/:tenant/invitasjoner/:inv/send-igjen", m.lisResend, send)
	r.POST("/t/:tenant/invitasjoner/:inv/trekk-tilbake", m.lisRevoke, send)
}

func (m *Module) lisInvitations(c echo.Context) error {
	return m.renderLIS(c, http.StatusOK, "", "", nil)
}

func (m *Module) renderLIS(c echo.Context, status int, email, role string, problem error) error {
	v := viewer(c)
	ctx := c.Request().Context()
	invs, err := tenants.InvitationsFrom(ctx, m.db, v.Tenant.ID, v.PersonID)
	if err != nil {
		return err
	}
	rels, err := tenants.RelationsOf(ctx, m.db, v.PersonID)
	if err != nil {
		return err
	}
	p := lisPage{Invitations: invs, Errors: apperr.FieldsOf(problem), Invited: c.QueryParam("invitert"), MailFailed: c.QueryParam("epost") == "feilet"}
	for _, r := range rels {
		if r.TenantID == v.Tenant.ID && r.LisID == v.PersonID {
			p.Relations = append(p.Relations, r)
		}
	}
	p.Form.Email, p.Form.Role = email, role
	if problem != nil && p.Errors == nil {
		p.Message = apperr.MessageOf(problem)
	}
	return m.pages.Render(c, status, "lis_invitations", "Mine veiledere og ledere", p)
}

func (m *Module) lisInvite(c echo.Context) error {
	v := viewer(c)
	email, role := c.FormValue("email"), c.FormValue("role")
	if err := m.mailLimited(c); err != nil {
		return refuse(c, err, func(status int) error { return m.renderLIS(c, status, email, role, err) })
	}
	inv, token, err := tenants.InviteForLIS(c.Request().Context(), m.db, v.Tenant.ID, tenants.Actor{PersonID: v.PersonID, Name: v.Name()}, email, role)
	if apperr.Is(err, apperr.Invalid) || apperr.Is(err, apperr.Conflict) {
		return m.renderLIS(c, apperr.Status(apperr.CodeOf(err)), email, role, err)
	}
	if err != nil {
		return err
	}
	return web.Redirect(c, "/t/"+v.Tenant.Slug+"/invitasjoner?"+m.mailInvitation(c, v.Tenant, inv, token))
}

// ownInvitation loads one of the viewer's own invitations from the URL.
func (m *Module) ownInvitation(c echo.Context) (*tenants.Invitation, error) {
	v := viewer(c)
	id, err := uuid.Parse(c.Param("inv"))
	if err != nil {
		return nil, apperr.Default(apperr.NotFound)
	}
	return tenants.OwnInvitation(c.Request().Context(), m.db, v.Tenant.ID, v.PersonID, id)
}

func (m *Module) lisResend(c echo.Context) error {
	v := viewer(c)
	if err := m.mailLimited(c); err != nil {
		return refuse(c, err, func(status int) error { return m.renderLIS(c, status, "", "", err) })
	}
	old, err := m.ownInvitation(c)
	if err != nil {
		return err
	}
	inv, token, err := tenants.Reinvite(c.Request().Context(), m.db, tenants.Scope{TenantID: v.Tenant.ID, PersonID: v.PersonID}, old.ID, v.Name())
	if apperr.Is(err, apperr.Conflict) {
		return m.renderLIS(c, http.StatusConflict, "", "", err)
	}
	if err != nil {
		return err
	}
	return web.Redirect(c, "/t/"+v.Tenant.Slug+"/invitasjoner?"+m.mailInvitation(c, v.Tenant, inv, token))
}

func (m *Module) lisRevoke(c echo.Context) error {
	v := viewer(c)
	inv, err := m.ownInvitation(c)
	if err != nil {
		return err
	}
	err = tenants.RevokeInvitation(c.Request().Context(), m.db, tenants.Scope{TenantID: v.Tenant.ID, PersonID: v.PersonID}, inv.ID)
	if apperr.Is(err, apperr.NotFound) {
		return m.renderLIS(c, http.StatusConflict, "", "", apperr.New(apperr.Conflict, "Invitasjonen er ikke lenger åpen."))
	}
	if err != nil {
		return err
	}
	return web.Redirect(c, "/t/"+v.Tenant.Slug+"/invitasjoner")
}
