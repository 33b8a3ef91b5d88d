package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/activities"
	"kportal/modules/apperr"
	"kportal/modules/goals"
	"kportal/modules/transfers/transferstest"
	"kportal/storage/testenv"
	"kportal/tenants"
)

// hdirWorld: Kari was LIS at Helse Bergen (Helse Vest), where Per approved
// KLS-001 (on a course Sune signed) and KLS-002; she moved to Oslo
// universitetssykehus (Helse Sør-Øst), which carried both, and Frida approved
// KLS-003 there. Stein is another LIS at Bergen. Hanne is Helsedirektoratet.
type hdirWorld struct {
	srvURL                    string
	bergen, ous               *tenants.Tenant
	kari, stein               uuid.UUID
	kariEmail, kariPassword   string
	steinEmail, steinPassword string
	hanneEmail, hannePassword string
	adminEmail, adminPassword string // Bergen's tenant admin, also a LIS there
	version                   string // the catalogue version's label
	hpr                       string // Kari's, typed
}

func newHdirWorld(t *testing.T) *hdirWorld {
	t.Helper()
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	db := testenv.Get(t).App
	ctx := context.Background()
	transferstest.RHF(t, "TV", "TS")
	w := &hdirWorld{srvURL: srv.URL}
	w.bergen = testenv.NewTenant(t, db, &tenants.Tenant{Name: "Helse Bergen HF", RHFCode: "TV"})
	w.ous = testenv.NewTenant(t, db, &tenants.Tenant{Name: "Oslo universitetssykehus HF", RHFCode: "TS"})
	w.kariEmail, w.kariPassword, w.kari = member(t, cfg, "Kari", w.bergen, "lis")
	w.steinEmail, w.steinPassword, w.stein = member(t, cfg, "Stein", w.bergen, "lis")
	var admin uuid.UUID
	w.adminEmail, w.adminPassword, admin = member(t, cfg, "Astrid", w.bergen, "tenant_admin")
	if err := tenants.AddMembership(ctx, db, w.bergen.ID, admin, "lis"); err != nil {
		t.Fatal(err)
	}
	_, _, per := member(t, cfg, "Per", w.bergen, "leder")
	_, _, sune := member(t, cfg, "Sune", w.bergen, "supervisor")
	_, _, frida := member(t, cfg, "Frida", w.ous, "leder")
	_, _, ole := member(t, cfg, "Ole", w.ous, "supervisor")
	w.hanneEmail, w.hannePassword = newUser(t, cfg, "Hanne")
	grantPlatform(t, cfg, w.hanneEmail, tenants.RoleHdir, "")

	version := goalCatalog(t, map[string]string{"KLS-001": "Kan ta opp sykehistorie", "KLS-002": "Kan skrive epikrise", "KLS-003": "Kan lede et team"})
	if err := db.NewRaw("SELECT label FROM catalog_versions WHERE id = ?", version).Scan(ctx, &w.version); err != nil {
		t.Fatal(err)
	}
	tplBergen := goalPlan(t, w.bergen, version, "LIS1 sykehus", "KLS-001", "KLS-002", "KLS-003")
	tplOUS := goalPlan(t, w.ous, version, "LIS1 OUS", "KLS-001", "KLS-002", "KLS-003")
	err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: w.bergen.ID}, func(ctx context.Context, tx bun.Tx) error {
		for _, lis := range []uuid.UUID{w.kari, w.stein} {
			for kind, p := range map[string]uuid.UUID{"leder": per, "supervisor": sune} {
				if err := tenants.SetRelation(ctx, tx, w.bergen.ID, lis, kind, p, tenants.Actor{Name: "test"}); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO plan_assignments (tenant_id, lis_id, template_id, version_id) VALUES (?, ?, ?, ?)", w.bergen.ID, lis, tplBergen, version); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	as, gs := activities.NewStore(db), goals.NewStore(db)
	today := time.Now().Format("2006-01-02")
	a, err := as.Create(ctx, w.bergen.ID, tenants.Actor{PersonID: w.kari, Name: "Kari"}, activities.Input{Kind: "course", Title: "Kurs i Bergen",
		DoneOn: today, GoalCodes: []string{"KLS-001"}, SupervisorID: sune.String()})
	if err != nil {
		t.Fatal(err)
	}
	if err := as.Decide(ctx, w.bergen.ID, tenants.Actor{PersonID: sune, Name: "Sune"}, activities.DecisionSigned, []activities.Decision{{ActivityID: a.ID}}); err != nil {
		t.Fatal(err)
	}
	approve := func(tn uuid.UUID, code string, approver, input uuid.UUID) {
		t.Helper()
		p, err := gs.SendGoal(ctx, tn, tenants.Actor{PersonID: w.kari, Name: "Kari"}, goals.Send{Code: code, CompletedOn: today, Approver: approver.String(),
			Inputs: []string{input.String()}})
		if err != nil {
			t.Fatalf("send %s: %v %v", code, err, apperr.FieldsOf(err))
		}
		if _, err := gs.Decide(ctx, tn, tenants.Actor{PersonID: approver, Name: "Leder"}, p.ID, goals.Decision{Outcome: goals.Approve, ConfirmMissing: true}); err != nil {
			t.Fatal(err)
		}
	}
	approve(w.bergen.ID, "KLS-001", per, sune)
	approve(w.bergen.ID, "KLS-002", per, sune)
	transferstest.Move(t, db, w.bergen, w.ous, w.kari, tplOUS, frida)
	if err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: w.ous.ID}, func(ctx context.Context, tx bun.Tx) error {
		return tenants.SetRelation(ctx, tx, w.ous.ID, w.kari, tenants.RelSupervisor, ole, tenants.Actor{Name: "test"})
	}); err != nil {
		t.Fatal(err)
	}
	approve(w.ous.ID, "KLS-003", frida, ole)
	// The move carried Bergen's two approvals into OUS's plan.
	var carried int
	if err := tenants.RecordTx(ctx, db, w.kari, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw("SELECT count(*) FROM goal_progress WHERE origin_id IS NOT NULL AND status = 'approved'").Scan(ctx, &carried)
	}); err != nil || carried != 2 {
		t.Fatalf("carried approvals: %d, %v", carried, err)
	}
	w.hpr = fmt.Sprintf("9%06d", rand.IntN(1000000))
	if _, err := db.ExecContext(ctx, "UPDATE people SET hpr_number = ? WHERE id = ?", w.hpr, w.kari); err != nil {
		t.Fatal(err)
	}
	return w
}

