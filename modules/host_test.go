package modules_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/uptrace/bun"

	"kportal/modules"
	"kportal/modules/apperr"
	"kportal/modules/hook"
	"kportal/modules/workflow"
	"kportal/policies"
	"kportal/storage/testenv"
	"kportal/tenants"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// greeting is the "hello" module's subject: a greeting a LIS sends and a leder
// approves.
type greeting struct {
	state workflow.State
	text  string
}

func (g *greeting) WorkflowState() workflow.State { return g.state }

// hello is a complete module using every capability of the host.
type hello struct{ sent hook.Hook[workflow.Event] }

func (h *hello) Info() modules.Info {
	return modules.Info{ID: "hello", Title: "Hei", Requires: []string{"base"}, Optional: true, DefaultOn: false}
}

func (h *hello) Routes(r *modules.Router) {
	ok := func(c echo.Context) error { return c.String(http.StatusOK, "hei") }
	r.GET("/hello/public", ok, modules.Public())
	r.GET("/hello/me", ok, modules.SignedIn())
	r.GET("/t/:tenant/hello", ok, modules.SignedIn())
	r.POST("/t/:tenant/hello/approve", ok, modules.Need("greeting", "approve"))
}

func (h *hello) Policies() []policies.Rule {
	return []policies.Rule{{Role: "leder", Object: "greeting", Action: "approve"}, {Role: "lis", Object: "greeting", Action: "send"}}
}

func (h *hello) Nav(v *modules.Viewer) []modules.NavItem {
	return []modules.NavItem{{Label: "Hei", Href: "/hello", Order: 5}}
}

var notEmpty workflow.Guard = func(ctx context.Context, s workflow.Subject) error {
	if s.(*greeting).text == "" {
		return apperr.New(apperr.Invalid, "Hilsenen er tom.")
	}
	return nil
}

func (h *hello) Workflows() []*workflow.Def {
	return []*workflow.Def{{
		Name: "greeting", Object: "greeting", Initial: "draft", Final: []workflow.State{"approved"},
		Transitions: []workflow.Transition{
			{Name: "send", From: []workflow.State{"draft", "returned"}, To: "sent", Action: "send", Guards: []workflow.Guard{notEmpty}, Emit: "greeting.sent"},
			{Name: "approve", From: []workflow.State{"sent"}, To: "approved", Action: "approve", Emit: "greeting.approved"},
			{Name: "return", From: []workflow.State{"sent"}, To: "returned", Action: "approve"},
		},
	}}
}

type base struct{}

func (base) Info() modules.Info { return modules.Info{ID: "base"} }

func TestRegisterChecksIDsAndDependencies(t *testing.T) {
	h := modules.NewHost(nil, nil)
	if err := h.Register(&hello{}); err == nil {
		t.Fatal("hello requires base, registered before it")
	}
	if err := h.Register(base{}, &hello{}); err != nil {
		t.Fatal(err)
	}
	if err := h.Register(base{}); err == nil {
		t.Fatal("a module ID registered twice")
	}
	if _, err := h.Workflows(); err != nil {
		t.Fatal(err)
	}
	if len(h.Rules()) != 2 {
		t.Fatalf("rules: %v", h.Rules())
	}
}

func TestWorkflowEngine(t *testing.T) {
	def := (&hello{}).Workflows()[0]
	var emitted []string
	var events hook.Hook[workflow.Event]
	events.Bind(func(ctx context.Context, e workflow.Event) error { emitted = append(emitted, e.Name); return nil })
	ctx := context.Background()
	lis := func(obj, act string) (bool, error) { return obj == "greeting" && act == "send", nil }
	leder := func(obj, act string) (bool, error) { return obj == "greeting" && act == "approve", nil }

	g := &greeting{state: def.Initial}
	fire := func(name string, can workflow.Can) error {
		to, ev, err := def.Fire(ctx, g, name, can)
		if err != nil {
			return err
		}
		g.state = to
		if ev != nil {
			return events.Trigger(ctx, *ev)
		}
		return nil
	}
	if err := fire("send", lis); apperr.CodeOf(err) != apperr.Invalid {
		t.Fatalf("guard must refuse an empty greeting, got %v", err)
	}
	g.text = "God morgen"
	if err := fire("approve", leder); apperr.CodeOf(err) != apperr.Conflict {
		t.Fatalf("approving a draft must conflict, got %v", err)
	}
	if err := fire("send", leder); apperr.CodeOf(err) != apperr.Forbidden {
		t.Fatalf("a leder may not send, got %v", err)
	}
	if err := fire("send", lis); err != nil {
		t.Fatal(err)
	}
	if err := fire("approve", lis); apperr.CodeOf(err) != apperr.Forbidden {
		t.Fatalf("a LIS may not approve, got %v", err)
	}
	if err := fire("approve", leder); err != nil || g.state != "approved" {
		t.Fatalf("approve: %v, state %s", err, g.state)
	}
	if len(emitted) != 2 || emitted[0] != "greeting.sent" || emitted[1] != "greeting.approved" {
		t.Fatalf("events: %v", emitted)
	}
	if got := def.Available("sent"); len(got) != 2 {
		t.Fatalf("from sent: %v", got)
	}
	bad := &workflow.Def{Name: "x", Initial: "a", Final: []workflow.State{"z"}, Transitions: []workflow.Transition{{Name: "t", From: []workflow.State{"z"}, To: "a", Action: "do"}}}
	if bad.Validate() == nil {
		t.Fatal("a transition out of a final state must be refused")
	}
}

