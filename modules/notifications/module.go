// Package notifications tells people about what concerns them, in the way
// each chose, exactly once: the types and their default channels, a person's
// settings page, the notices on the tenant home, the immediate e-mail for each
// relayed outbox event (workers.Relay), and the weekly summary on Wednesdays.
package notifications

import (
	"context"
	"embed"
	"io/fs"
	"net/http"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/labstack/echo/v4"
	"github.com/uptrace/bun"

	"kportal/modules"
	"kportal/modules/apperr"
	"kportal/modules/web"
	"kportal/tenants"
	"kportal/workers"
)

//go:embed templates
var templatesFS embed.FS

// Module is the notifications module.
type Module struct {
	db      bun.IDB
	pages   *web.Pages
	store   *Store
	mailer  Sender
	queue   *asynq.Client
	baseURL string
	now     func() time.Time
}

// New returns the module. mailer sends the e-mails, queue takes the weekly
// summaries, baseURL starts every link in them.
func New(db bun.IDB, nav web.NavFunc, mailer Sender, queue *asynq.Client, baseURL string) *Module {
	sub, _ := fs.Sub(templatesFS, "templates")
	return &Module{db: db, pages: web.MustPages(sub, nav), store: NewStore(db), mailer: mailer, queue: queue, baseURL: baseURL, now: time.Now}
}

// SetClock replaces the clock the weekly summary reads (tests, benchmarks).
func (m *Module) SetClock(now func() time.Time) { m.now = now }

func (m *Module) Info() modules.Info {
	return modules.Info{ID: "notifications", Title: "Varsler", Requires: []string{"web"}}
}

func (m *Module) Tasks(mux *asynq.ServeMux) {
	mux.HandleFunc(workers.TypeEvent, m.Deliver)
	mux.HandleFunc(TypeDigestRun, func(ctx context.Context, _ *asynq.Task) error {
		_, err := m.RunDigest(ctx)
		return err
	})
	mux.HandleFunc(TypeDigest, m.SendDigest)
}

func (m *Module) Schedules() []workers.Schedule {
	return []workers.Schedule{{Cron: DigestCron, Task: asynq.NewTask(TypeDigestRun, nil),
		Opts: []asynq.Option{asynq.Queue(workers.QueueBulk), asynq.MaxRetry(3)}}}
}

func (m *Module) Routes(r *modules.Router) {
	// Everyone has their own notices and settings: being signed in (and a
	// member of the URL's tenant, which the guard checks) is all it takes;
	// the store reads only the person's own rows.
	r.GET(SettingsPath, m.settings, modules.SignedIn())
	r.POST(SettingsPath, m.saveSettings, modules.SignedIn())
	r.GET("/t/:tenant/varsler", m.list, modules.SignedIn())
	r.GET("/t/:tenant/varsler/nye", m.fresh, modules.SignedIn())
	r.POST("/t/:tenant/varsler/lest", m.markRead, modules.SignedIn())
	r.POST("/t/:tenant/varsler/:id/lest", m.markRead, modules.SignedIn())
}

func (m *Module) Nav(v *modules.Viewer) []modules.NavItem {
	if v == nil || v.Tenant == nil {
		return nil
	}
	return []modules.NavItem{{Label: "Varsler", Href: "/t/" + v.Tenant.Slug + "/varsler", Order: 850}}
}

// When is the notice's time in Oslo.
func (n Notice) When() string { return n.CreatedAt.In(web.Oslo).Format("2.1.2006 15:04") }

type listPage struct {
	Notices []Notice
	Unread  int
}

func (m *Module) list(c echo.Context) error {
	ctx := c.Request().Context()
	v := modules.ViewerFrom(ctx)
	var p listPage
	var err error
	if p.Notices, err = m.store.Notices(ctx, v.Tenant.ID, v.PersonID, false, 200); err != nil {
		return err
	}
	for _, n := range p.Notices {
		if n.ReadAt == nil {
			p.Unread++
		}
	}
	return m.pages.Render(c, http.StatusOK, "list", "Varsler", p)
}

// fresh is the home page's notices area: the unread count and the newest
// unread notices; htmx asks for it again every 20 seconds.
func (m *Module) fresh(c echo.Context) error {
	ctx := c.Request().Context()
	v := modules.ViewerFrom(ctx)
	var p listPage
	// Every open home page asks every 20 seconds: one transaction.
	err := tenants.OneTx(ctx, m.db, tenants.Scope{TenantID: v.Tenant.ID, PersonID: v.PersonID}, func(ctx context.Context) error {
		var err error
		if p.Unread, err = m.store.Unread(ctx, v.Tenant.ID, v.PersonID); err != nil {
			return err
		}
		p.Notices, err = m.store.Notices(ctx, v.Tenant.ID, v.PersonID, true, 5)
		return err
	})
	if err != nil {
		return err
	}
	return m.pages.Render(c, http.StatusOK, "fresh", "Nye varsler", p)
}

func (m *Module) markRead(c echo.Context) error {
	ctx := c.Request().Context()
	v := modules.ViewerFrom(ctx)
	var id int64
	if s := c.Param("id"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return apperr.New(apperr.NotFound, "Fant ikke varselet.")
		}
		id = n
	}
	if err := m.store.MarkRead(ctx, v.Tenant.ID, v.PersonID, id); err != nil {
		return err
	}
	if c.Request().Header.Get("HX-Request") == "true" {
		return m.fresh(c)
	}
	return web.Redirect(c, "/t/"+v.Tenant.Slug+"/varsler")
}

type settingsPage struct {
	Settings []Setting
	Saved    bool
}

func (m *Module) settings(c echo.Context) error {
	ctx := c.Request().Context()
	v := modules.ViewerFrom(ctx)
	s, err := m.store.Settings(ctx, v.PersonID)
	if err != nil {
		return err
	}
	return m.pages.Render(c, http.StatusOK, "settings", "Varsler", settingsPage{Settings: s, Saved: c.QueryParam("lagret") != ""})
}

// saveSettings reads one checkbox per type and channel for each type the page
// listed (an unticked box is absent from the form; the hidden "type" fields say
// which types were shown).
func (m *Module) saveSettings(c echo.Context) error {
	ctx := c.Request().Context()
	v := modules.ViewerFrom(ctx)
	form, err := c.FormParams()
	if err != nil {
		return apperr.New(apperr.Invalid, "Skjemaet kunne ikke leses.")
	}
	set := map[string]Channels{}
	for _, topic := range form["type"] { // the types the page showed
		if t := TypeOf(topic); t == nil || t.Locked {
			continue
		}
		set[topic] = Channels{
			Email:  form.Get(topic+".email") != "",
			Digest: form.Get(topic+".digest") != "",
			Home:   form.Get(topic+".home") != "",
		}
	}
	if err := m.store.SaveSettings(ctx, v.PersonID, set); err != nil {
		return err
	}
	return web.Redirect(c, SettingsPath+"?lagret=1")
}
