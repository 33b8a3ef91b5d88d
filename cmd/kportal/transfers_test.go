package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/history/historytest"
	"kportal/storage/testenv"
	"kportal/tenants"
)

// moveWorld: Kari is LIS at a Helse Vest hospital with a record; a second
// Helse Vest hospital ("Førde") has a plan template, a tenant admin and a
// leder; a hospital in another RHF has its own admin.
type moveWorld struct {
	bergen, forde, ous              *tenants.Tenant
	kariEmail, kariPassword         string
	kari, per                       uuid.UUID
	adminEmail, adminPassword       string
	lederEmail, lederPassword       string
	perEmail, perPassword           string
	ousAdminEmail, ousAdminPassword string
	template                        uuid.UUID
	rec                             historytest.Record
	forderLeder                     uuid.UUID
}

func newMoveWorld(t *testing.T, cfg *config) *moveWorld {
	t.Helper()
	withRefData(t)
	db := testenv.Get(t).App
	hf := func(name, rhf string) *tenants.Tenant {
		tn := &tenants.Tenant{Slug: "t-" + uuid.NewString()[:8], Name: name, Kind: tenants.KindHF, RHFCode: rhf}
		if err := tenants.Create(context.Background(), db, tn); err != nil {
			t.Fatal(err)
		}
		return tn
	}
	w := &moveWorld{bergen: hf("Bergen HF", "HV"), forde: hf("Førde HF", "HV"), ous: hf("Oslo HF", "HSO")}
	w.kariEmail, w.kariPassword, w.kari = member(t, cfg, "Kari", w.bergen, "lis")
	w.perEmail, w.perPassword, w.per = member(t, cfg, "Per", w.bergen, "leder")
	_, _, ola := member(t, cfg, "Ola", w.bergen, "supervisor")
	w.rec = historytest.Write(t, db, w.bergen.ID, w.kari, w.per, ola, "FLYTT")
	err := tenants.WithTenantTx(context.Background(), db, tenants.Scope{TenantID: w.bergen.ID}, func(ctx context.Context, tx bun.Tx) error {
		return tenants.SetRelation(ctx, tx, w.bergen.ID, w.kari, tenants.RelLeder, w.per, tenants.Actor{Name: "test"})
	})
	if err != nil {
		t.Fatal(err)
	}
	w.adminEmail, w.adminPassword, _ = member(t, cfg, "Anne", w.forde, "tenant_admin")
	w.lederEmail, w.lederPassword, w.forderLeder = member(t, cfg, "Frida", w.forde, "leder")
	w.ousAdminEmail, w.ousAdminPassword, _ = member(t, cfg, "Oskar", w.ous, "tenant_admin")
	err = tenants.WithTenantTx(context.Background(), db, tenants.Scope{TenantID: w.forde.ID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw(`INSERT INTO plan_templates (tenant_id, name, specialty, version_id)
			VALUES (?, 'Ortopedi Førde', 'ORT', (SELECT max(id) FROM catalog_versions)) RETURNING id`, w.forde.ID).Scan(ctx, &w.template)
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// The new workplace's admin registers an arrival over HTTP: bad input is
// refused in Norwegian with what was typed kept; the move runs (worker); the
// old workplace's leder sees that Kari left and when, and nothing more;
// another RHF's admin gets 404 for the move; Kari reads it in Min utdanning.
func TestTransferIsolationRegisterOverHTTP(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, true)
	w := newMoveWorld(t, cfg)
	base := "/t/" + w.forde.Slug + "/arbeidsstedsbytte"

	admin := newBrowser(t, srv.URL)
	login(t, admin, w.adminEmail, w.adminPassword)
	status, _, page := admin.get(base)
	if status != http.StatusOK {
		t.Fatalf("%s: %d", base, status)
	}
	today := time.Now().In(time.UTC).Format("2006-01-02")
	csrf := csrfFrom(t, page)
	status, _, page = admin.post(base, url.Values{"_csrf": {csrf}, "who": {"123456789"}, "starts_on": {today}, "template": {w.template.String()}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(page, "Fant ingen lege med HPR-nummer 123456789") || !strings.Contains(page, `value="123456789"`) {
		t.Fatalf("unknown HPR number: %d\n%s", status, page)
	}
	status, where, page := admin.post(base, url.Values{"_csrf": {csrf}, "who": {w.kariEmail}, "starts_on": {today}, "template": {w.template.String()}})
	if status != http.StatusOK || !strings.HasPrefix(where, base+"/") {
		t.Fatalf("register: %d %s\n%s", status, where, page)
	}
	movePath := where
	id := strings.TrimPrefix(movePath, base+"/")
	testenv.WaitFor(t, 20*time.Second, "the move's sync job", func() bool {
		_, _, page = admin.get(movePath)
		return strings.Contains(page, `data-testid="report"`)
	})
	if !strings.Contains(page, "Gjennomført") || !strings.Contains(page, "Godkjente læringsmål som står som godkjent her: 1") {
		t.Fatalf("the move's page after the sync:\n%s", page)
	}

	// The old workplace's leder sees that Kari left, and when; not the plan
	// or the report.
	per := newBrowser(t, srv.URL)
	login(t, per, w.perEmail, w.perPassword)
	// Per is leder at Bergen; the list is for leder and tenant admin.
	status, _, page = per.get("/t/" + w.bergen.Slug + "/arbeidsstedsbytte")
	if status != http.StatusOK || !strings.Contains(page, `data-testid="left-row"`) || !strings.Contains(page, "Førde HF") {
		t.Fatalf("the old workplace's list: %d\n%s", status, page)
	}
	status, _, page = per.get("/t/" + w.bergen.Slug + "/arbeidsstedsbytte/" + id)
	if status != http.StatusOK || strings.Contains(page, "Ortopedi Førde") || strings.Contains(page, `data-testid="report"`) {
		t.Fatalf("the old workplace's view of the move: %d\n%s", status, page)
	}
	// Another RHF's admin: 404, in their own tenant and in Førde's.
	ous := newBrowser(t, srv.URL)
	login(t, ous, w.ousAdminEmail, w.ousAdminPassword)
	if status, _, _ := ous.get("/t/" + w.ous.Slug + "/arbeidsstedsbytte/" + id); status != http.StatusNotFound {
		t.Fatalf("another RHF's admin opened the move: %d", status)
	}
	if status, _, _ := ous.get(movePath); status != http.StatusNotFound && status != http.StatusForbidden {
		t.Fatalf("another tenant's admin in Førde's URL: %d", status)
	}
	// Kari: Min utdanning shows the move; Førde's goal list has her approval.
	kari := newBrowser(t, srv.URL)
	login(t, kari, w.kariEmail, w.kariPassword)
	_, _, page = kari.get("/min-utdanning")
	if !strings.Contains(page, `data-testid="history-move"`) || !strings.Contains(page, "Bergen HF → Førde HF") || !strings.Contains(page, `data-testid="history-carried"`) {
		t.Fatalf("Min utdanning after the move:\n%s", page)
	}
}
