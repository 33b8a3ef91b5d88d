package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/goals"
	"kportal/modules/history/historytest"
	"kportal/modules/identity"
	"kportal/modules/pdfdoc/pdftext"
	"kportal/storage/testenv"
	"kportal/tenants"
)

// dossierWorld: Áile Ŋuoŧŧu Čđž, LIS at a hospital and a kommune, with a
// record in each and one goal approved through kportal (a link in her chain).
type dossierWorld struct {
	tn, kom         *tenants.Tenant
	email, password string
	lis, leder      uuid.UUID
	goal            uuid.UUID
	a, b            historytest.Record
}

func dossierSetup(t *testing.T, cfg *config) *dossierWorld {
	t.Helper()
	ctx := context.Background()
	db := testenv.Get(t).App
	w := &dossierWorld{tn: testTenant(t, "Dossier HF", tenants.KindHF), kom: testTenant(t, "Dossier kommune", tenants.KindKommune)}
	w.email, w.password = testenv.UniqueEmail("aile"), "riktig-hest-batteri-9"
	if _, err := identity.NewKratos(cfg.KratosPublic, cfg.KratosAdmin).EnsureIdentity(ctx, w.email, "Áile", "Ŋuoŧŧu Čđž", w.password); err != nil {
		t.Fatal(err)
	}
	w.lis = personFor(t, cfg, w.email)
	if err := tenants.AddMembership(ctx, db, w.tn.ID, w.lis, "lis"); err != nil {
		t.Fatal(err)
	}
	_, _, w.leder = member(t, cfg, "Per", w.tn, "leder")
	_, _, sup := member(t, cfg, "Ola", w.tn, "supervisor")
	w.a = historytest.Write(t, db, w.tn.ID, w.lis, w.leder, sup, "DOSHF")
	w.b = historytest.Write(t, db, w.kom.ID, w.lis, w.leder, sup, "DOSKOM")
	err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: w.tn.ID}, func(ctx context.Context, tx bun.Tx) error {
		if err := tenants.SetRelation(ctx, tx, w.tn.ID, w.lis, tenants.RelLeder, w.leder, tenants.Actor{Name: "test"}); err != nil {
			return err
		}
		return tx.NewRaw(`INSERT INTO goal_progress (tenant_id, lis_id, goal_code, version_id, status, completed_on, sent_to, sent_at)
			VALUES (?, ?, 'KLS-777', (SELECT max(id) FROM catalog_versions), 'sent', current_date, ?, now()) RETURNING id`, w.tn.ID, w.lis, w.leder).Scan(ctx, &w.goal)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := goals.NewStore(db).Decide(ctx, w.tn.ID, tenants.Actor{PersonID: w.leder, Name: "Per"}, w.goal, goals.Decision{Outcome: goals.Approve, ConfirmMissing: true}); err != nil {
		t.Fatal(err)
	}
	return w
}

// The LIS downloads her dossier from Min utdanning in Chromium: a PDF whose
// text holds her name with its Sámi letters, the goals from both workplaces
// and the chain's code.
func TestDossierPDFBrowserDownload(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	w := dossierSetup(t, cfg)
	ctx := chromium(t)
	err := stepwise(t, ctx, "dossier",
		steps{chromedp.Navigate(srv.URL + "/logg-inn")},
		loginSteps(w.email, w.password),
		steps{chromedp.WaitVisible(chromedp.CSS(`[data-testid="user-name"]`))},
		steps{chromedp.Click(chromedp.CSS(`nav.kp-nav a[href="/min-utdanning"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="dossier-pdf"]`))},
	)
	if err != nil {
		t.Fatal(err)
	}
	// What the link downloads, fetched by the page with the browser's session.
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch(document.querySelector('[data-testid="dossier-pdf"]').href)
		.then(r => r.arrayBuffer().then(b => r.status + " " + r.headers.get("content-type") + " " +
			btoa(Array.from(new Uint8Array(b), c => String.fromCharCode(c)).join(""))))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.SplitN(got, " ", 3)
	if len(parts) != 3 || parts[0] != "200" || parts[1] != "application/pdf" {
		t.Fatalf("download: %.200s", got)
	}
	pdf, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	text, err := pdftext.Text(pdf)
	if err != nil {
		t.Fatal(err)
	}
	flat := strings.Join(strings.Fields(text), " ")
	for _, want := range []string{"Áile Ŋuoŧŧu Čđž", w.a.Goal, w.b.Goal, "KLS-777", "Dossier HF", "Dossier kommune", "Kontrollkode"} {
		if !strings.Contains(flat, want) {
			t.Errorf("the downloaded PDF lacks %q:\n%s", want, text)
		}
	}
}

// The code printed in the dossier checks out at /verifiser without a login;
// a signed row changed in the database behind kportal's back makes it
// invalid. The page shows no personal data either way.
func TestTamperDetectedOnVerifyPage(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	w := dossierSetup(t, cfg)
	b := newBrowser(t, srv.URL)
	login(t, b, w.email, w.password)
	status, _, body := b.get("/min-utdanning/dossier.json")
	var d struct {
		Name  string
		Chain struct{ Code string }
	}
	if status != 200 || json.Unmarshal([]byte(body), &d) != nil || d.Name != "Áile Ŋuoŧŧu Čđž" || d.Chain.Code == "" {
		t.Fatalf("dossier JSON: %d %s", status, body)
	}
	anon := newBrowser(t, srv.URL)
	check := func(want string, wantStatus int) {
		t.Helper()
		status, _, page := anon.get("/verifiser/" + d.Chain.Code)
		if status != wantStatus || !strings.Contains(page, `data-testid="`+want+`"`) {
			t.Fatalf("verify: %d, want %s:\n%s", status, want, page)
		}
		for _, private := range []string{"Áile", "Ŋuoŧŧu", "KLS-777", w.tn.Name} {
			if strings.Contains(page, private) {
				t.Fatalf("the verification page shows %q", private)
			}
		}
	}
	check("verify-valid", http.StatusOK)

	// Someone with the database changes the approved goal's basis.
	ctx := context.Background()
	err := testenv.Get(t).Owner.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, "ALTER TABLE goal_progress NO FORCE ROW LEVEL SECURITY"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE goal_progress SET basis = basis || '{"extra": "endret"}' WHERE id = ?`, w.goal); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "ALTER TABLE goal_progress FORCE ROW LEVEL SECURITY")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	check("verify-invalid", http.StatusOK)

	if status, _, page := anon.get("/verifiser/0000-0000-0000-0000"); status != http.StatusNotFound || !strings.Contains(page, `data-testid="verify-unknown"`) {
		t.Fatalf("an unknown code: %d\n%s", status, page)
	}
	if status, _, page := anon.get("/verifiser/ikke-en-kode"); status != http.StatusNotFound || !strings.Contains(page, "Koden har 16 tegn") || !strings.Contains(page, "ikke-en-kode") {
		t.Fatalf("a malformed code: %d\n%s", status, page)
	}
	if status, where, _ := anon.get("/verifiser?kode=" + strings.ToLower(d.Chain.Code)); status != 200 || !strings.HasPrefix(where, "/verifiser/") {
		t.Fatalf("the form: %d at %s", status, where)
	}
}
