// Package transfers is the change of workplace (arbeidsstedsbytte): the new
// workplace registers that a LIS starts on a date; on that date a sync job
// ends the old plan, assigns the new one, carries the approved goals, records
// the earlier workplaces (whose record the earlier_record policies then make
// readable here, as "Tidligere arbeidssted") and, within an RHF, carries the
// veileder. Work still waiting at the old workplace stays decidable there for
// the old tenant's period, then returns to the LIS.
package transfers

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/labstack/echo/v4"
	"github.com/uptrace/bun"

	"kportal/modules"
	"kportal/modules/apperr"
	"kportal/modules/web"
	"kportal/policies"
	"kportal/tenants"
	"kportal/workers"
)

//go:embed templates
var templatesFS embed.FS

// Module is the transfers module.
type Module struct {
	db    bun.IDB
	store *Store
	queue Enqueuer
	log   *slog.Logger
	pages *web.Pages
}

// New returns the module; queue takes the sync jobs.
func New(db bun.IDB, nav web.NavFunc, queue Enqueuer, log *slog.Logger) *Module {
	sub, _ := fs.Sub(templatesFS, "templates")
	return &Module{db: db, store: NewStore(db), queue: queue, log: log, pages: web.MustPages(sub, nav)}
}

// Store is the module's store.
func (m *Module) Store() *Store { return m.store }

func (m *Module) Info() modules.Info {
	return modules.Info{ID: "transfers", Title: "Arbeidsstedsbytte", Requires: []string{"web", "plans"}}
}

func (m *Module) Policies() []policies.Rule {
	return []policies.Rule{
		{Role: "leder", Object: "transfers", Action: "read"},
		{Role: "leder", Object: "transfers", Action: "register"},
		{Role: "tenant_admin", Object: "transfers", Action: "read"},
		{Role: "tenant_admin", Object: "transfers", Action: "register"},
		{Role: "tenant_admin", Object: "transfers", Action: "configure"},
		{Role: "lis", Object: "transfers", Action: "announce"},
	}
}

func (m *Module) Routes(r *modules.Router) {
	read, register := modules.Need("transfers", "read"), modules.Need("transfers", "register")
	r.GET("/t/:tenant/arbeidsstedsbytte", m.list, read)
	r.POST("/t/:tenant/arbeidsstedsbytte", m.register, register)
	r.GET("/t/:tenant/arbeidsstedsbytte/:id", m.show, read)
	r.POST("/t/:tenant/arbeidsstedsbytte/:id/avlys", m.cancel, register)
	r.POST("/t/:tenant/arbeidsstedsbytte/:id/bekreft", m.confirm, register)
	announce := modules.Need("transfers", "announce")
	r.GET("/t/:tenant/mitt-arbeidsstedsbytte", m.mine, announce)
	r.POST("/t/:tenant/mitt-arbeidsstedsbytte", m.announce, announce)
	r.POST("/t/:tenant/arbeidsstedsbytte/:id/prov-igjen", m.retry, register)
	r.POST("/t/:tenant/admin/arbeidsstedsbytte", m.saveSettings, modules.Need("transfers", "configure"))
	m.batchRoutes(r, read, register)
}

func (m *Module) Nav(v *modules.Viewer) []modules.NavItem {
	if v == nil || v.Tenant == nil {
		return nil
	}
	return []modules.NavItem{
		{Label: "Arbeidsstedsbytte", Href: "/t/" + v.Tenant.Slug + "/arbeidsstedsbytte", Order: 47, Object: "transfers", Action: "read"},
		{Label: "Bytte arbeidssted", Href: "/t/" + v.Tenant.Slug + "/mitt-arbeidsstedsbytte", Order: 49, Object: "transfers", Action: "announce"},
	}
}

func (m *Module) Tasks(mux *asynq.ServeMux) {
	mux.Handle(TypeSync, workers.InTenant(m.db, func(ctx context.Context, tx bun.Tx, p SyncPayload) error {
		// The job's own transaction: the move switches tenants inside it.
		_, err := m.store.syncTx(ctx, tx, p.TenantID, p.TransferID)
		if err == nil {
			return nil
		}
		// The last try: mark the move failed, so it shows (and can be
		// retried) instead of waiting for ever; nothing of it was committed.
		n, _ := asynq.GetRetryCount(ctx)
		if most, ok := asynq.GetMaxRetry(ctx); ok && n >= most {
			if ferr := m.store.Fail(context.WithoutCancel(ctx), p.TenantID, p.TransferID, "Det oppstod en teknisk feil, og byttet ble ikke gjennomført. Prøv igjen."); ferr != nil {
				m.log.Error("marking a move failed", "transfer", p.TransferID, "error", ferr)
			}
		}
		return err
	}))
	mux.HandleFunc(TypeDue, func(ctx context.Context, _ *asynq.Task) error {
		if _, err := m.store.Due(ctx, m.queue); err != nil {
			return err
		}
		_, err := m.store.CarryLate(ctx)
		return err
	})
	mux.HandleFunc(TypeReturnInFlight, func(ctx context.Context, _ *asynq.Task) error {
		_, err := m.store.ReturnInFlight(ctx)
		return err
	})
}

