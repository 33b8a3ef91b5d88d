package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"kportal/storage/testenv"
	"kportal/tenants"
)

// actSetup is a helseforetak where a LIS has an ortopedi plan with one
// national procedure (Seneskader: 5 assisted, 10 performed) and a supervisor;
// another supervisor follows a different LIS.
type actSetup struct {
	tn                    *tenants.Tenant
	lisEmail, lisPassword string
	supEmail, supPassword string
	otherEmail, otherPass string
	lis, sup, other       uuid.UUID
	procedureID           uuid.UUID
}

func actNewSetup(t *testing.T, cfg *config) *actSetup {
	t.Helper()
	ctx := context.Background()
	env := testenv.Get(t)
	s := &actSetup{tn: testTenant(t, "Aktivitet HF", tenants.KindHF)}
	s.lisEmail, s.lisPassword, s.lis = member(t, cfg, "Linnea", s.tn, "lis")
	s.supEmail, s.supPassword, s.sup = member(t, cfg, "Sivert", s.tn, "supervisor")
	s.otherEmail, s.otherPass, s.other = member(t, cfg, "Oddvar", s.tn, "supervisor")
	_, _, lis2 := member(t, cfg, "Lotte", s.tn, "lis")
	var version int
	if err := env.Owner.NewRaw("INSERT INTO catalog_versions (label) VALUES (?) RETURNING id", "akt-"+uuid.NewString()[:8]).Scan(ctx, &version); err != nil {
		t.Fatal(err)
	}
	if err := env.Owner.NewRaw(`INSERT INTO national_procedures (version_id, specialty, number, name, assisted, performed)
		VALUES (?, 'ORT', '2', 'Seneskader', 5, 10) RETURNING id`, version).Scan(ctx, &s.procedureID); err != nil {
		t.Fatal(err)
	}
	err := tenants.WithTenantTx(ctx, env.App, tenants.Scope{TenantID: s.tn.ID}, func(ctx context.Context, tx bun.Tx) error {
		adm := tenants.Actor{Name: "test"}
		if err := tenants.SetRelation(ctx, tx, s.tn.ID, s.lis, tenants.RelSupervisor, s.sup, adm); err != nil {
			return err
		}
		if err := tenants.SetRelation(ctx, tx, s.tn.ID, lis2, tenants.RelSupervisor, s.other, adm); err != nil {
			return err
		}
		var tpl uuid.UUID
		if err := tx.NewRaw("INSERT INTO plan_templates (tenant_id, name, specialty, version_id) VALUES (?, 'Ortopedi', 'ORT', ?) RETURNING id",
			s.tn.ID, version).Scan(ctx, &tpl); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO plan_template_goals (tenant_id, template_id, goal_code) VALUES (?, ?, 'ORT-07')", s.tn.ID, tpl); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO plan_assignments (tenant_id, lis_id, template_id, version_id) VALUES (?, ?, ?, ?)", s.tn.ID, s.lis, tpl, version)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *actSetup) path(p string) string { return "/t/" + s.tn.Slug + p }

// actNewest returns the id of the LIS's newest activity.
func actNewest(t *testing.T, s *actSetup) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	err := tenants.WithTenantTx(context.Background(), testenv.Get(t).App, tenants.Scope{TenantID: s.tn.ID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw("SELECT id FROM activities WHERE lis_id = ? ORDER BY created_at DESC LIMIT 1", s.lis).Scan(ctx, &id)
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// Over HTTP: a LIS registers and sends an activity; a supervisor who does not
// supervise the LIS gets 404; the right one signs; a second decision and a
// withdrawal after signing are refused with 409 and a Norwegian message.
func TestActivitiesSigningHTTP(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	s := actNewSetup(t, cfg)

	lis := newBrowser(t, srv.URL)
	login(t, lis, s.lisEmail, s.lisPassword)
	status, _, page := lis.get(s.path("/aktiviteter/ny"))
	if status != 200 || !strings.Contains(page, "ORT-07") || !strings.Contains(page, "Sivert Testesen") {
		t.Fatalf("new activity form: %d\n%s", status, page)
	}
	csrf := csrfFrom(t, page)
	status, _, page = lis.post(s.path("/aktiviteter"), url.Values{"_csrf": {csrf}, "kind": {"course"}, "title": {"Traumekurs"}, "done_on": {"2026-01-10"}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(page, "velg en supervisør") {
		t.Fatalf("a course without a supervisor: %d", status)
	}
	status, where, page := lis.post(s.path("/aktiviteter"), url.Values{"_csrf": {csrf}, "kind": {"course"}, "title": {"Traumekurs"},
		"done_on": {"2026-01-10"}, "goals": {"ORT-07"}, "supervisor": {s.sup.String()}})
	if status != 200 || !strings.HasPrefix(where, s.path("/aktiviteter")) || !strings.Contains(page, "Traumekurs") || !strings.Contains(page, "Venter på signatur") {
		t.Fatalf("after sending: %d at %s\n%s", status, where, page)
	}
	id := actNewest(t, s)
	decide := url.Values{"one": {"signed:" + id.String()}}

	t.Run("a supervisor who does not supervise the LIS gets 404", func(t *testing.T) {
		other := newBrowser(t, srv.URL)
		login(t, other, s.otherEmail, s.otherPass)
		_, _, q := other.get(s.path("/signering"))
		if strings.Contains(q, "Traumekurs") {
			t.Fatal("another LIS's supervisor sees the request")
		}
		decide.Set("_csrf", csrfFrom(t, q))
		if status, _, _ := other.post(s.path("/signering"), decide); status != http.StatusNotFound {
			t.Fatalf("signing: %d", status)
		}
	})
	t.Run("the LIS cannot sign", func(t *testing.T) {
		if status, _, _ := lis.post(s.path("/signering"), url.Values{"_csrf": {csrf}, "one": {"signed:" + id.String()}}); status != http.StatusForbidden {
			t.Fatalf("LIS signing: %d", status)
		}
	})

	sup := newBrowser(t, srv.URL)
	login(t, sup, s.supEmail, s.supPassword)
	_, _, q := sup.get(s.path("/signering"))
	if !strings.Contains(q, "Traumekurs") || !strings.Contains(q, "Linnea Testesen") {
		t.Fatalf("the supervisor's queue:\n%s", q)
	}
	form := url.Values{"_csrf": {csrfFrom(t, q)}, "one": {"signed:" + id.String()}, "comment-" + id.String(): {"Godt gjennomført"}}
	if status, _, page := sup.post(s.path("/signering"), form); status != 200 || !strings.Contains(page, "Signert.") || strings.Contains(page, "Traumekurs") {
		t.Fatalf("signing: %d\n%s", status, page)
	}
	if status, _, page := sup.post(s.path("/signering"), form); status != http.StatusConflict || !strings.Contains(page, "Aktiviteten er allerede signert") {
		t.Fatalf("signing twice: %d", status)
	}
	if status, _, page := lis.post(s.path("/aktiviteter/"+id.String()+"/trekk-tilbake"), url.Values{"_csrf": {csrf}}); status != http.StatusConflict || !strings.Contains(page, "Aktiviteten er allerede signert") {
		t.Fatalf("withdrawing a signed one: %d", status)
	}
	if _, _, page := lis.get(s.path("/aktiviteter?status=signed&q=traume")); !strings.Contains(page, "Traumekurs") || !strings.Contains(page, "Godt gjennomført") {
		t.Fatalf("signed filter:\n%s", page)
	}

	t.Run("the LIS sees who signed exactly what, and when; another LIS gets 404", func(t *testing.T) {
		status, _, page := lis.get(s.path("/aktiviteter/" + id.String()))
		for _, want := range []string{"Signert</strong> av Sivert Testesen", "«Godt gjennomført»", "Det som ble signert: Traumekurs, 10.1.2026, mål ORT-07"} {
			if status != 200 || !strings.Contains(page, want) {
				t.Fatalf("activity page lacks %q: %d\n%s", want, status, page)
			}
		}
		if _, _, list := lis.get(s.path("/aktiviteter")); !strings.Contains(list, `href="`+s.path("/aktiviteter/"+id.String())+`"`) {
			t.Fatal("the list does not link to the activity")
		}
		email, password, _ := member(t, cfg, "Lise", s.tn, "lis")
		other := newBrowser(t, srv.URL)
		login(t, other, email, password)
		if status, _, page := other.get(s.path("/aktiviteter/" + id.String())); status != http.StatusNotFound || strings.Contains(page, "Traumekurs") {
			t.Fatalf("another LIS: %d", status)
		}
		if status, _, _ := lis.get(s.path("/aktiviteter/not-an-id")); status != http.StatusNotFound {
			t.Fatalf("a bad id: %d", status)
		}
	})

	t.Run("a value PostgreSQL refuses (a NUL byte) is bad input: 422, nothing saved", func(t *testing.T) {
		before := actNewest(t, s)
		status, _, page := lis.post(s.path("/aktiviteter"), url.Values{"_csrf": {csrf}, "kind": {"course"}, "title": {"Kurs\x00"},
			"done_on": {"2026-01-12"}, "supervisor": {s.sup.String()}})
		if status != http.StatusUnprocessableEntity || !strings.Contains(page, "kan ikke lagres") {
			t.Fatalf("NUL in a title: %d", status)
		}
		if actNewest(t, s) != before {
			t.Fatal("an activity was saved")
		}
	})

	t.Run("several signed at once in one POST", func(t *testing.T) {
		var ids []string
		for _, title := range []string{"Kurs A", "Kurs B"} {
			lis.post(s.path("/aktiviteter"), url.Values{"_csrf": {csrf}, "kind": {"course"}, "title": {title}, "done_on": {"2026-01-12"}, "supervisor": {s.sup.String()}})
			ids = append(ids, actNewest(t, s).String())
		}
		if status, _, page := sup.post(s.path("/signering"), url.Values{"_csrf": {form.Get("_csrf")}, "decision": {"signed"}, "id": ids}); status != 200 || strings.Contains(page, "Kurs A") || strings.Contains(page, "Kurs B") {
			t.Fatalf("signing both: %d\n%s", status, page)
		}
		var n int
		err := tenants.WithTenantTx(context.Background(), testenv.Get(t).App, tenants.Scope{TenantID: s.tn.ID}, func(ctx context.Context, tx bun.Tx) error {
			return tx.NewRaw("SELECT count(*) FROM signatures WHERE activity_id::text = ANY(?) AND decision = 'signed'", pgdialect.Array(ids)).Scan(ctx, &n)
		})
		if err != nil || n != 2 {
			t.Fatalf("signatures: %d %v", n, err)
		}
	})
	t.Run("withdrawn before the supervisor decides", func(t *testing.T) {
		lis.post(s.path("/aktiviteter"), url.Values{"_csrf": {csrf}, "kind": {"supervisjon"}, "title": {"Skulderleddsinjeksjon"}, "done_on": {"2026-01-11"}, "supervisor": {s.sup.String()}})
		id := actNewest(t, s)
		if status, _, page := lis.post(s.path("/aktiviteter/"+id.String()+"/trekk-tilbake"), url.Values{"_csrf": {csrf}}); status != 200 || !strings.Contains(page, "Trukket tilbake") {
			t.Fatalf("withdrawing: %d", status)
		}
		if status, _, page := sup.post(s.path("/signering"), url.Values{"_csrf": {form.Get("_csrf")}, "one": {"signed:" + id.String()}}); status != http.StatusConflict || !strings.Contains(page, "trukket tilbake") {
			t.Fatalf("signing a withdrawn one: %d", status)
		}
	})
}

// Procedures over HTTP: 5 repetitions are one activity and one request.
func TestProcedureRepetitionsHTTP(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	s := actNewSetup(t, cfg)
	lis := newBrowser(t, srv.URL)
	login(t, lis, s.lisEmail, s.lisPassword)
	_, _, page := lis.get(s.path("/prosedyrer"))
	if !strings.Contains(page, "Seneskader") {
		t.Fatalf("procedure list:\n%s", page)
	}
	key := "n-" + s.procedureID.String()
	status, _, page := lis.post(s.path("/prosedyrer"), url.Values{"_csrf": {csrfFrom(t, page)}, "supervisor": {s.sup.String()},
		"done_on": {time.Now().Format("2006-01-02")}, "n-" + key: {"5"}, "role-" + key: {"performed"}})
	if status != 200 || !strings.Contains(page, "5 registrert og sendt til signering") || !strings.Contains(page, `data-testid="waiting">5<`) {
		t.Fatalf("after registering 5: %d\n%s", status, page)
	}
	var rows, requests int
	err := tenants.WithTenantTx(context.Background(), testenv.Get(t).App, tenants.Scope{TenantID: s.tn.ID}, func(ctx context.Context, tx bun.Tx) error {
		if err := tx.NewRaw("SELECT count(*) FROM activities WHERE lis_id = ? AND count = 5", s.lis).Scan(ctx, &rows); err != nil {
			return err
		}
		return tx.NewRaw("SELECT count(*) FROM outbox WHERE topic = 'activity.signature_requested' AND recipient_id = ?", s.sup).Scan(ctx, &requests)
	})
	if err != nil || rows != 1 || requests != 1 {
		t.Fatalf("rows %d, requests %d, %v", rows, requests, err)
	}
	if !strings.Contains(page, `value="`+s.sup.String()+`" selected`) {
		t.Fatal("the supervisor is not remembered")
	}
}

// The journey on a phone: the LIS registers 5 repetitions of a
// procedure and asks for a signature, the supervisor signs them all at once,
// and the LIS's counts go up.
func TestBrowserProcedureSigning(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	s := actNewSetup(t, cfg)
	key := "n-" + s.procedureID.String()
	ctx := chromium(t)
	err := browserLogin(ctx, srv.URL, s.lisEmail, s.lisPassword)
	if err == nil {
		err = chromedp.Do(ctx,
			chromedp.Navigate(srv.URL+s.path("/prosedyrer")),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="procedure-form"]`)),
			chromedp.SetValue(chromedp.CSS(`#supervisor`), s.sup.String()),
			chromedp.SendKeys(chromedp.CSS(`input[name="n-`+key+`"]`), "5"),
			chromedp.Click(chromedp.CSS(`input[name="role-`+key+`"][value="performed"]`)),
			chromedp.Click(chromedp.CSS(`[data-testid="send-procedures"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="notice"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="waiting"]`)),
		)
	}
	if err != nil {
		screenshot(t, ctx, "procedures-lis")
		t.Fatalf("the LIS registers 5: %v", err)
	}
	screenshot(t, ctx, "procedures-sent")
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`form[action="/logg-ut"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`form[data-group="password"]`)))
	if err == nil {
		err = browserLogin(ctx, srv.URL, s.supEmail, s.supPassword)
	}
	if err == nil {
		err = chromedp.Do(ctx,
			chromedp.Navigate(srv.URL+s.path("/signering")),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="request"]`)),
			chromedp.Click(chromedp.CSS(`[data-testid="request"] input[type="checkbox"]`)),
			chromedp.Click(chromedp.CSS(`[data-testid="sign-selected"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="queue-empty"]`)),
		)
	}
	if err != nil {
		screenshot(t, ctx, "procedures-supervisor")
		t.Fatalf("the supervisor signs: %v", err)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`form[action="/logg-ut"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`form[data-group="password"]`)))
	if err == nil {
		err = browserLogin(ctx, srv.URL, s.lisEmail, s.lisPassword)
	}
	var done string
	if err == nil {
		err = chromedp.Do(ctx,
			chromedp.Navigate(srv.URL+s.path("/prosedyrer")),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="procedure"]`)))
	}
	if err == nil {
		done, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid="done-performed"]`)))
	}
	if err != nil || strings.TrimSpace(done) != "5" {
		screenshot(t, ctx, "procedures-counts")
		t.Fatalf("the LIS's count after signing: %q, %v", done, err)
	}
	screenshot(t, ctx, "procedures-done")
}
