package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/accesslog"
	"kportal/modules/activities"
	"kportal/modules/api"
	"kportal/modules/goals"
	"kportal/modules/ratelimit"
	"kportal/modules/transfers/transferstest"
	"kportal/storage/testenv"
	"kportal/tenants"
)

// apiCall sends a GET to the API with key (none when "") and returns the
// status, the headers and the body.
func apiCall(t *testing.T, base, path, key string, header ...string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, resp.Header, []byte(b.String())
}

// apiError reads the {"error":{"code","message"}} shape; the test fails on any other.
func apiError(t *testing.T, body []byte) (code, message string) {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("not the error shape: %s", body)
	}
	return e.Error.Code, e.Error.Message
}

// newKey makes an API key as a platform admin would.
func newKey(t *testing.T, admin uuid.UUID, owner *tenants.Tenant, records, tenant bool) (string, uuid.UUID) {
	t.Helper()
	k, token, err := api.CreateKey(context.Background(), testenv.Get(t).App, api.Actor{ID: admin, Name: "Plattform"},
		api.NewKey{Name: "Nøkkel " + owner.Name, OwnerID: owner.ID.String(), Records: records, Tenant: tenant})
	if err != nil {
		t.Fatal(err)
	}
	return token, k.ID
}

func setHPR(t *testing.T, person uuid.UUID, hpr string) {
	t.Helper()
	if _, err := testenv.Get(t).Owner.ExecContext(context.Background(), "UPDATE people SET hpr_number = ? WHERE id = ?", hpr, person); err != nil {
		t.Fatal(err)
	}
}

