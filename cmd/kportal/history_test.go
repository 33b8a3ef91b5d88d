package main

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/uptrace/bun"

	"kportal/modules/history/historytest"
	"kportal/storage/testenv"
	"kportal/tenants"
)

// Min utdanning over HTTP: the LIS sees both tenants' record, also after the
// old tenant revokes the lis role; the old tenant's leder and another LIS of
// the same name see none of it; someone with nothing gets the empty state;
// no session goes to the login page.
func TestTransferIsolationMinUtdanning(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	db := testenv.Get(t).App
	hf, kommune := testTenant(t, "Historikk HF", tenants.KindHF), testTenant(t, "Historikk kommune", tenants.KindKommune)
	lisEmail, lisPassword, lis := member(t, cfg, "Sigrid", hf, "lis")
	twinEmail, twinPassword, twin := member(t, cfg, "Sigrid", hf, "lis")
	lederEmail, lederPassword, leder := member(t, cfg, "Per", hf, "leder")
	_, _, sup := member(t, cfg, "Ola", hf, "supervisor")
	a := historytest.Write(t, db, hf.ID, lis, leder, sup, "HF7")
	b := historytest.Write(t, db, kommune.ID, lis, leder, sup, "KOM7")
	n := historytest.Write(t, db, hf.ID, twin, leder, sup, "TWIN7")
	all := []string{a.Plan, a.Goal, a.Activity, a.Document, b.Plan, b.Goal, b.Activity, b.Document, n.Plan, n.Goal, n.Activity, n.Document}

	page := func(email, password string) string {
		t.Helper()
		br := newBrowser(t, srv.URL)
		login(t, br, email, password)
		status, _, body := br.get("/min-utdanning")
		if status != http.StatusOK {
			t.Fatalf("%s: /min-utdanning %d", email, status)
		}
		// Reachable from Mine roller for everyone, also without a lis role.
		if _, _, roles := br.get("/roller"); !strings.Contains(roles, `href="/min-utdanning"`) {
			t.Fatalf("%s: Mine roller does not lead to Min utdanning", email)
		}
		return body
	}
	shows := func(who, body string, want ...string) {
		t.Helper()
		for _, s := range all {
			if got, wanted := strings.Contains(body, s), contains(want, s); got != wanted {
				t.Errorf("%s: %q shown %v, want %v", who, s, got, wanted)
			}
		}
	}
	own := []string{a.Plan, a.Goal, a.Activity, a.Document, b.Plan, b.Goal, b.Activity, b.Document}
	body := page(lisEmail, lisPassword)
	shows("the LIS", body, own...)
	if !strings.Contains(body, "Historikk kommune") || !strings.Contains(body, "Ola Testesen") || !strings.Contains(body, "godkjent av Per Testesen") {
		t.Fatalf("the LIS's page lacks the kommune, the veileder or the approver:\n%s", body)
	}

	err := tenants.WithTenantTx(context.Background(), db, tenants.Scope{TenantID: hf.ID}, func(ctx context.Context, tx bun.Tx) error {
		return tenants.RevokeRole(ctx, tx, hf.ID, lis, "lis", tenants.Actor{Name: "test"})
	})
	if err != nil {
		t.Fatal(err)
	}
	body = page(lisEmail, lisPassword)
	shows("the LIS after Historikk HF removed the role", body, own...)
	if strings.Contains(body, `href="/t/`+hf.Slug+`/"`) {
		t.Error("the page links to a tenant the LIS no longer belongs to")
	}

	shows("the same-named LIS", page(twinEmail, twinPassword), n.Plan, n.Goal, n.Activity, n.Document)
	body = page(lederEmail, lederPassword)
	shows("the old tenant's leder", body)
	if !strings.Contains(body, `data-testid="history-empty"`) {
		t.Fatalf("a person with no record: no empty state:\n%s", body)
	}

	anon := newBrowser(t, srv.URL)
	resp, err := anon.noFollow().Get(srv.URL + "/min-utdanning")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode/100 != 3 || !strings.HasPrefix(loc, "/logg-inn") {
		t.Fatalf("without a session: %d to %q", resp.StatusCode, loc)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// The LIS opens Min utdanning from the menu on a phone and sees an approved
// goal and an activity from each tenant.
func TestTransferBrowserMinUtdanning(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	db := testenv.Get(t).App
	hf, kommune := testTenant(t, "Mobil HF", tenants.KindHF), testTenant(t, "Mobil kommune", tenants.KindKommune)
	email, password, lis := member(t, cfg, "Sigrid", hf, "lis")
	_, _, leder := member(t, cfg, "Per", hf, "leder")
	_, _, sup := member(t, cfg, "Ola", hf, "supervisor")
	a := historytest.Write(t, db, hf.ID, lis, leder, sup, "MOBHF")
	b := historytest.Write(t, db, kommune.ID, lis, leder, sup, "MOBKOM")

	ctx := chromium(t)
	err := stepwise(t, ctx, "min-utdanning",
		steps{chromedp.Navigate(srv.URL + "/logg-inn")},
		loginSteps(email, password),
		steps{chromedp.WaitVisible(chromedp.CSS(`[data-testid="user-name"]`))},
		steps{chromedp.Click(chromedp.CSS(`nav.kp-nav a[href="/min-utdanning"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="history-tenant"]`))},
	)
	if err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "min-utdanning")
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#innhold`)))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{a.Goal, a.Activity, b.Goal, b.Activity, "Mobil HF", "Mobil kommune"} {
		if !strings.Contains(text, s) {
			t.Errorf("Min utdanning on a phone lacks %q:\n%s", s, text)
		}
	}
}
