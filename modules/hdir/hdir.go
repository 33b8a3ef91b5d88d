// Package hdir is Helsedirektoratet's read access to a LIS's national record,
// tied to a case: the reader gives the case number (saksnummer) of the
// application they handle, finds the doctor by HPR number, name or e-mail, and
// reads every plan, approved goal (with catalogue version, who approved it,
// where, when and the frozen basis), procedure counts against the national
// requirements and courses with kursbevis. Nothing is writable.
//
// The record is the LIS's own national history (history.Load through
// tenants.RecordTx and the own_record policies); there is no second reader.
// Each read is first written to the access log (modules/accesslog) with the
// case number, which the LIS sees on Min utdanning.
package hdir

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"io/fs"
	"regexp"
	"strings"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules"
	"kportal/modules/apperr"
	"kportal/modules/web"
	"kportal/policies"
	"kportal/tenants"
)

//go:embed templates
var templatesFS embed.FS

// The Casbin object and action of the record pages.
const (
	Object     = "records"
	ActionRead = "read"
)

// Organisation is what the access log shows as the reader's organisation.
const Organisation = "Helsedirektoratet"

// Module is the hdir module.
type Module struct {
	db    bun.IDB
	pages *web.Pages
}

// New returns the module.
func New(db bun.IDB, nav web.NavFunc) *Module {
	sub, _ := fs.Sub(templatesFS, "templates")
	return &Module{db: db, pages: web.MustPages(sub, nav)}
}

func (m *Module) Info() modules.Info {
	return modules.Info{ID: "hdir", Title: "Helsedirektoratets oppslag", Requires: []string{"web", "history"}}
}

func (m *Module) Routes(r *modules.Router) {
	// Hidden: whoever lacks the role gets 404, as for another tenant's page.
	r.GET("/hdir/lis", m.search, modules.NeedPlatform(Object, ActionRead).Hide())
	r.GET("/hdir/lis/:person", m.record, modules.NeedPlatform(Object, ActionRead).Hide())
}

func (m *Module) Policies() []policies.Rule {
	return []policies.Rule{{Role: tenants.RoleHdir, Object: Object, Action: ActionRead}}
}

func (m *Module) Nav(v *modules.Viewer) []modules.NavItem {
	if v == nil || !v.HasPlatformRole(tenants.RoleHdir) {
		return nil
	}
	return []modules.NavItem{{Label: "Oppslag på LIS", Href: "/hdir/lis", Order: 55, Home: true}}
}

// Doctor is a person found by the search, or whose record is read.
type Doctor struct {
	ID        uuid.UUID `bun:"id"`
	Name      string    `bun:"name"`
	Email     string    `bun:"email"`
	HPR       string    `bun:"hpr"`
	HPRSource string    `bun:"hpr_source"` // typed, helseid, "" when no number
	// Workplaces are the tenants where the person holds lis now.
	Workplaces []string `bun:"workplaces,array"`
}

// HPRSourceText says where the HPR number came from, in Norwegian.
func (d *Doctor) HPRSourceText() string {
	switch d.HPRSource {
	case "helseid":
		return "fra HelseID"
	case "typed":
		return "skrevet inn av en administrator i en virksomhet"
	}
	return ""
}

// SearchLimit is how many doctors a search lists.
const SearchLimit = 20

var digits = regexp.MustCompile(`^[0-9]+$`)

const doctorColumns = `SELECT p.id, trim(p.given_name || ' ' || p.family_name) AS name, p.email,
		coalesce(p.hpr_number, '') AS hpr, coalesce(p.hpr_source, '') AS hpr_source,
		coalesce(w.names, '{}') AS workplaces
	FROM people p
	LEFT JOIN LATERAL (SELECT array_agg(t.name ORDER BY t.name) FILTER (WHERE 'lis' = ANY (m.roles)) AS names
		FROM kportal_memberships_of(p.id) m JOIN tenants t ON t.id = m.tenant_id) w ON true `

// Search finds doctors by HPR number (all digits), e-mail (with '@') or
// name (part of it), across every tenant: people are national. Only people
// who hold lis somewhere or have an HPR number are doctors here. reader is the
// person searching (in force, for the memberships' row policy).
func Search(ctx context.Context, db bun.IDB, reader uuid.UUID, q string) ([]Doctor, error) {
	q = strings.TrimSpace(q)
	var where string
	var arg any
	switch {
	case q == "":
		return nil, apperr.InvalidFields(map[string]string{"q": "Skriv HPR-nummer, navn eller e-postadresse."})
	case digits.MatchString(q):
		where, arg = "p.hpr_number = ?", q
	case strings.Contains(q, "@"):
		where, arg = "lower(p.email) = lower(?)", q
	case len([]rune(q)) < 2:
		return nil, apperr.InvalidFields(map[string]string{"q": "Skriv minst to bokstaver av navnet."})
	default:
		like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(q) + "%"
		where, arg = "trim(p.given_name || ' ' || p.family_name) ILIKE ?", like
	}
	var out []Doctor
	err := tenants.WithTenantTx(ctx, db, tenants.Scope{PersonID: reader}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw(`SELECT * FROM (`+doctorColumns+`WHERE `+where+`) d
			WHERE d.hpr <> '' OR cardinality(d.workplaces) > 0
			ORDER BY d.name, d.email LIMIT ?`, arg, SearchLimit+1).Scan(ctx, &out)
	})
	return out, err
}

// Find reads one doctor by id; unknown is not found.
func Find(ctx context.Context, db bun.IDB, reader, id uuid.UUID) (*Doctor, error) {
	d := new(Doctor)
	err := tenants.WithTenantTx(ctx, db, tenants.Scope{PersonID: reader}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw(doctorColumns+`WHERE p.id = ?`, id).Scan(ctx, d)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "Fant ikke legen.")
	}
	return d, err
}