func (m *Module) Schedules() []workers.Schedule {
	opts := []asynq.Option{asynq.Queue(workers.QueueDefault), asynq.MaxRetry(3)}
	return []workers.Schedule{
		{Cron: "*/10 * * * *", Task: asynq.NewTask(TypeDue, nil), Opts: opts},
		{Cron: "15 2 * * *", Task: asynq.NewTask(TypeReturnInFlight, nil), Opts: opts},
	}
}

func viewer(c echo.Context) *modules.Viewer { return modules.ViewerFrom(c.Request().Context()) }

func actor(v *modules.Viewer) tenants.Actor {
	return tenants.Actor{PersonID: v.PersonID, Name: v.Name()}
}

func base(v *modules.Viewer) string { return "/t/" + v.Tenant.Slug + "/arbeidsstedsbytte" }

// Option is a choice in a form.
type Option struct {
	ID   string `bun:"id"`
	Name string `bun:"name"`
}

type listPage struct {
	*Lists
	Templates []Option
	Leders    []Option
	Form      Arrival
	Errors    map[string]string
	Message   string
	Days      int
	Admin     bool
	Today     time.Time
	Saved     bool
	Batches   []Batch // files of arrivals, newest first
}

func (m *Module) list(c echo.Context) error { return m.renderList(c, http.StatusOK, nil) }

func (m *Module) options(ctx context.Context, tenantID uuid.UUID) (templates, leders []Option, err error) {
	err = tenants.WithTenantTx(ctx, m.db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		if err := tx.NewRaw("SELECT id::text, name FROM plan_templates WHERE tenant_id = ? AND archived_at IS NULL ORDER BY name", tenantID).Scan(ctx, &templates); err != nil {
			return err
		}
		return tx.NewRaw(`SELECT p.id::text, trim(p.given_name || ' ' || p.family_name) AS name FROM memberships m JOIN people p ON p.id = m.person_id
			WHERE m.tenant_id = ? AND m.role = 'leder' ORDER BY name`, tenantID).Scan(ctx, &leders)
	})
	return templates, leders, err
}

func (m *Module) renderList(c echo.Context, status int, problem error) error {
	v := viewer(c)
	ctx := c.Request().Context()
	p := listPage{Errors: apperr.FieldsOf(problem), Admin: v.Holds("tenant_admin"), Today: m.store.today(), Saved: c.QueryParam("lagret") == "1"}
	var err error
	if p.Lists, err = m.store.List(ctx, v.Tenant.ID); err != nil {
		return err
	}
	if p.Templates, p.Leders, err = m.options(ctx, v.Tenant.ID); err != nil {
		return err
	}
	if p.Days, err = m.store.InFlightDays(ctx, v.Tenant.ID); err != nil {
		return err
	}
	if p.Batches, err = m.store.Batches(ctx, v.Tenant.ID); err != nil {
		return err
	}
	if problem != nil {
		p.Form = arrivalForm(c)
		if p.Errors == nil {
			p.Message = apperr.MessageOf(problem)
		}
	} else if v.Holds("leder") {
		p.Form.LederID = v.PersonID.String()
	}
	return m.pages.Render(c, status, "list", "Arbeidsstedsbytte", &p)
}

func arrivalForm(c echo.Context) Arrival {
	return Arrival{Who: c.FormValue("who"), StartsOn: c.FormValue("starts_on"), TemplateID: c.FormValue("template"),
		LederID: c.FormValue("leder"), From: c.FormValue("from")}
}

func (m *Module) register(c echo.Context) error {
	v := viewer(c)
	ctx := c.Request().Context()
	t, err := m.store.Register(ctx, v.Tenant.ID, actor(v), arrivalForm(c), nil)
	if err != nil {
		return web.Answer(c, err, m.renderList, "")
	}
	m.enqueue(ctx, t)
	return web.Redirect(c, base(v)+"/"+t.ID.String())
}

// enqueue queues the move's sync; with Redis away the TypeDue sweep queues it
// later, so the registration stands.
func (m *Module) enqueue(ctx context.Context, t *Transfer) {
	if err := Enqueue(ctx, m.queue, t); err != nil {
		m.log.Warn("transfer sync not queued; the due sweep will queue it", "transfer", t.ID, "error", err)
	}
}

type showPage struct {
	T         *Transfer
	Today     time.Time
	Message   string
	Errors    map[string]string
	Here      bool // registered here (not a move away from here)
	Templates []Option
	Leders    []Option
	Form      Confirmation
}

func (m *Module) show(c echo.Context) error { return m.renderShow(c, http.StatusOK, nil) }

