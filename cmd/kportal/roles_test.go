package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/storage/testenv"
	"kportal/tenants"
)

// rolesOf reads a person's roles in a tenant straight from the database.
func rolesOf(t *testing.T, tn *tenants.Tenant, person uuid.UUID) []string {
	t.Helper()
	var roles []string
	err := tenants.WithTenantTx(context.Background(), testenv.Get(t).App, tenants.Scope{TenantID: tn.ID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewSelect().Table("memberships").Column("role").Where("tenant_id = ? AND person_id = ?", tn.ID, person).Order("role").Scan(ctx, &roles)
	})
	if err != nil {
		t.Fatal(err)
	}
	return roles
}

func rolesRandomHPR() string { return fmt.Sprintf("%d", 10000000+uuid.New().ID()%89999999) }

// A tenant administrator adds a person with roles, is told about a clashing
// HPR number, changes the person's roles, and sees it all in the log; a LIS
// of the same tenant gets 403 and no menu entry.
func TestRolesAddPersonAndChangeRoles(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	tn := testTenant(t, "Helse Roller HF", tenants.KindHF)
	adminEmail, adminPass, _ := member(t, cfg, "Astrid", tn, "tenant_admin")
	admin := newBrowser(t, srv.URL)
	login(t, admin, adminEmail, adminPass)
	base := "/t/" + tn.Slug + "/admin/personer"

	status, _, page := admin.get(base)
	if status != 200 || !strings.Contains(page, `href="`+base+`"`) || !strings.Contains(page, `href="/t/`+tn.Slug+`/admin/logg"`) || !strings.Contains(page, adminEmail) {
		t.Fatalf("people page: %d\n%s", status, page)
	}
	_, _, form := admin.get(base + "/ny")
	newEmail, hpr := testenv.UniqueEmail("Nils"), rolesRandomHPR()
	status, where, page := admin.submit(form, "add", url.Values{"email": {newEmail}, "given_name": {"Nils"}, "family_name": {"Moe"}, "hpr": {hpr}, "roles": {"lis", "supervisor"}})
	if status != 200 || !strings.HasPrefix(where, base+"/") || !strings.Contains(where, "lagret=ny") ||
		!strings.Contains(page, "Personen er lagt til") || !strings.Contains(page, "LIS, Supervisør") || !strings.Contains(page, hpr) {
		t.Fatalf("add: %d at %s\n%s", status, where, page)
	}
	personPage := strings.SplitN(where, "?", 2)[0]
	person := uuid.MustParse(strings.TrimPrefix(personPage, base+"/"))
	if got := rolesOf(t, tn, person); !slices.Equal(got, []string{"lis", "supervisor"}) {
		t.Fatalf("roles in the database: %v", got)
	}

	t.Run("bad input gets messages on the fields and saves nothing", func(t *testing.T) {
		other := testenv.UniqueEmail("Olga")
		status, _, page := admin.submit(form, "add", url.Values{"email": {other}, "given_name": {"Olga"}, "family_name": {"Berg"}, "hpr": {hpr}, "roles": {"leder"}})
		if status != http.StatusUnprocessableEntity || !strings.Contains(page, "HPR-nummeret "+hpr+" er allerede registrert på en annen person") {
			t.Fatalf("HPR clash: %d\n%s", status, page)
		}
		status, _, page = admin.submit(form, "add", url.Values{"email": {"ikke-epost"}, "given_name": {"Olga"}, "family_name": {"Berg"}})
		if status != http.StatusUnprocessableEntity || !strings.Contains(page, "er ikke en gyldig e-postadresse") || !strings.Contains(page, "Mangler rolle") {
			t.Fatalf("bad e-mail and no role: %d\n%s", status, page)
		}
		if _, _, list := admin.get(base + "?q=Olga"); !strings.Contains(list, `data-testid="no-match"`) {
			t.Fatalf("a refused person was saved:\n%s", list)
		}
	})

	_, _, lederP := member(t, cfg, "Lars", tn, "leder")
	_, _, supP := member(t, cfg, "Siv", tn, "supervisor")
	_, _, page = admin.get(personPage)
	status, _, page = admin.submit(page, "leaders", url.Values{"leder": {lederP.String()}})
	if status != 200 || !strings.Contains(page, `<dd data-testid="leder">Lars Testesen</dd>`) || !strings.Contains(page, `<option value="`+lederP.String()+`" selected>`) {
		t.Fatalf("set leder: %d\n%s", status, page)
	}
	status, _, page = admin.submit(page, "leaders", url.Values{"veileder": {supP.String()}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(page, "Velg en person som har rollen veileder") {
		t.Fatalf("a supervisor as veileder: %d\n%s", status, page)
	}
	status, _, page = admin.submit(page, "supervisor", url.Values{"supervisor": {supP.String()}})
	if status != 200 || !strings.Contains(page, `<dd data-testid="supervisors">Siv Testesen</dd>`) {
		t.Fatalf("add supervisor: %d\n%s", status, page)
	}
	status, _, page = admin.submit(page, "specialties", url.Values{"lis_specialties": {"ane ped"}})
	if status != 200 || !strings.Contains(page, `<dd data-testid="lis-specialties">ANE, PED</dd>`) {
		t.Fatalf("specialties: %d\n%s", status, page)
	}
	status, _, page = admin.submit(page, "roles", url.Values{"roles": {"leder", "uao"}})
	if status != 200 || !strings.Contains(page, "Endringen er lagret") || !strings.Contains(page, `<dd data-testid="roles">Leder, Utdanningsansvarlig overlege</dd>`) {
		t.Fatalf("change roles: %d\n%s", status, page)
	}
	if got := rolesOf(t, tn, person); !slices.Equal(got, []string{"leder", "uao"}) {
		t.Fatalf("roles in the database after the change: %v", got)
	}
	if _, _, list := admin.get(base + "?q=nils+moe"); !strings.Contains(list, newEmail) || strings.Contains(list, adminEmail) {
		t.Fatalf("search:\n%s", list)
	}
	status, _, logPage := admin.get("/t/" + tn.Slug + "/admin/logg")
	for _, want := range []string{"Rolle gitt", "Rolle fjernet", "Personopplysninger endret", "Nils Moe", "Utdanningsansvarlig overlege", "HPR-nummer satt til " + hpr,
		"Astrid Testesen", "Relasjon lagt til", "Leder for LIS Nils Moe", "Spesialiteter som LIS: ANE, PED"} {
		if status != 200 || !strings.Contains(logPage, want) {
			t.Fatalf("log lacks %q: %d\n%s", want, status, logPage)
		}
	}
	resp, err := admin.c.Get(srv.URL + base + "/import/mal.csv")
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") || !strings.HasPrefix(body, "\ufeffepost;fornavn;etternavn;hpr;roller") {
		t.Fatalf("template: %d %q\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}

	t.Run("a LIS of the tenant may not", func(t *testing.T) {
		lisEmail, lisPass, _ := member(t, cfg, "Lise", tn, "lis")
		lis := newBrowser(t, srv.URL)
		home := login(t, lis, lisEmail, lisPass)
		token := csrfFrom(t, home)
		for _, path := range []string{base, personPage, base + "/ny", base + "/import", "/t/" + tn.Slug + "/admin/logg"} {
			if status, _, _ := lis.get(path); status != http.StatusForbidden {
				t.Errorf("GET %s: %d, want 403", path, status)
			}
		}
		if status, _, _ := lis.post(personPage+"/roller", url.Values{"_csrf": {token}, "roles": {"tenant_admin"}}); status != http.StatusForbidden {
			t.Errorf("POST roles: %d, want 403", status)
		}
		if got := rolesOf(t, tn, person); !slices.Equal(got, []string{"leder", "uao"}) {
			t.Errorf("a LIS changed roles: %v", got)
		}
		if _, _, page := lis.get("/t/" + tn.Slug + "/"); strings.Contains(page, "/admin/personer") || strings.Contains(page, "/admin/logg") {
			t.Errorf("a LIS sees the admin menu entries")
		}
	})
}

// Tenant B's administrator gets 404 for tenant A's person, through B's URL
// and A's; posting A's person id to B's URL changes nothing in A; B's log
// shows nothing of A.
func TestIsolationRolesAdminPages(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	a, b := testTenant(t, "Helse A HF", tenants.KindHF), testTenant(t, "Helse B HF", tenants.KindHF)
	adminAEmail, adminAPass, _ := member(t, cfg, "Anders", a, "tenant_admin")
	adminBEmail, adminBPass, _ := member(t, cfg, "Bodil", b, "tenant_admin")
	lisEmail, _, lisA := member(t, cfg, "Isolde", a, "lis")

	// A's admin gives A's LIS a role, so A's log has an entry about her.
	adminA := newBrowser(t, srv.URL)
	login(t, adminA, adminAEmail, adminAPass)
	pageA := "/t/" + a.Slug + "/admin/personer/" + lisA.String()
	_, _, page := adminA.get(pageA)
	if status, _, page := adminA.submit(page, "roles", url.Values{"roles": {"lis", "supervisor"}}); status != 200 {
		t.Fatalf("A's admin: %d\n%s", status, page)
	}
	if _, _, log := adminA.get("/t/" + a.Slug + "/admin/logg"); !strings.Contains(log, "Isolde Testesen") {
		t.Fatalf("A's log lacks A's change:\n%s", log)
	}

	adminB := newBrowser(t, srv.URL)
	home := login(t, adminB, adminBEmail, adminBPass)
	token := csrfFrom(t, home)
	viaB := "/t/" + b.Slug + "/admin/personer/" + lisA.String()
	for _, path := range []string{viaB, pageA, "/t/" + a.Slug + "/admin/personer", "/t/" + a.Slug + "/admin/logg"} {
		if status, _, _ := adminB.get(path); status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, status)
		}
	}
	for _, path := range []string{viaB + "/roller", pageA + "/roller"} {
		if status, _, _ := adminB.post(path, url.Values{"_csrf": {token}, "roles": {"tenant_admin"}}); status != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", path, status)
		}
	}
	if status, _, _ := adminB.post(viaB+"/hpr", url.Values{"_csrf": {token}, "hpr": {rolesRandomHPR()}}); status != http.StatusNotFound {
		t.Errorf("POST hpr via B: %d, want 404", status)
	}
	if got := rolesOf(t, a, lisA); !slices.Equal(got, []string{"lis", "supervisor"}) {
		t.Errorf("A's person's roles changed: %v", got)
	}
	if got := rolesOf(t, b, lisA); len(got) != 0 {
		t.Errorf("A's person got roles in B: %v", got)
	}
	_, _, list := adminB.get("/t/" + b.Slug + "/admin/personer")
	_, _, log := adminB.get("/t/" + b.Slug + "/admin/logg")
	for _, leak := range []string{lisEmail, "Isolde", lisA.String(), adminAEmail, "Anders"} {
		if strings.Contains(list, leak) || strings.Contains(log, leak) {
			t.Errorf("B's pages show %q of A", leak)
		}
	}
}

