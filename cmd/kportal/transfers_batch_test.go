package main

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/web"
	"kportal/storage/testenv"
	"kportal/tenants"
)

// A file of arrivals over HTTP, with the worker running: the tenant admin
// uploads it (a multipart form, the CSRF token in the URL), lands on its page
// and sees the bar finish as the bulk queue's sync jobs run; an admin of
// another tenant and the leder of the workplace the LIS left get 404 for the
// page and its progress.
func TestTransferIsolationBatchOverHTTP(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, true)
	db := testenv.Get(t).App
	ctx := context.Background()
	newHF, oldHF, other := testTenant(t, "Ny HF", tenants.KindHF), testTenant(t, "Gammel HF", tenants.KindHF), testTenant(t, "Annen HF", tenants.KindHF)
	lisEmail, _, _ := member(t, cfg, "Kari", oldHF, "lis")
	adminEmail, adminPassword, _ := member(t, cfg, "Astrid", newHF, "tenant_admin")
	otherEmail, otherPassword, _ := member(t, cfg, "Bente", other, "tenant_admin")
	lederEmail, lederPassword, _ := member(t, cfg, "Per", oldHF, "leder")
	var version int
	if err := db.NewRaw("INSERT INTO catalog_versions (label, published_at) VALUES (?, now()) RETURNING id", "csv-"+uuid.NewString()[:8]).Scan(ctx, &version); err != nil {
		t.Fatal(err)
	}
	err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: newHF.ID}, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO plan_templates (tenant_id, name, specialty, version_id) VALUES (?, 'LIS1 sykehusdel', 'ORT', ?)`, newHF.ID, version)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	admin := newBrowser(t, srv.URL)
	login(t, admin, adminEmail, adminPassword)
	status, _, page := admin.get("/t/" + newHF.Slug + "/arbeidsstedsbytte")
	if status != http.StatusOK || !strings.Contains(page, `data-testid="batch-form"`) || !strings.Contains(page, "/arbeidsstedsbytte/mal.csv") {
		t.Fatalf("Arbeidsstedsbytte: %d, no upload form", status)
	}
	today := web.Date(time.Now().In(web.Oslo))
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("fil", "mars.csv")
	_, _ = io.WriteString(fw, "\ufefflis;startdato;plan\r\n"+lisEmail+";"+today+";lis1 SYKEHUSDEL\r\n999999999;"+today+";LIS1 sykehusdel\r\n")
	_ = mw.Close()
	resp, err := admin.c.Post(srv.URL+"/t/"+newHF.Slug+"/arbeidsstedsbytte/csv?_csrf="+url.QueryEscape(csrfFrom(t, page)), mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	path := resp.Request.URL.Path
	if resp.StatusCode != http.StatusOK || !strings.Contains(path, "/arbeidsstedsbytte/csv/") || !strings.Contains(string(out), "Linje 3:") {
		t.Fatalf("upload: %d at %s\n%s", resp.StatusCode, path, out)
	}
	id := path[strings.LastIndex(path, "/")+1:]

	// The page's poll, as htmx sends it, until the bar is full.
	poll := func(b *browser, p string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+p, nil)
		req.Header.Set("HX-Request", "true")
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, frag := poll(admin, path+"/fremdrift")
		if status != http.StatusOK {
			t.Fatalf("progress: %d", status)
		}
		if strings.Contains(frag, `data-complete="true"`) {
			if !strings.Contains(frag, "1 av 1 gjennomført") || !strings.Contains(frag, `data-testid="done-move"`) || strings.Contains(frag, "hx-trigger") {
				t.Fatalf("progress when done:\n%s", frag)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sync job did not run:\n%s", frag)
		}
		time.Sleep(200 * time.Millisecond)
	}

	for _, who := range []struct {
		email, password string
		tn              *tenants.Tenant
	}{{otherEmail, otherPassword, other}, {lederEmail, lederPassword, oldHF}} {
		b := newBrowser(t, srv.URL)
		login(t, b, who.email, who.password)
		for _, p := range []string{"/t/" + who.tn.Slug + "/arbeidsstedsbytte/csv/" + id, "/t/" + newHF.Slug + "/arbeidsstedsbytte/csv/" + id} {
			if status, _, page := b.get(p); status != http.StatusNotFound || strings.Contains(page, "mars.csv") {
				t.Errorf("%s: %s answered %d", who.email, p, status)
			}
			if status, frag := poll(b, p+"/fremdrift"); status != http.StatusNotFound || strings.Contains(frag, "Kari") {
				t.Errorf("%s: %s/fremdrift answered %d", who.email, p, status)
			}
		}
	}
}