// Routes are guarded by the host: session, tenant membership (404 for other
// tenants), the per-tenant module switch, and the Casbin permission.
func TestGuardAndModuleSwitch(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	own := &tenants.Tenant{Slug: "eget-" + uuid.NewString()[:6], Name: "Eget HF", Kind: tenants.KindHF}
	other := &tenants.Tenant{Slug: "annet-" + uuid.NewString()[:6], Name: "Annet HF", Kind: tenants.KindHF}
	for _, tn := range []*tenants.Tenant{own, other} {
		if err := tenants.Create(ctx, env.App, tn); err != nil {
			t.Fatal(err)
		}
	}
	host := modules.NewHost(env.App, nil)
	if err := host.Register(base{}, &hello{}); err != nil {
		t.Fatal(err)
	}
	enf, err := policies.NewEnforcer(host.Rules())
	if err != nil {
		t.Fatal(err)
	}
	host.SetAuthorizer(enf)
	person := uuid.New()
	viewer := &modules.Viewer{PersonID: person, Memberships: []tenants.Membership{{Tenant: *own, Roles: []string{"lis"}}}}

	e := echo.New()
	e.HTTPErrorHandler = func(err error, c echo.Context) { _ = c.NoContent(apperr.Status(apperr.CodeOf(err))) }
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if c.Request().Header.Get("X-Test-Signed-In") == "1" {
				v := *viewer
				c.SetRequest(c.Request().WithContext(modules.WithViewer(c.Request().Context(), &v)))
			}
			return next(c)
		}
	})
	host.Mount(e)
	do := func(method, path string, signedIn bool) int {
		req := httptest.NewRequest(method, path, nil)
		if signedIn {
			req.Header.Set("X-Test-Signed-In", "1")
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec.Code
	}
	check := func(name string, got, want int) {
		t.Helper()
		if got != want {
			t.Errorf("%s: status %d, want %d", name, got, want)
		}
	}
	check("public, anonymous", do("GET", "/hello/public", false), 200)
	check("signed-in route, anonymous", do("GET", "/hello/me", false), 401)
	check("signed-in route", do("GET", "/hello/me", true), 200)
	check("own tenant, module off by default", do("GET", "/t/"+own.Slug+"/hello", true), 404)
	if err := host.SetEnabled(ctx, own.ID, "hello", true); err != nil {
		t.Fatal(err)
	}
	check("own tenant, module on", do("GET", "/t/"+own.Slug+"/hello", true), 200)
	check("another tenant (module on there too)", func() int {
		_ = host.SetEnabled(ctx, other.ID, "hello", true)
		return do("GET", "/t/"+other.Slug+"/hello", true)
	}(), 404)
	check("unknown tenant", do("GET", "/t/finnes-ikke/hello", true), 404)
	check("LIS may not approve", do("POST", "/t/"+own.Slug+"/hello/approve", true), 403)
	viewer.Memberships[0].Roles = []string{"lis", "leder"}
	check("leder may approve", do("POST", "/t/"+own.Slug+"/hello/approve", true), 200)
	if err := host.SetEnabled(ctx, own.ID, "hello", false); err != nil {
		t.Fatal(err)
	}
	check("module switched off again", do("GET", "/t/"+own.Slug+"/hello", true), 404)

	viewerNav := &modules.Viewer{Tenant: own}
	if nav := host.Nav(ctx, viewerNav); len(nav) != 0 {
		t.Errorf("menu shows a module switched off: %v", nav)
	}
	viewerNav.Tenant = other
	if nav := host.Nav(ctx, viewerNav); len(nav) != 1 {
		t.Errorf("menu misses a module switched on: %v", nav)
	}

	t.Run("Isolation: a tenant cannot read or change another's switches", func(t *testing.T) {
		on, err := host.Enabled(ctx, own.ID, "hello")
		if err != nil || on {
			t.Fatalf("own tenant: on=%v err=%v", on, err)
		}
		err = tenants.WithTenantTx(ctx, env.App, tenants.Scope{TenantID: own.ID}, func(ctx context.Context, tx bun.Tx) error {
			var n int
			if err := tx.NewRaw("SELECT count(*) FROM tenant_modules WHERE tenant_id = ?", other.ID).Scan(ctx, &n); err != nil {
				return err
			}
			if n != 0 {
				t.Errorf("tenant sees %d of another tenant's module switches", n)
			}
			res, err := tx.ExecContext(ctx, "UPDATE tenant_modules SET enabled = false WHERE tenant_id = ?", other.ID)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 0 {
				t.Errorf("tenant changed %d of another tenant's switches", n)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if on, _ := host.Enabled(ctx, other.ID, "hello"); !on {
			t.Fatal("the other tenant's switch changed")
		}
	})
}
