// Package registrations is the registration of a kommune or a private
// virksomhet as utdanningsvirksomhet, and Helsedirektoratet's review of it.
//
// The virksomhet's tenant_admin fills in specialties (ALM, SAM, ARB, LIS1
// kommunedel), læringsarenaer with the goals reachable at each, how
// veiledning and supervisjon are organised, agreements with other virksomheter
// and a contact person; saves drafts; and sends it once the tenant has signed
// the databehandleravtale. Helsedirektoratet (platform role hdir) sees the
// sent registrations of every tenant, asks for changes, approves or rejects.
//
// Row-level security: the tenant's own rows under the tenant policy; the hdir
// pages read across tenants through withReviewTx (app.national_review), which
// the national_review policies limit to registrations that are not drafts and
// to reading. Decisions are written with the registration's tenant in force.
package registrations

import (
	"context"
	"embed"
	"io/fs"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules"
	"kportal/modules/web"
	"kportal/modules/workflow"
	"kportal/policies"
	"kportal/tenants"
)

//go:embed templates
var templatesFS embed.FS

// AgreementSigned reports whether a tenant has a databehandleravtale in force.
// cmd/kportal wires it to the agreements module, so this module does not
// depend on it.
type AgreementSigned func(ctx context.Context, tenantID uuid.UUID) (bool, error)

// Module is the registrations module.
type Module struct {
	store  *Store
	pages  *web.Pages
	signed AgreementSigned
	db     bun.IDB
}

// New returns the module. db is the application's database (bound by RLS);
// signed tells whether a tenant has signed the databehandleravtale.
func New(db bun.IDB, nav web.NavFunc, signed AgreementSigned) *Module {
	sub, _ := fs.Sub(templatesFS, "templates")
	return &Module{store: NewStore(db), pages: web.MustPages(sub, nav), signed: signed, db: db}
}

// Store is the module's store (its Events hook lets other modules follow
// decisions).
func (m *Module) Store() *Store { return m.store }

func (m *Module) Info() modules.Info {
	return modules.Info{ID: "registrations", Title: "Registrering som utdanningsvirksomhet", Requires: []string{"web"}}
}

func (m *Module) Routes(r *modules.Router) {
	r.GET("/t/:tenant/utdanningsvirksomhet", m.page, modules.Need(Object, ActionRead))
	r.POST("/t/:tenant/utdanningsvirksomhet", m.save, modules.Need(Object, ActionEdit))
	r.POST("/t/:tenant/utdanningsvirksomhet/send", m.submit, modules.Need(Object, ActionEdit))
	// The tenant of a registration is named :org, not :tenant: the route guard
	// treats :tenant as the viewer's own tenant and wants a membership there.
	r.GET("/hdir/registreringer", m.queue, modules.NeedPlatform(Object, ActionReview))
	r.GET("/hdir/registreringer/:org/:id", m.review, modules.NeedPlatform(Object, ActionReview))
	r.POST("/hdir/registreringer/:org/:id/beslutning", m.decide, modules.NeedPlatform(Object, ActionReview))
}

func (m *Module) Policies() []policies.Rule {
	return []policies.Rule{
		{Role: "tenant_admin", Object: Object, Action: ActionRead},
		{Role: "tenant_admin", Object: Object, Action: ActionEdit},
		{Role: tenants.RoleHdir, Object: Object, Action: ActionReview},
	}
}

func (m *Module) Workflows() []*workflow.Def { return []*workflow.Def{m.store.def} }

func (m *Module) Nav(v *modules.Viewer) []modules.NavItem {
	var out []modules.NavItem
	if v == nil {
		return nil
	}
	if v.Tenant != nil && eligible(v.Tenant.Kind) && v.Holds("tenant_admin") {
		out = append(out, modules.NavItem{Label: "Utdanningsvirksomhet", Href: "/t/" + v.Tenant.Slug + "/utdanningsvirksomhet", Order: 50})
	}
	if v.HasPlatformRole(tenants.RoleHdir) {
		out = append(out, modules.NavItem{Label: "Registreringer", Href: "/hdir/registreringer", Order: 60, Home: true})
	}
	return out
}

// eligible: kommuner and private virksomheter register; helseforetak and the
// national authority do not.
func eligible(k tenants.Kind) bool { return k == tenants.KindKommune || k == tenants.KindPrivate }

func kindLabel(k tenants.Kind) string {
	switch k {
	case tenants.KindKommune:
		return "Kommune"
	case tenants.KindPrivate:
		return "Privat virksomhet"
	case tenants.KindHF:
		return "Helseforetak"
	case tenants.KindNational:
		return "Nasjonal myndighet"
	}
	return string(k)
}