// The administrator uploads a CSV file (Norwegian Excel: semicolons, BOM) in
// a phone-sized browser and sees the people; a file with a bad line shows
// that line's message and imports nothing.
func TestRolesBrowserCSVImport(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	tn := testTenant(t, "Helse Import HF", tenants.KindHF)
	adminEmail, adminPass, _ := member(t, cfg, "Ada", tn, "tenant_admin")
	leder, vei, lis := testenv.UniqueEmail("leder"), testenv.UniqueEmail("veileder"), testenv.UniqueEmail("lis")
	dir := t.TempDir()
	good := filepath.Join(dir, "personer.csv")
	if err := os.WriteFile(good, []byte("\ufeffepost;fornavn;etternavn;hpr;roller;leder_epost;veileder_epost\r\n"+
		leder+";Per;Johansen;;leder;;\r\n"+
		vei+";Ingrid;Berg;;veileder,supervisor;;\r\n"+
		lis+";Kari;Nordmann;"+rolesRandomHPR()+";lis;"+leder+";"+vei+"\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stray := testenv.UniqueEmail("stray")
	bad := filepath.Join(dir, "feil.csv")
	if err := os.WriteFile(bad, []byte("epost,fornavn,etternavn,roller\n"+stray+",Sven,Stray,lis\n"+testenv.UniqueEmail("x")+",Xena,X,sjef\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := srv.URL + "/t/" + tn.Slug + "/admin/personer"

	ctx := chromium(t)
	step := func(name string, err error) {
		t.Helper()
		if err != nil {
			screenshot(t, ctx, "roles-"+name)
			t.Fatalf("%s: %v", name, err)
		}
	}
	step("login", browserLogin(ctx, srv.URL, adminEmail, adminPass))
	step("upload", chromedp.Do(ctx,
		chromedp.Navigate(base+"/import"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="import-form"]`)),
		chromedp.SetUploadFiles(chromedp.CSS(`#fil`), []string{good}),
		chromedp.Click(chromedp.CSS(`[data-testid="import-form"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="import-done"]`)),
	))
	done, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid="import-done"]`)))
	step("summary", err)
	people, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid="people"]`)))
	step("people", err)
	if !strings.Contains(done, "3 nye personer") || !strings.Contains(done, "4 roller gitt") {
		step("summary", fmt.Errorf("summary %q", done))
	}
	for _, want := range []string{leder, vei, lis, "Kari Nordmann", "Leder: Per Johansen", "Veileder: Ingrid Berg"} {
		if !strings.Contains(people, want) {
			step("people", fmt.Errorf("list lacks %q:\n%s", want, people))
		}
	}
	screenshot(t, ctx, "roles-import-done")

	step("bad file", chromedp.Do(ctx,
		chromedp.Navigate(base+"/import"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="import-form"]`)),
		chromedp.SetUploadFiles(chromedp.CSS(`#fil`), []string{bad}),
		chromedp.Click(chromedp.CSS(`[data-testid="import-form"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="import-problems"]`)),
	))
	problems, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid="import-problems"]`)))
	step("problems", err)
	if !strings.Contains(problems, "Linje 3: Ukjent rolle «sjef»") || !strings.Contains(problems, "Ingenting er importert") {
		step("problems", fmt.Errorf("problems %q", problems))
	}
	screenshot(t, ctx, "roles-import-problems")
	step("list after the bad file", chromedp.Do(ctx, chromedp.Navigate(base+"?q="+url.QueryEscape(stray)), chromedp.WaitVisible(chromedp.CSS(`[data-testid="no-match"]`))))
}

// Every change an administrator posts for a person id outside their tenant
// is a 404, like every other foreign id, and changes nothing on either side.
func TestSecurityForeignPersonIsNotFound(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	mine, theirs := testTenant(t, "Helse Egen HF", tenants.KindHF), testTenant(t, "Helse Fremmed HF", tenants.KindHF)
	adminEmail, adminPass, _ := member(t, cfg, "Astrid", mine, "tenant_admin")
	_, _, foreign := member(t, cfg, "Frida", theirs, "lis")
	_, _, sup := member(t, cfg, "Sondre", mine, "supervisor")
	admin := newBrowser(t, srv.URL)
	login(t, admin, adminEmail, adminPass)
	_, _, page := admin.get("/t/" + mine.Slug + "/admin/personer")
	token := csrfFrom(t, page)
	noRedirect := *admin.c
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	for _, who := range []uuid.UUID{foreign, uuid.New()} { // another tenant's person, and nobody
		base := fmt.Sprintf("/t/%s/admin/personer/%s", mine.Slug, who)
		for _, post := range []struct {
			path string
			form url.Values
		}{
			{"/roller", url.Values{"roles": {"lis", "tenant_admin"}}},
			{"/roller", url.Values{}}, // no roles at all
			{"/hpr", url.Values{"hpr": {rolesRandomHPR()}}},
			{"/leder", url.Values{"leder": {sup.String()}}},
			{"/supervisorer", url.Values{"supervisor": {sup.String()}}},
			{"/supervisorer/" + sup.String() + "/fjern", url.Values{}},
			{"/spesialiteter", url.Values{"lis_specialties": {"ORT"}}},
		} {
			post.form.Set("_csrf", token)
			resp, err := noRedirect.PostForm(srv.URL+base+post.path, post.form)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("POST %s %v for a person not in the tenant: %d, want 404", post.path, post.form, resp.StatusCode)
			}
		}
	}
	if got := rolesOf(t, mine, foreign); len(got) != 0 {
		t.Fatalf("the foreign person got roles here: %v", got)
	}
	if got := rolesOf(t, theirs, foreign); !slices.Equal(got, []string{"lis"}) {
		t.Fatalf("the foreign person's roles at home changed: %v", got)
	}
}