func (m *Module) renderShow(c echo.Context, status int, problem error) error {
	v := viewer(c)
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return apperr.New(apperr.NotFound, "Fant ikke arbeidsstedsbyttet.")
	}
	t, err := m.store.Seen(c.Request().Context(), v.Tenant.ID, id)
	if err != nil {
		return err
	}
	p := showPage{T: t, Today: m.store.today(), Here: t.TenantID == v.Tenant.ID, Errors: apperr.FieldsOf(problem)}
	if problem != nil && p.Errors == nil {
		p.Message = apperr.MessageOf(problem)
	}
	if p.Here && t.Status == StatusAnnounced {
		if p.Templates, p.Leders, err = m.options(c.Request().Context(), v.Tenant.ID); err != nil {
			return err
		}
		p.Form = Confirmation{TemplateID: c.FormValue("template"), LederID: c.FormValue("leder")}
		if problem == nil && v.Holds("leder") {
			p.Form.LederID = v.PersonID.String()
		}
	}
	return m.pages.Render(c, status, "show", "Arbeidsstedsbytte: "+t.LisName, &p)
}

func (m *Module) cancel(c echo.Context) error {
	v := viewer(c)
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return apperr.New(apperr.NotFound, "Fant ikke arbeidsstedsbyttet.")
	}
	err = m.store.Cancel(c.Request().Context(), v.Tenant.ID, actor(v), id)
	return web.Answer(c, err, m.renderShow, base(v)+"/"+id.String())
}

func (m *Module) confirm(c echo.Context) error {
	v := viewer(c)
	ctx := c.Request().Context()
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return apperr.New(apperr.NotFound, "Fant ikke arbeidsstedsbyttet.")
	}
	t, err := m.store.Confirm(ctx, v.Tenant.ID, actor(v), id, Confirmation{TemplateID: c.FormValue("template"), LederID: c.FormValue("leder")})
	if err == nil {
		m.enqueue(ctx, t)
	}
	return web.Answer(c, err, m.renderShow, base(v)+"/"+id.String())
}

// ---- The LIS's own page ------------------------------------------------------

type minePage struct {
	Moves      []Transfer
	Workplaces []Destination
	Form       Announcement
	Errors     map[string]string
	Message    string
	Sent       bool
}

func (m *Module) mine(c echo.Context) error { return m.renderMine(c, http.StatusOK, nil) }

func (m *Module) renderMine(c echo.Context, status int, problem error) error {
	v := viewer(c)
	ctx := c.Request().Context()
	p := minePage{Errors: apperr.FieldsOf(problem), Sent: c.QueryParam("meldt") == "1"}
	if problem != nil {
		p.Form = Announcement{To: c.FormValue("to"), StartsOn: c.FormValue("starts_on")}
		if p.Errors == nil {
			p.Message = apperr.MessageOf(problem)
		}
	}
	var err error
	if p.Workplaces, err = m.store.Destinations(ctx, v.Tenant.ID); err != nil {
		return err
	}
	err = tenants.OwnRecordTx(ctx, m.db, v.PersonID, func(ctx context.Context, tx bun.Tx) error {
		p.Moves, err = Mine(ctx, tx, v.PersonID)
		return err
	})
	if err != nil {
		return err
	}
	return m.pages.Render(c, status, "mine", "Jeg skal bytte arbeidssted", &p)
}

func (m *Module) announce(c echo.Context) error {
	v := viewer(c)
	_, err := m.store.Announce(c.Request().Context(), v.Tenant.ID, actor(v), Announcement{To: c.FormValue("to"), StartsOn: c.FormValue("starts_on")})
	return web.Answer(c, err, m.renderMine, "/t/"+v.Tenant.Slug+"/mitt-arbeidsstedsbytte?meldt=1")
}

func (m *Module) retry(c echo.Context) error {
	v := viewer(c)
	ctx := c.Request().Context()
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return apperr.New(apperr.NotFound, "Fant ikke arbeidsstedsbyttet.")
	}
	t, err := m.store.Retry(ctx, v.Tenant.ID, actor(v), id)
	if err == nil {
		m.enqueue(ctx, t)
	}
	return web.Answer(c, err, m.renderShow, base(v)+"/"+id.String())
}

func (m *Module) saveSettings(c echo.Context) error {
	v := viewer(c)
	err := m.store.SetInFlightDays(c.Request().Context(), v.Tenant.ID, c.FormValue("days"))
	return web.Answer(c, err, m.renderList, base(v)+"?lagret=1")
}

// NotCarriedText is one refused approval as shown.
func (n NotCarried) String() string { return fmt.Sprintf("%s: %s", n.Goal, n.Reason) }

// Scan reads the report column.
func (r *Report) Scan(src any) error { return scanJSON(r, src) }

// scanJSON reads a jsonb column into dst.
func scanJSON(dst, src any) error {
	switch b := src.(type) {
	case []byte:
		return json.Unmarshal(b, dst)
	case string:
		return json.Unmarshal([]byte(b), dst)
	case nil:
		return nil
	}
	return fmt.Errorf("transfers: %T from %T", dst, src)
}
