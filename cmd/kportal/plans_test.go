package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/catalog"
	"kportal/modules/plans"
	"kportal/storage/testenv"
	"kportal/tenants"
)

// planCatalog publishes the shipped catalogue (once per test) and returns its id.
func planCatalog(t *testing.T) int {
	t.Helper()
	ctx := context.Background()
	db := testenv.Get(t).App
	s, err := catalog.Read(catalog.Data())
	if err != nil {
		t.Fatal(err)
	}
	r, err := catalog.Import(ctx, db, s, "plan-"+uuid.NewString()[:6], "", uuid.Nil)
	if err != nil {
		t.Fatal(err)
	}
	// Other tests of the package may have published versions the shipped data
	// differs from: mark those changes, as Helsedirektoratet would, then publish.
	changes, err := catalog.Changes(ctx, db, r.VersionID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range changes {
		if err := catalog.MarkStricter(ctx, db, r.VersionID, c.New.Code, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := catalog.Publish(ctx, db, r.VersionID, time.Now()); err != nil {
		t.Fatal(err)
	}
	return r.VersionID
}

type planFixture struct {
	tn                           *tenants.Tenant
	adminEmail, lederEmail, pass string
	lis, other                   uuid.UUID
}

// planTenant makes a helseforetak with an admin, a leder of one LIS, and a
// second LIS with no leder.
func planTenant(t *testing.T, cfg *config) *planFixture {
	t.Helper()
	f := &planFixture{tn: testTenant(t, "Plan HF", tenants.KindHF)}
	f.adminEmail, f.pass, _ = member(t, cfg, "Astrid", f.tn, "tenant_admin")
	var leder uuid.UUID
	f.lederEmail, _, leder = member(t, cfg, "Leon", f.tn, "leder")
	_, _, f.lis = member(t, cfg, "Lisa", f.tn, "lis")
	_, _, f.other = member(t, cfg, "Olav", f.tn, "lis")
	err := tenants.WithTenantTx(context.Background(), testenv.Get(t).App, tenants.Scope{TenantID: f.tn.ID}, func(ctx context.Context, tx bun.Tx) error {
		return tenants.SetRelation(ctx, tx, f.tn.ID, f.lis, "leder", leder, tenants.Actor{Name: "test"})
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestPlanAdminAndAssignPages(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	planCatalog(t)
	f := planTenant(t, cfg)
	base := "/t/" + f.tn.Slug
	admin := newBrowser(t, srv.URL)
	login(t, admin, f.adminEmail, f.pass)

	// Arenas.
	status, _, page := admin.get(base + "/admin/arenaer")
	if status != 200 {
		t.Fatalf("arenas: %d", status)
	}
	csrf := csrfFrom(t, page)
	if status, _, page = admin.post(base+"/admin/arenaer", url.Values{"_csrf": {csrf}, "name": {" "}}); status != http.StatusUnprocessableEntity || !strings.Contains(page, "Skriv et navn") {
		t.Fatalf("empty arena name: %d", status)
	}
	if status, _, page = admin.post(base+"/admin/arenaer", url.Values{"_csrf": {csrf}, "name": {"Poliklinikk"}}); status != 200 || !strings.Contains(page, "<strong>Poliklinikk</strong>") {
		t.Fatalf("after adding an arena: %d\n%s", status, page)
	}
	arenas, _ := plans.Arenas(context.Background(), testenv.Get(t).App, f.tn.ID)

	// A LIS1 template with a goal at the arena and a local activity.
	status, where, page := admin.post(base+"/admin/planer", url.Values{"_csrf": {csrf}, "name": {"LIS1 sykehus"}, "specialty": {"LIS1"}})
	if status != 200 || !strings.HasPrefix(where, base+"/admin/planer/") || !strings.Contains(page, "KLS-001") || !strings.Contains(page, "offisiell tekst ikke lastet inn") {
		t.Fatalf("new template: %d %s\n%s", status, where, page)
	}
	tplID := strings.TrimPrefix(where, base+"/admin/planer/")
	status, _, page = admin.post(where+"?plan=KLS", url.Values{"_csrf": {csrf}, "name": {"LIS1 sykehus"}, "plan": {"KLS"}, "shown": {"KLS-001", "KLS-002"},
		"goals": {"KLS-001", "KLS-002"}, "arena_KLS-001": {arenas[0].ID.String()}})
	if status != 200 || !strings.Contains(page, `data-testid="saved"`) || !strings.Contains(page, "2 mål") {
		t.Fatalf("saving goals: %d\n%s", status, page)
	}
	if status, _, page = admin.post(where+"/aktiviteter", url.Values{"_csrf": {csrf}, "local_kind": {"course"}, "local_name": {"Akuttkurs"}, "local_goals": {"KLS-001"}, "local_required": {"1"}}); status != 200 || !strings.Contains(page, "Akuttkurs") {
		t.Fatalf("local activity: %d\n%s", status, page)
	}
	if status, _, page = admin.post(where+"/aktiviteter", url.Values{"_csrf": {csrf}, "local_kind": {"course"}, "local_name": {"Feil"}, "local_goals": {"KLK-001"}}); status != http.StatusUnprocessableEntity || !strings.Contains(page, "Målet KLK-001 er ikke i planen") {
		t.Fatalf("local activity with a goal outside the plan: %d", status)
	}

	// The leder assigns it to their LIS, not to another; archives; assigns anew.
	leder := newBrowser(t, srv.URL)
	login(t, leder, f.lederEmail, f.pass)
	status, _, page = leder.get(base + "/planer/tildel")
	if status != 200 || !strings.Contains(page, "Lisa Testesen") || strings.Contains(page, "Olav Testesen") {
		t.Fatalf("assign page: %d\n%s", status, page)
	}
	lcsrf := csrfFrom(t, page)
	if status, _, page = leder.post(base+"/planer/tildel", url.Values{"_csrf": {lcsrf}, "lis": {f.other.String()}, "template": {tplID}}); status != http.StatusUnprocessableEntity || !strings.Contains(page, "ikke leder for denne") {
		t.Fatalf("assigning another's LIS: %d", status)
	}
	if status, _, page = leder.post(base+"/planer/tildel", url.Values{"_csrf": {lcsrf}, "lis": {f.lis.String()}, "template": {tplID}}); status != 200 || !strings.Contains(page, `data-testid="assignment-active"`) {
		t.Fatalf("assigning: %d\n%s", status, page)
	}
	if status, _, _ = leder.post(base+"/planer/tildel", url.Values{"_csrf": {lcsrf}, "lis": {f.lis.String()}, "template": {tplID}}); status != http.StatusUnprocessableEntity {
		t.Fatalf("assigning twice: %d", status)
	}
	as, _ := plans.Assignments(context.Background(), testenv.Get(t).App, f.tn.ID, nil)
	if status, _, page = leder.post(base+"/planer/tildel/"+as[0].ID.String()+"/arkiver", url.Values{"_csrf": {lcsrf}}); status != 200 || !strings.Contains(page, "Arkivert") {
		t.Fatalf("archiving: %d", status)
	}
	if status, _, _ = leder.post(base+"/planer/tildel", url.Values{"_csrf": {lcsrf}, "lis": {f.lis.String()}, "template": {tplID}}); status != 200 {
		t.Fatalf("assigning after archiving: %d", status)
	}
	if as, _ = plans.Assignments(context.Background(), testenv.Get(t).App, f.tn.ID, nil); len(as) != 2 {
		t.Fatalf("assignments: %+v", as)
	}
	// The leder is not an admin; the admin is not a leder.
	if status, _, _ = leder.get(base + "/admin/planer"); status != http.StatusForbidden {
		t.Fatalf("leder on admin pages: %d", status)
	}
	if status, _, _ = admin.get(base + "/planer/tildel"); status != http.StatusForbidden {
		t.Fatalf("admin on the assign page: %d", status)
	}
}

// Another tenant's admin reaches neither the pages nor the objects.
func TestIsolationPlanPages(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	v := planCatalog(t)
	f := planTenant(t, cfg)
	ctx := context.Background()
	db := testenv.Get(t).App
	arena, err := plans.CreateArena(ctx, db, f.tn.ID, "Sengepost", "")
	if err != nil {
		t.Fatal(err)
	}
	tpl := &plans.Template{Name: "ORT", Specialty: "ORT", VersionID: v}
	if err := plans.SaveTemplate(ctx, db, f.tn.ID, tpl); err != nil {
		t.Fatal(err)
	}
	other := testTenant(t, "Annet HF", tenants.KindHF)
	email, password, _ := member(t, cfg, "Ane", other, "tenant_admin")
	b := newBrowser(t, srv.URL)
	login(t, b, email, password)
	_, _, page := b.get("/t/" + other.Slug + "/admin/arenaer")
	csrf := csrfFrom(t, page)
	for _, path := range []string{"/t/" + f.tn.Slug + "/admin/arenaer", "/t/" + f.tn.Slug + "/admin/planer/" + tpl.ID.String(), "/t/" + other.Slug + "/admin/planer/" + tpl.ID.String()} {
		if status, _, _ := b.get(path); status != http.StatusNotFound {
			t.Errorf("GET %s: %d", path, status)
		}
	}
	for _, path := range []string{"/t/" + other.Slug + "/admin/arenaer/" + arena.ID.String() + "/arkiver", "/t/" + other.Slug + "/admin/planer/" + tpl.ID.String() + "/arkiver",
		"/t/" + other.Slug + "/admin/arenaer/" + arena.ID.String()} {
		if status, _, _ := b.post(path, url.Values{"_csrf": {csrf}, "name": {"Stjålet"}}); status != http.StatusNotFound {
			t.Errorf("POST %s: %d", path, status)
		}
	}
	as, _ := plans.Arenas(ctx, db, f.tn.ID)
	got, _ := plans.TemplateByID(ctx, db, f.tn.ID, tpl.ID)
	if len(as) != 1 || as[0].Name != "Sengepost" || as[0].ArchivedAt != nil || got.ArchivedAt != nil {
		t.Fatalf("after another tenant's attempts: %+v %+v", as, got)
	}
}

// In a phone-sized browser: the tenant admin adds an arena, the leder
// assigns a plan to their LIS.
func TestBrowserPlanArenaAndAssign(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	v := planCatalog(t)
	f := planTenant(t, cfg)
	tpl := &plans.Template{Name: "Ortopedi", Specialty: "ORT", VersionID: v}
	if err := plans.SaveTemplate(context.Background(), testenv.Get(t).App, f.tn.ID, tpl); err != nil {
		t.Fatal(err)
	}
	ctx := chromium(t)
	err := browserLogin(ctx, srv.URL, f.adminEmail, f.pass)
	if err == nil {
		err = chromedp.Do(ctx,
			chromedp.Navigate(srv.URL+"/t/"+f.tn.Slug+"/admin/arenaer"),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="arena-form"]`)),
			chromedp.SendKeys(chromedp.CSS(`#name`), "Operasjonsstue"),
			chromedp.Click(chromedp.CSS(`[data-testid="arena-form"] button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="arenas"]`)),
		)
	}
	var list string
	if err == nil {
		list, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid="arenas"]`)))
	}
	if err != nil || !strings.Contains(list, "Operasjonsstue") {
		screenshot(t, ctx, "plan-arena")
		t.Fatalf("after adding an arena: %q, %v", list, err)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`form[action="/logg-ut"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`form[data-group="password"]`)),
	)
	if err == nil {
		err = browserLogin(ctx, srv.URL, f.lederEmail, f.pass)
	}
	if err == nil {
		err = chromedp.Do(ctx,
			chromedp.Navigate(srv.URL+"/t/"+f.tn.Slug+"/planer/tildel"),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="assign-form"]`)),
			chromedp.SetValue(chromedp.CSS(`#lis`), f.lis.String()),
			chromedp.SetValue(chromedp.CSS(`#template`), tpl.ID.String()),
			chromedp.Click(chromedp.CSS(`[data-testid="assign-form"] button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="assignment-active"]`)),
		)
	}
	if err == nil {
		list, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid="assignments"]`)))
	}
	if err != nil || !strings.Contains(list, "Lisa Testesen") || !strings.Contains(list, "Ortopedi") {
		screenshot(t, ctx, "plan-assign")
		t.Fatalf("after assigning: %q, %v", list, err)
	}
}

// A new catalogue version: the tenant admin sees how many LIS are behind and
// moves them; an approval of a goal whose change is stricter is reopened, one
// whose change is not stricter carries over.
func TestPlanMoveToNewCatalogVersion(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	ctx := context.Background()
	db := testenv.Get(t).App
	f := planTenant(t, cfg)
	var v1, v2 int
	for _, v := range []*int{&v1, &v2} {
		if err := db.NewRaw("INSERT INTO catalog_versions (label) VALUES (?) RETURNING id", "flytt-"+uuid.NewString()[:8]).Scan(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, "UPDATE catalog_versions SET published_at = now() - interval '1 day' WHERE id = ?", v1); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO goals (version_id, code, text, plan) VALUES (?, 'FLY-001', 'Gammel tekst', 'FLY'), (?, 'FLY-002', 'Gammel tekst', 'FLY'),
		(?, 'FLY-001', 'Strengere tekst', 'FLY'), (?, 'FLY-002', 'Klarere tekst', 'FLY')`, v1, v1, v2, v2); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `UPDATE goals SET changed = true, stricter = (code = 'FLY-001') WHERE version_id = ?`, v2); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "UPDATE catalog_versions SET published_at = now() WHERE id = ?", v2); err != nil {
		t.Fatal(err)
	}
	err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: f.tn.ID}, func(ctx context.Context, tx bun.Tx) error {
		var tpl uuid.UUID
		if err := tx.NewRaw("INSERT INTO plan_templates (tenant_id, name, specialty, version_id) VALUES (?, 'Flytteplan', 'LIS1', ?) RETURNING id", f.tn.ID, v1).Scan(ctx, &tpl); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO plan_assignments (tenant_id, lis_id, template_id, version_id) VALUES (?, ?, ?, ?)", f.tn.ID, f.lis, tpl, v1); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO goal_progress (tenant_id, lis_id, goal_code, version_id, status, decided_at)
			VALUES (?, ?, 'FLY-001', ?, 'approved', now()), (?, ?, 'FLY-002', ?, 'approved', now())`, f.tn.ID, f.lis, v1, f.tn.ID, f.lis, v1)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	admin := newBrowser(t, srv.URL)
	login(t, admin, f.adminEmail, f.pass)
	base := "/t/" + f.tn.Slug + "/admin/planer"
	_, _, page := admin.get(base)
	if !strings.Contains(page, `data-testid="catalog-behind"`) || !strings.Contains(page, "1 LIS har planer på en eldre katalogversjon") {
		t.Fatalf("no notice of the new version:\n%s", page)
	}
	status, _, page := admin.post(base+"/katalogversjon", url.Values{"_csrf": {csrfFrom(t, page)}, "version": {fmt.Sprint(v2)}})
	if status != 200 || !strings.Contains(page, `data-testid="moved"`) || strings.Contains(page, `data-testid="catalog-behind"`) {
		t.Fatalf("after moving: %d\n%s", status, page)
	}
	var states []string
	err = tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: f.tn.ID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw("SELECT goal_code || ':' || status || ':' || (version_id = ?)::text FROM goal_progress WHERE tenant_id = ? AND lis_id = ? ORDER BY goal_code", v2, f.tn.ID, f.lis).Scan(ctx, &states)
	})
	if err != nil || strings.Join(states, " ") != "FLY-001:open:true FLY-002:approved:true" {
		t.Fatalf("after the move: %v %v", states, err)
	}
}