// reads counts the access log's rows about subject, as the subject sees them.
func reads(t *testing.T, subject uuid.UUID) int {
	t.Helper()
	var n int
	err := tenants.WithTenantTx(context.Background(), testenv.Get(t).App, tenants.Scope{PersonID: subject}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw("SELECT count(*) FROM access_log").Scan(ctx, &n)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

const hdirCase = "26/01234-3"

// Helsedirektoratet finds Kari, who moved across RHFs, by HPR number under a
// case number and reads her national record: every approved goal once, where
// it was approved, with catalogue version, approver, date and the frozen
// basis; the read is in Kari's log on Min utdanning with the case number.
func TestHdirReadsMovedLISOnce(t *testing.T) {
	w := newHdirWorld(t)
	hanne := newBrowser(t, w.srvURL)
	login(t, hanne, w.hanneEmail, w.hannePassword)
	if _, _, home := hanne.get("/"); !strings.Contains(home, `href="/hdir/lis"`) {
		t.Fatalf("Hanne's home does not lead to the LIS search:\n%s", home)
	}
	status, _, page := hanne.get("/hdir/lis?" + url.Values{"sak": {hdirCase}, "q": {w.hpr}}.Encode())
	if status != http.StatusOK || strings.Count(page, `data-testid="hdir-result"`) != 1 || !strings.Contains(page, "Kari") ||
		!strings.Contains(page, "Oslo universitetssykehus HF") {
		t.Fatalf("search by HPR: %d\n%s", status, page)
	}
	if reads(t, w.kari) != 0 {
		t.Fatal("a search wrote to the access log")
	}
	href := "/hdir/lis/" + w.kari.String() + "?" + url.Values{"sak": {hdirCase}}.Encode()
	if !strings.Contains(page, strings.ReplaceAll(href, "&", "&amp;")) && !strings.Contains(page, href) {
		t.Fatalf("no link to Kari's record %s:\n%s", href, page)
	}
	status, _, page = hanne.get(href)
	if status != http.StatusOK {
		t.Fatalf("record: %d\n%s", status, page)
	}
	for code, where := range map[string]string{"KLS-001": "ved Helse Bergen HF", "KLS-002": "ved Helse Bergen HF", "KLS-003": "ved Oslo universitetssykehus HF"} {
		if n := strings.Count(page, `data-code="`+code+`"`); n != 1 {
			t.Errorf("%s shown %d times, want once", code, n)
		}
		i := strings.Index(page, `data-code="`+code+`"`)
		if i < 0 || !strings.Contains(page[i:min(len(page), i+1500)], where) {
			t.Errorf("%s not shown %s", code, where)
		}
	}
	for _, s := range []string{"Kan ta opp sykehistorie", "Katalogversjon " + w.version, "godkjent av Per", "godkjent av Frida", time.Now().Format("2.1.2006"),
		"Godkjenningsgrunnlag", "Kurs i Bergen", "Sune", w.hpr, "skrevet inn av en administrator", hdirCase, "Helse Bergen HF → Oslo universitetssykehus HF",
		`data-testid="hdir-current">Oslo universitetssykehus HF<`} {
		if !strings.Contains(page, s) {
			t.Errorf("the record lacks %q", s)
		}
	}
	if t.Failed() {
		t.Fatalf("record page:\n%s", page)
	}
	if n := reads(t, w.kari); n != 1 {
		t.Fatalf("access log rows about Kari: %d, want 1", n)
	}

	kari := newBrowser(t, w.srvURL)
	login(t, kari, w.kariEmail, w.kariPassword)
	_, _, mine := kari.get("/min-utdanning")
	i := strings.Index(mine, `data-testid="history-reads"`)
	if i < 0 || strings.Count(mine, `data-testid="history-read"`) != 1 || !strings.Contains(mine[i:], "Hanne") ||
		!strings.Contains(mine[i:], "Helsedirektoratet") || !strings.Contains(mine[i:], hdirCase) || !strings.Contains(mine[i:], time.Now().Format("2.1.2006")) {
		t.Fatalf("Kari's log on Min utdanning:\n%s", mine)
	}
}

// No platform role: 404 on every Hdir page, and nothing read or logged.
// Without a good case number Hdir is refused (422) and nothing is read.
// Another LIS's log never shows the read.
func TestHdirIsolationPagesAndLog(t *testing.T) {
	w := newHdirWorld(t)
	record := "/hdir/lis/" + w.kari.String()
	withCase := url.Values{"sak": {hdirCase}, "q": {"Kari"}}.Encode()
	admin := newBrowser(t, w.srvURL)
	login(t, admin, w.adminEmail, w.adminPassword)
	for _, p := range []string{"/hdir/lis", "/hdir/lis?" + withCase, record, record + "?" + withCase, "/hdir/lis/" + uuid.NewString() + "?" + withCase} {
		if status, _, page := admin.get(p); status != http.StatusNotFound || strings.Contains(page, "Kan ta opp sykehistorie") {
			t.Errorf("a tenant admin and LIS without a platform role: %s answered %d", p, status)
		}
	}
	if _, _, home := admin.get("/"); strings.Contains(home, `href="/hdir/lis"`) {
		t.Error("the Hdir entry shows to a tenant user")
	}

	hanne := newBrowser(t, w.srvURL)
	login(t, hanne, w.hanneEmail, w.hannePassword)
	for _, p := range []string{"/hdir/lis?q=Kari", "/hdir/lis?sak=&q=" + w.hpr, "/hdir/lis?sak=%3Cx%3E&q=Kari", record, record + "?sak=ab", record + "?sak=" + url.QueryEscape("26/1 OR 1=1")} {
		status, _, page := hanne.get(p)
		if status != http.StatusUnprocessableEntity || !strings.Contains(page, `data-testid="error-sak"`) || !strings.Contains(page, "aksnummer") ||
			strings.Contains(page, `data-testid="hdir-result"`) || strings.Contains(page, "Kan ta opp sykehistorie") {
			t.Errorf("%s without a good case number: %d\n%s", p, status, page)
		}
	}
	// What was typed is shown again.
	if _, _, page := hanne.get("/hdir/lis?sak=ab&q=Kari"); !strings.Contains(page, `value="ab"`) || !strings.Contains(page, `value="Kari"`) {
		t.Errorf("the form lost what was typed:\n%s", page)
	}
	if n := reads(t, w.kari); n != 0 {
		t.Fatalf("refused requests wrote %d log rows", n)
	}
	// Unknown HPR and an empty search: clear answers.
	if status, _, page := hanne.get("/hdir/lis?" + url.Values{"sak": {hdirCase}, "q": {"1111111"}}.Encode()); status != http.StatusOK ||
		!strings.Contains(page, "Fant ingen lege med HPR-nummer 1111111") {
		t.Errorf("unknown HPR: %d\n%s", status, page)
	}
	if status, _, page := hanne.get("/hdir/lis?" + url.Values{"sak": {hdirCase}, "q": {""}}.Encode()); status != http.StatusUnprocessableEntity ||
		!strings.Contains(page, `data-testid="error-q"`) {
		t.Errorf("empty search: %d\n%s", status, page)
	}
	if status, _, _ := hanne.get("/hdir/lis/" + uuid.NewString() + "?sak=" + url.QueryEscape(hdirCase)); status != http.StatusNotFound {
		t.Errorf("an unknown person: %d", status)
	}

	if status, _, _ := hanne.get(record + "?sak=" + url.QueryEscape(hdirCase)); status != http.StatusOK {
		t.Fatalf("Hanne reads Kari: %d", status)
	}
	if reads(t, w.kari) != 1 || reads(t, w.stein) != 0 {
		t.Fatalf("log rows: Kari %d, Stein %d", reads(t, w.kari), reads(t, w.stein))
	}
	stein := newBrowser(t, w.srvURL)
	login(t, stein, w.steinEmail, w.steinPassword)
	if _, _, mine := stein.get("/min-utdanning"); !strings.Contains(mine, `data-testid="history-reads-none"`) || strings.Contains(mine, hdirCase) {
		t.Fatalf("Stein's Min utdanning shows Kari's read:\n%s", mine)
	}
	// Within a record transaction of Kari (as Hdir reads), her log is not
	// readable; as Stein, none of it.
	ctx := context.Background()
	db := testenv.Get(t).App
	for who, run := range map[string]func(fn func(ctx context.Context, tx bun.Tx) error) error{
		"Kari's record transaction": func(fn func(ctx context.Context, tx bun.Tx) error) error {
			return tenants.RecordTx(ctx, db, w.kari, fn)
		},
		"Stein": func(fn func(ctx context.Context, tx bun.Tx) error) error {
			return tenants.WithTenantTx(ctx, db, tenants.Scope{PersonID: w.stein}, fn)
		},
	} {
		var n int
		if err := run(func(ctx context.Context, tx bun.Tx) error {
			return tx.NewRaw("SELECT count(*) FROM access_log").Scan(ctx, &n)
		}); err != nil || n != 0 {
			t.Errorf("%s sees %d log rows (%v)", who, n, err)
		}
	}
}

// Hanne's journey in a desktop browser: from her home page to the search,
// the case number and Kari's HPR number, the one hit, Kari's record with the
// goals from both workplaces; then Kari sees the read on Min utdanning.
func TestHdirBrowserHanneJourney(t *testing.T) {
	w := newHdirWorld(t)
	ctx := chromium(t)
	err := stepwise(t, ctx, "hdir-hanne",
		steps{chromedp.EmulateViewport(1366, 900), chromedp.Navigate(w.srvURL + "/logg-inn")},
		loginSteps(w.hanneEmail, w.hannePassword),
		steps{chromedp.WaitVisible(chromedp.CSS(`[data-testid="user-name"]`)),
			chromedp.Click(chromedp.CSS(`#innhold a[href="/hdir/lis"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="hdir-search-form"]`)),
			chromedp.SendKeys(chromedp.CSS(`#q`), w.hpr),
			chromedp.Click(chromedp.CSS(`[data-testid="hdir-search"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="error-sak"]`)),
			chromedp.SendKeys(chromedp.CSS(`#sak`), hdirCase),
			chromedp.Click(chromedp.CSS(`[data-testid="hdir-search"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="hdir-result"] a`)),
			chromedp.Click(chromedp.CSS(`[data-testid="hdir-result"] a`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="hdir-goals"]`))},
	)
	if err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "hdir-record")
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#innhold`)))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"KLS-001", "KLS-002", "KLS-003", "Helse Bergen HF", "Oslo universitetssykehus HF", hdirCase, w.hpr} {
		if !strings.Contains(text, s) {
			t.Errorf("Kari's record in the browser lacks %q:\n%s", s, text)
		}
	}
	err = stepwise(t, ctx, "hdir-kari",
		logoutSteps,
		loginSteps(w.kariEmail, w.kariPassword),
		steps{chromedp.WaitVisible(chromedp.CSS(`[data-testid="user-name"]`)),
			chromedp.Navigate(w.srvURL + "/min-utdanning"),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="history-read"]`))},
	)
	if err != nil {
		t.Fatal(err)
	}
	if text, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid="history-reads"]`))); err != nil || !strings.Contains(text, hdirCase) || !strings.Contains(text, "Helsedirektoratet") {
		t.Fatalf("Kari's log: %q %v", text, err)
	}
}