// Helsedirektoratet's case system reads Kari's record by HPR number: she
// moved from Helse Bergen (Helse Vest) to Helse Nord, and the goal approved
// at Bergen, carried into her plan at Nord, is listed once, where it was
// approved, by whom and in which catalogue version; her course and
// procedure counts and both plans are there. The read is handed to the access
// log with the case number.
func TestHdirAPIReadsRecordOfLISWhoMoved(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	db := testenv.Get(t).App
	ctx := context.Background()
	transferstest.RHF(t, "AV", "AN")
	bergen := testenv.NewTenant(t, db, &tenants.Tenant{Name: "Helse Bergen HF", RHFCode: "AV"})
	nord := testenv.NewTenant(t, db, &tenants.Tenant{Name: "Helse Nord HF", RHFCode: "AN"})
	hdir := testenv.NewTenant(t, db, &tenants.Tenant{Name: "Helsedirektoratet", Kind: tenants.KindNational})
	_, _, kari := member(t, cfg, "Kari", bergen, "lis")
	_, _, per := member(t, cfg, "Per", bergen, "leder")
	_, _, sune := member(t, cfg, "Sune", bergen, "supervisor")
	_, _, frida := member(t, cfg, "Frida", nord, "leder")
	_, _, admin := member(t, cfg, "Plattform", hdir, "tenant_admin")
	setHPR(t, kari, "9123456")

	version := goalCatalog(t, map[string]string{"KLS-001": "Kan ta opp sykehistorie", "KLS-002": "Kan skrive epikrise"})
	tplBergen := goalPlan(t, bergen, version, "LIS1 sykehus Bergen", "KLS-001", "KLS-002")
	tplNord := goalPlan(t, nord, version, "LIS1 sykehus Nord", "KLS-001", "KLS-002")
	err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: bergen.ID}, func(ctx context.Context, tx bun.Tx) error {
		for kind, p := range map[string]uuid.UUID{"leder": per, "supervisor": sune} {
			if err := tenants.SetRelation(ctx, tx, bergen.ID, kari, kind, p, tenants.Actor{Name: "test"}); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO plan_assignments (tenant_id, lis_id, template_id, version_id) VALUES (?, ?, ?, ?)", bergen.ID, kari, tplBergen, version)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	as, gs := activities.NewStore(db), goals.NewStore(db)
	course, err := as.Create(ctx, bergen.ID, tenants.Actor{PersonID: kari, Name: "Kari"}, activities.Input{Kind: "course", Title: "Kurs i Bergen",
		DoneOn: time.Now().Format("2006-01-02"), GoalCodes: []string{"KLS-001"}, SupervisorID: sune.String()})
	if err != nil {
		t.Fatal(err)
	}
	if err := as.Decide(ctx, bergen.ID, tenants.Actor{PersonID: sune, Name: "Sune"}, activities.DecisionSigned, []activities.Decision{{ActivityID: course.ID}}); err != nil {
		t.Fatal(err)
	}
	p, err := gs.SendGoal(ctx, bergen.ID, tenants.Actor{PersonID: kari, Name: "Kari"}, goals.Send{Code: "KLS-002", CompletedOn: time.Now().Format("2006-01-02"),
		Approver: per.String(), Inputs: []string{sune.String()}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gs.Decide(ctx, bergen.ID, tenants.Actor{PersonID: per, Name: "Per"}, p.ID, goals.Decision{Outcome: goals.Approve, ConfirmMissing: true}); err != nil {
		t.Fatal(err)
	}
	transferstest.Move(t, db, bergen, nord, kari, tplNord, frida)
	var carried int
	if err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: nord.ID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw("SELECT count(*) FROM goal_progress WHERE lis_id = ? AND origin_id IS NOT NULL AND status = 'approved'", kari).Scan(ctx, &carried)
	}); err != nil || carried != 1 {
		t.Fatalf("the move carried %d approvals (%v), want 1", carried, err)
	}

	key, keyID := newKey(t, admin, hdir, true, false)
	status, _, body := apiCall(t, srv.URL, "/api/v1/records/9123456?case=2026%2F4711", key)
	if status != http.StatusOK {
		t.Fatalf("record: %d %s", status, body)
	}
	var rec api.Record
	if err := json.Unmarshal(body, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.HPR != "9123456" || rec.Case != "2026/4711" || !strings.Contains(rec.Name, "Kari") {
		t.Errorf("record header: %+v", rec)
	}
	if len(rec.ApprovedGoals) != 1 {
		t.Fatalf("approved goals %+v, want KLS-002 once", rec.ApprovedGoals)
	}
	g := rec.ApprovedGoals[0]
	if g.Code != "KLS-002" || g.Text == nil || *g.Text != "Kan skrive epikrise" || g.Workplace.Slug != bergen.Slug ||
		!strings.Contains(g.ApprovedBy, "Per") || g.ApprovedAt == nil || g.CatalogueVersion == "" {
		t.Errorf("approved goal: %+v", g)
	}
	plans := map[string]bool{}
	for _, pl := range rec.Plans {
		plans[pl.Workplace.Slug+" "+pl.Name+" "+map[bool]string{true: "ended", false: "current"}[pl.EndedAt != nil]] = true
	}
	if !plans[bergen.Slug+" LIS1 sykehus Bergen ended"] || !plans[nord.Slug+" LIS1 sykehus Nord current"] {
		t.Errorf("plans: %+v", rec.Plans)
	}
	if len(rec.Courses) != 1 || rec.Courses[0].Title != "Kurs i Bergen" || rec.Courses[0].Workplace.Slug != bergen.Slug || rec.Courses[0].Status != "signed" {
		t.Errorf("courses: %+v", rec.Courses)
	}
	// The read is in the log Kari reads, with the key and the case number.
	logged, err := accesslog.About(ctx, db, kari, 10)
	if err != nil || len(logged) != 1 || logged[0].APIKeyID == nil || *logged[0].APIKeyID != keyID || logged[0].CaseNumber != "2026/4711" || logged[0].ReaderOrg != hdir.Name {
		t.Errorf("access log: %+v %v, want one read of Kari's record by the key for case 2026/4711", logged, err)
	}

	// An unknown HPR number is 404 in the error shape, a malformed one 400.
	status, _, body = apiCall(t, srv.URL, "/api/v1/records/9999999?case=2026%2F4711", key)
	if code, _ := apiError(t, body); status != http.StatusNotFound || code != "not_found" {
		t.Errorf("unknown HPR: %d %s", status, body)
	}
	status, _, body = apiCall(t, srv.URL, "/api/v1/records/abc?case=2026%2F4711", key)
	if code, _ := apiError(t, body); status != http.StatusBadRequest || code != "invalid" {
		t.Errorf("malformed HPR: %d %s", status, body)
	}
}

// Keys are scoped: a tenant's HR key reads its own LIS and nothing else (not
// another tenant's, not a record); a records key cannot list a tenant; no
// key, an unknown key and a revoked key are 401; no case number is 400; all
// in the error shape. The platform admin makes and revokes keys on the page,
// the key shown once, and both are in the page's log.
func TestHdirIsolationAPIKeys(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	db := testenv.Get(t).App
	hfA := testenv.NewTenant(t, db, &tenants.Tenant{Name: "Helse A HF"})
	hfB := testenv.NewTenant(t, db, &tenants.Tenant{Name: "Helse B HF"})
	_, _, lisA := member(t, cfg, "Anne", hfA, "lis")
	_, _, lisB := member(t, cfg, "Berit", hfB, "lis")
	setHPR(t, lisB, "8123456")
	adminEmail, adminPassword := newUser(t, cfg, "Plattform")
	grantPlatform(t, cfg, adminEmail, tenants.RolePlatformAdmin, "")

	br := newBrowser(t, srv.URL)
	login(t, br, adminEmail, adminPassword)
	status, _, page := br.get("/plattform/api-nokler")
	if status != http.StatusOK {
		t.Fatalf("key page: %d", status)
	}
	// Bad input: the form again with the messages and what was typed.
	status, _, page = br.post("/plattform/api-nokler", url.Values{"_csrf": {csrfFrom(t, page)}, "name": {"HR-systemet"}, "owner": {""}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(page, "Velg virksomheten som eier nøkkelen.") ||
		!strings.Contains(page, "Velg minst én tilgang.") || !strings.Contains(page, `value="HR-systemet"`) {
		t.Fatalf("bad key form: %d\n%s", status, page)
	}
	status, _, page = br.post("/plattform/api-nokler", url.Values{"_csrf": {csrfFrom(t, page)}, "name": {"HR-systemet"}, "owner": {hfA.ID.String()}, "tenant": {"on"}})
	if status != http.StatusOK {
		t.Fatalf("create key: %d\n%s", status, page)
	}
	keyA := between(page, `<code data-testid="token">`, `</code>`)
	if !strings.HasPrefix(keyA, "kp_") {
		t.Fatalf("no key shown:\n%s", page)
	}
	if _, _, again := br.get("/plattform/api-nokler"); strings.Contains(again, keyA) || !strings.Contains(again, keyA[:11]) ||
		!strings.Contains(again, "tenant:"+hfA.Slug+":read") || !strings.Contains(again, "Nøkkel opprettet") {
		t.Fatalf("the list shows the key again, or not its prefix, scope and log:\n%s", again)
	}

	status, _, body := apiCall(t, srv.URL, "/api/v1/tenants/"+hfA.Slug+"/lis", keyA)
	if status != http.StatusOK || !strings.Contains(string(body), lisA.String()) || strings.Contains(string(body), lisB.String()) {
		t.Fatalf("own tenant's LIS: %d %s", status, body)
	}
	for _, tc := range []struct {
		path, key string
		status    int
		code      string
	}{
		{"/api/v1/tenants/" + hfB.Slug + "/lis", keyA, http.StatusForbidden, "forbidden"},
		{"/api/v1/tenants/finnes-ikke/lis", keyA, http.StatusForbidden, "forbidden"},
		{"/api/v1/records/8123456?case=2026%2F1", keyA, http.StatusForbidden, "forbidden"},
		{"/api/v1/tenants/" + hfA.Slug + "/lis", "", http.StatusUnauthorized, "unauthorized"},
		{"/api/v1/tenants/" + hfA.Slug + "/lis", "kp_" + strings.Repeat("x", 43), http.StatusUnauthorized, "unauthorized"},
	} {
		status, _, body := apiCall(t, srv.URL, tc.path, tc.key)
		if code, _ := apiError(t, body); status != tc.status || code != tc.code {
			t.Errorf("%s with key %.6s: %d %s, want %d %s", tc.path, tc.key, status, body, tc.status, tc.code)
		}
	}

	var admin uuid.UUID
	if err := db.NewRaw("SELECT person_id FROM platform_roles WHERE role = 'platform_admin' LIMIT 1").Scan(context.Background(), &admin); err != nil {
		t.Fatal(err)
	}
	keyR, _ := newKey(t, admin, hfB, true, false)
	status, _, body = apiCall(t, srv.URL, "/api/v1/records/8123456", keyR)
	if code, msg := apiError(t, body); status != http.StatusBadRequest || code != "invalid" || !strings.Contains(msg, "saksnummer") {
		t.Errorf("no case: %d %s", status, body)
	}
	status, _, body = apiCall(t, srv.URL, "/api/v1/tenants/"+hfB.Slug+"/lis", keyR)
	if code, _ := apiError(t, body); status != http.StatusForbidden || code != "forbidden" {
		t.Errorf("records key on a tenant list: %d %s", status, body)
	}

	// Revoked on the page: 401 at once, and the log says who did it.
	status, _, page = br.get("/plattform/api-nokler")
	if status != http.StatusOK {
		t.Fatal(status)
	}
	var id string
	for _, k := range mustKeys(t) {
		if strings.HasPrefix(keyA, k.Prefix) {
			id = k.ID.String()
		}
	}
	if status, _, _ := br.post("/plattform/api-nokler/"+id+"/trekk-tilbake", url.Values{"_csrf": {csrfFrom(t, page)}}); status != http.StatusOK && status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", status)
	}
	status, _, body = apiCall(t, srv.URL, "/api/v1/tenants/"+hfA.Slug+"/lis", keyA)
	if code, _ := apiError(t, body); status != http.StatusUnauthorized || code != "unauthorized" {
		t.Errorf("revoked key: %d %s", status, body)
	}
	if _, _, again := br.get("/plattform/api-nokler"); !strings.Contains(again, "Nøkkel trukket tilbake") || !strings.Contains(again, "Trukket tilbake") {
		t.Errorf("the page does not show the revocation:\n%s", again)
	}
}

func mustKeys(t *testing.T) []api.Key {
	t.Helper()
	ks, err := api.Keys(context.Background(), testenv.Get(t).App)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// between is the text of s between the first from and the to after it.
func between(s, from, to string) string {
	_, after, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(after, to)
	return v
}

// A tenant's LIS list pages with an opaque cursor bound to its query (one
// from another query is 400), answers 304 to its ETag, and a key past its
// rate limit gets 429 with Retry-After.
func TestHdirIsolationAPITenantListCursorETagRateLimit(t *testing.T) {
	cfg := testConfig(t)
	cfg.Limits[ratelimit.APIKey] = ratelimit.Limit{N: 12, Per: time.Hour}
	_, srv := startApp(t, cfg, false)
	db := testenv.Get(t).App
	hf := testenv.NewTenant(t, db, &tenants.Tenant{Name: "Helse Liste HF"})
	want := map[string]bool{}
	for range 3 {
		_, _, lis := member(t, cfg, "Liv", hf, "lis")
		want[lis.String()] = true
	}
	_, _, admin := member(t, cfg, "Admin", hf, "tenant_admin")
	key, _ := newKey(t, admin, hf, false, true)

	base := "/api/v1/tenants/" + hf.Slug + "/lis"
	status, h, body := apiCall(t, srv.URL, base+"?limit=2", key)
	var p1 api.LISPage
	if status != http.StatusOK || json.Unmarshal(body, &p1) != nil || len(p1.Items) != 2 || p1.Next == nil || !strings.Contains(h.Get("Link"), `rel="next"`) {
		t.Fatalf("page 1: %d %s", status, body)
	}
	status, _, body = apiCall(t, srv.URL, *p1.Next, key)
	var p2 api.LISPage
	if status != http.StatusOK || json.Unmarshal(body, &p2) != nil || len(p2.Items) != 1 || p2.Next != nil {
		t.Fatalf("page 2: %d %s", status, body)
	}
	for _, it := range append(p1.Items, p2.Items...) {
		delete(want, it.ID.String())
	}
	if len(want) != 0 {
		t.Errorf("LIS not listed: %v", want)
	}
	// The same cursor with another limit is another query.
	cursor := strings.SplitN(*p1.Next, "cursor=", 2)[1]
	status, _, body = apiCall(t, srv.URL, base+"?limit=3&cursor="+cursor, key)
	if code, msg := apiError(t, body); status != http.StatusBadRequest || code != "invalid" || !strings.Contains(msg, "annen forespørsel") {
		t.Errorf("cursor from another query: %d %s", status, body)
	}
	status, _, body = apiCall(t, srv.URL, base+"?cursor=tull", key)
	if code, _ := apiError(t, body); status != http.StatusBadRequest || code != "invalid" {
		t.Errorf("nonsense cursor: %d %s", status, body)
	}

	etag := h.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if status, _, body := apiCall(t, srv.URL, base+"?limit=2", key, "If-None-Match", etag); status != http.StatusNotModified || len(body) != 0 {
		t.Errorf("If-None-Match with the ETag: %d %s", status, body)
	}
	if status, _, _ := apiCall(t, srv.URL, base+"?limit=2", key, "If-None-Match", `"annen"`); status != http.StatusOK {
		t.Errorf("If-None-Match with another ETag: %d", status)
	}

	var last int
	var h429 http.Header
	for range 12 {
		if last, h429, body = apiCall(t, srv.URL, base, key); last == http.StatusTooManyRequests {
			break
		}
	}
	if code, _ := apiError(t, body); last != http.StatusTooManyRequests || code != "rate_limited" || h429.Get("Retry-After") == "" {
		t.Errorf("past the limit: %d %s", last, body)
	}
}
