package main

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"

	"kportal/storage/testenv"
	"kportal/tenants"
)

// catUpload posts files to the catalogue's upload form, as a browser would.
func catUpload(t *testing.T, b *browser, csrf, label string, files map[string]string) (int, string, string) {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	_ = w.WriteField("_csrf", csrf)
	_ = w.WriteField("label", label)
	for name, content := range files {
		f, _ := w.CreateFormFile("files", name)
		_, _ = io.WriteString(f, content)
	}
	_ = w.Close()
	req, _ := http.NewRequest(http.MethodPost, b.base+"/katalog?_csrf="+url.QueryEscape(csrf), &body) // as the form sends it: never looked for in a multipart body
	req.Header.Set("Content-Type", w.FormDataContentType())
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Request.URL.RequestURI(), string(out)
}

var catVersionRe = regexp.MustCompile(`^/katalog/(\d+)$`)

// Helsedirektoratet uploads goals, sees bad rows, marks a changed goal
// stricter and publishes; nobody else reaches the catalogue.
func TestCatalogUploadAssessPublish(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	email, password := newUser(t, cfg, "Hanne")
	grantPlatform(t, cfg, email, tenants.RoleHdir, "")
	b := newBrowser(t, srv.URL)
	login(t, b, email, password)
	status, _, page := b.get("/katalog")
	if status != 200 || !strings.Contains(page, "code,text,plan,part,competence_area,valid_from,valid_to") {
		t.Fatalf("catalogue page: %d\n%s", status, page)
	}
	csrf := csrfFrom(t, page)
	p := "H" + strings.ToUpper(uuid.NewString()[:4])
	head := "code,text,plan,part,competence_area,valid_from,valid_to\n"
	// The goals' plan is the test's own code, so later tests that pick goals
	// by plan (KLK, ORT, …) from the latest version do not see them.

	// Bad rows: every one listed with file and line; nothing imported.
	status, _, page = catUpload(t, b, csrf, p+"-bad", map[string]string{"mine-maal.csv": head + p + "-1,Tekst,KLK,del1,,,\nfeil kode,Tekst,KLK,,,,\n" + p + "-3,Tekst,,,,,\n"})
	if status != http.StatusUnprocessableEntity || !strings.Contains(page, "goals-mine-maal.csv linje 3: målkoden") || !strings.Contains(page, "goals-mine-maal.csv linje 4: plan mangler") {
		t.Fatalf("bad upload: %d\n%s", status, page)
	}
	var n int
	_ = testenv.Get(t).App.NewRaw("SELECT count(*) FROM catalog_versions WHERE label = ?", p+"-bad").Scan(context.Background(), &n)
	if n != 0 {
		t.Fatal("a version was made from bad rows")
	}

	// A first version, published.
	status, where, page := catUpload(t, b, csrf, p+"-1", map[string]string{"goals.csv": head + p + "-1,Første tekst," + p + ",del1,,2020-03-01,\n" + p + "-2,," + p + ",del1,,,\n"})
	m := catVersionRe.FindStringSubmatch(where)
	if status != 200 || m == nil || !strings.Contains(page, "offisiell tekst ikke lastet inn") {
		t.Fatalf("first upload: %d %s\n%s", status, where, page)
	}
	if status, _, page = b.post(where+"/publiser", url.Values{"_csrf": {csrf}}); status != 200 || !strings.Contains(page, `data-testid="version-state"><span class="ds-tag" data-color="success">Publisert`) {
		t.Fatalf("publishing the first: %d\n%s", status, page)
	}
	// The second changes goal 1's text: it must be assessed before publishing.
	status, where, page = catUpload(t, b, csrf, p+"-2", map[string]string{"goals.csv": head + p + "-1,Skjerpet tekst," + p + ",del1,,2020-03-01,\n"})
	if status != 200 || !strings.Contains(page, "Første tekst") || !strings.Contains(page, "Skjerpet tekst") || !strings.Contains(page, "stricter_"+p+"-1") {
		t.Fatalf("second upload: %d\n%s", status, page)
	}
	if status, _, page = b.post(where+"/publiser", url.Values{"_csrf": {csrf}}); status != http.StatusUnprocessableEntity || !strings.Contains(page, "ikke vurdert") {
		t.Fatalf("publishing unassessed: %d\n%s", status, page)
	}
	if status, _, _ = b.post(where+"/vurdering", url.Values{"_csrf": {csrf}, "stricter_" + p + "-1": {"yes"}}); status != 200 {
		t.Fatalf("assessing: %d", status)
	}
	if status, _, page = b.post(where+"/publiser", url.Values{"_csrf": {csrf}}); status != 200 || !strings.Contains(page, "Publisert") || !strings.Contains(page, "Strengere") {
		t.Fatalf("publishing: %d\n%s", status, page)
	}
	var stricter bool
	if err := testenv.Get(t).App.NewRaw("SELECT stricter FROM goals g JOIN catalog_versions v ON v.id = g.version_id WHERE v.label = ? AND g.code = ?", p+"-2", p+"-1").Scan(context.Background(), &stricter); err != nil || !stricter {
		t.Fatalf("stricter: %v %v", stricter, err)
	}
	if status, _, _ = b.post(where+"/publiser", url.Values{"_csrf": {csrf}}); status != http.StatusConflict {
		t.Fatalf("publishing twice: %d", status)
	}

	// Others (here a platform admin) get 403.
	otherEmail, otherPassword := newUser(t, cfg, "Rolf")
	grantPlatform(t, cfg, otherEmail, tenants.RolePlatformAdmin, "")
	o := newBrowser(t, srv.URL)
	login(t, o, otherEmail, otherPassword)
	if status, _, _ := o.get("/katalog"); status != http.StatusForbidden {
		t.Fatalf("a platform admin on /katalog: %d", status)
	}
	if status, _, _ := o.get(where); status != http.StatusForbidden {
		t.Fatalf("a platform admin on a version: %d", status)
	}
}

// The import command: shipped data imports, a bad folder is refused with
// every row named.
func TestCatalogImportCommand(t *testing.T) {
	// Its own database: publishing compares with the newest published version,
	// and other tests of this package publish versions of their own.
	cfg, app, _ := freshDatabase(t)
	setEnv(t, cfg)
	dir := t.TempDir()
	if err := writeFile(dir+"/goals.csv", "code,text,plan\nKLK-001,,KLK\nugyldig,,KLK\n"); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"catalog", "import", "--dir", dir, "--label", "cmd-bad-" + uuid.NewString()[:4]}, &out, &errb); code == 0 {
		t.Fatal("bad folder imported")
	}
	label := "cmd-" + uuid.NewString()[:6]
	out.Reset()
	errb.Reset()
	if code := run([]string{"catalog", "import", "--label", label, "--publish"}, &out, &errb); code != 0 {
		t.Fatalf("import: %d\n%s", code, errb.String())
	}
	var goals int
	if err := app.NewRaw("SELECT count(*) FROM goals g JOIN catalog_versions v ON v.id = g.version_id WHERE v.label = ? AND v.published_at IS NOT NULL AND g.code LIKE 'KL%'", label).Scan(context.Background(), &goals); err != nil || goals != 101 {
		t.Fatalf("goals imported: %d %v", goals, err)
	}
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o644) }
