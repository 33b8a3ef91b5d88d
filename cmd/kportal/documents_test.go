package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/uptrace/bun"

	"kportal/modules/documents"
	"kportal/storage/testenv"
	"kportal/tenants"
)

// testPNG is a real image (a browser must be able to draw it).
func testPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 120, 80))
	for x := 0; x < 120; x++ {
		for y := 0; y < 80; y++ {
			img.Set(x, y, color.RGBA{uint8(x * 2), uint8(y * 3), 160, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rawUpload sends a file the way the page's script does: the body is the file.
func rawUpload(t *testing.T, b *browser, path, csrf, name string, data []byte) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.base+path+"?type=kursbevis", bytes.NewReader(data))
	req.Header.Set("X-CSRF-Token", csrf)
	req.Header.Set("X-File-Name", url.PathEscape(name))
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestDocumentsHTTP(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	s := actNewSetup(t, cfg)
	img := testPNG(t)

	lis := newBrowser(t, srv.URL)
	login(t, lis, s.lisEmail, s.lisPassword)
	status, _, page := lis.get(s.path("/dokumenter"))
	if status != 200 || !strings.Contains(page, "Du har ikke lastet opp noen dokumenter") || !strings.Contains(page, "høyst 25 MB") {
		t.Fatalf("archive: %d\n%s", status, page)
	}
	csrf := csrfFrom(t, page)

	t.Run("bad input gets a Norwegian message and leaves nothing", func(t *testing.T) {
		for _, c := range []struct {
			name string
			data []byte
			want string
		}{
			{"tom.pdf", nil, "Filen er tom"},
			{"kursbevis.pdf", append([]byte("MZ\x90\x00"), make([]byte, 4000)...), "ikke en PDF, PNG, JPEG eller HEIC"},
			{"../../kurs.png", img, "kan ikke inneholde mapper"},
			{"kurs\x07.png", img, "kontrolltegn"},
		} {
			status, out := rawUpload(t, lis, s.path("/dokumenter"), csrf, c.name, c.data)
			e, _ := out["error"].(map[string]any)
			if status != http.StatusUnprocessableEntity || e == nil || e["code"] != "invalid" || !strings.Contains(e["message"].(string), c.want) {
				t.Errorf("%q: %d %v, want 422 %q", c.name, status, out, c.want)
			}
		}
		// A plain form (multipart, no script) gets the page with the message.
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		_ = mw.WriteField("kind", "kursbevis")
		fw, _ := mw.CreateFormFile("file", "program.pdf")
		_, _ = fw.Write([]byte("MZ this is a program"))
		mw.Close()
		resp, err := lis.c.Post(srv.URL+s.path("/dokumenter")+"?_csrf="+url.QueryEscape(csrf), mw.FormDataContentType(), &body)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(p), "ikke en PDF, PNG, JPEG eller HEIC") {
			t.Fatalf("multipart with a program: %d\n%s", resp.StatusCode, p)
		}
		var n int
		if err := tenants.WithTenantTx(context.Background(), testenv.Get(t).App, tenants.Scope{TenantID: s.tn.ID}, func(ctx context.Context, tx bun.Tx) error {
			return tx.NewRaw("SELECT (SELECT count(*) FROM documents) + (SELECT count(*) FROM document_objects_pending)").Scan(ctx, &n)
		}); err != nil || n != 0 {
			t.Fatalf("rows left: %d (%v)", n, err)
		}
	})

	// A multipart form (no script) stores the file too.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("kind", "other")
	fw, _ := mw.CreateFormFile("file", "attest.pdf")
	_, _ = fw.Write(append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("attest "), 1000)...))
	mw.Close()
	resp, err := lis.c.Post(srv.URL+s.path("/dokumenter")+"?_csrf="+url.QueryEscape(csrf), mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(p), "Dokumentet er lagret") || !strings.Contains(string(p), "attest.pdf") {
		t.Fatalf("multipart upload: %d\n%s", resp.StatusCode, p)
	}

	status, out := rawUpload(t, lis, s.path("/dokumenter"), csrf, "Kursbevis traume.png", img)
	if status != http.StatusCreated || out["name"] != "Kursbevis traume.png" || out["content_type"] != "image/png" {
		t.Fatalf("upload: %d %v", status, out)
	}
	docID := out["id"].(string)

	// The kursbevis goes with a course sent for signing.
	_, _, page = lis.get(s.path("/aktiviteter/ny"))
	if !strings.Contains(page, "Kursbevis traume.png") {
		t.Fatalf("the activity form does not offer the document:\n%s", page)
	}
	status, _, page = lis.post(s.path("/aktiviteter"), url.Values{"_csrf": {csrf}, "kind": {"elearning"}, "title": {"E-kurs"}, "done_on": {"2026-01-10"}, "document": {docID}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(page, "Kursbevis legges ved kurs") {
		t.Fatalf("a kursbevis on e-learning: %d", status)
	}
	status, _, page = lis.post(s.path("/aktiviteter"), url.Values{"_csrf": {csrf}, "kind": {"course"}, "title": {"Traumekurs"},
		"done_on": {"2026-01-10"}, "supervisor": {s.sup.String()}, "document": {docID}})
	if status != 200 || !strings.Contains(page, "Kursbevis: ") {
		t.Fatalf("sending the course: %d\n%s", status, page)
	}

	t.Run("a referenced kursbevis waiting for signature cannot be deleted", func(t *testing.T) {
		_, _, page := lis.get(s.path("/dokumenter"))
		if !strings.Contains(page, "Kurs: Traumekurs (venter på signatur)") || !strings.Contains(page, "Tas vare på") {
			t.Fatalf("archive:\n%s", page)
		}
		status, _, page := lis.post(s.path("/dokumenter/"+docID+"/slett"), url.Values{"_csrf": {csrf}})
		if status != http.StatusConflict || !strings.Contains(page, "kan ikke slettes") {
			t.Fatalf("delete: %d", status)
		}
	})

	sup := newBrowser(t, srv.URL)
	login(t, sup, s.supEmail, s.supPassword)
	_, _, q := sup.get(s.path("/signering"))
	if !strings.Contains(q, "Kursbevis traume.png") || !strings.Contains(q, s.path("/dokumenter/"+docID+"/vis")) {
		t.Fatalf("the signing queue does not show the kursbevis:\n%s", q)
	}
	// Download: a presigned URL valid for minutes, an attachment.
	sup.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err = sup.c.Get(srv.URL + s.path("/dokumenter/"+docID))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "X-Amz-Expires=300") {
		t.Fatalf("download: %d %s", resp.StatusCode, loc)
	}
	sup.c.CheckRedirect = nil
	resp, err = http.Get(loc)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, img) || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("presigned download: %d bytes, %q", len(got), resp.Header.Get("Content-Disposition"))
	}
	// Preview: through kportal, inline and sandboxed.
	resp, err = sup.c.Get(srv.URL + s.path("/dokumenter/"+docID+"/vis"))
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, img) || resp.Header.Get("Content-Type") != "image/png" ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "inline") || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("preview: %d %v", resp.StatusCode, resp.Header)
	}
	log, err := tenants.AuditLog(context.Background(), testenv.Get(t).App, s.tn.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	opened := 0
	for _, e := range log {
		if e.Action == documents.AuditDownloaded && *e.ActorID == s.sup && *e.SubjectID == s.lis {
			opened++
		}
	}
	if opened != 2 {
		t.Fatalf("audit entries for the supervisor's download and preview: %d", opened)
	}

	t.Run("a supervisor of another LIS gets 404", func(t *testing.T) {
		other := newBrowser(t, srv.URL)
		login(t, other, s.otherEmail, s.otherPass)
		for _, p := range []string{"/dokumenter/" + docID, "/dokumenter/" + docID + "/vis"} {
			if status, _, _ := other.get(s.path(p)); status != http.StatusNotFound {
				t.Fatalf("%s: %d", p, status)
			}
		}
	})
	t.Run("Isolation: a LIS of another tenant can neither see nor delete it", func(t *testing.T) {
		tnB := testTenant(t, "Annet HF", tenants.KindHF)
		email, pw, _ := member(t, cfg, "Bodil", tnB, "lis")
		b := newBrowser(t, srv.URL)
		login(t, b, email, pw)
		for _, p := range []string{"/t/" + s.tn.Slug + "/dokumenter/" + docID, "/t/" + tnB.Slug + "/dokumenter/" + docID, "/t/" + tnB.Slug + "/dokumenter/" + docID + "/vis"} {
			if status, _, _ := b.get(p); status != http.StatusNotFound {
				t.Fatalf("%s: %d", p, status)
			}
		}
		_, _, page := b.get("/t/" + tnB.Slug + "/dokumenter")
		if strings.Contains(page, "Kursbevis traume.png") {
			t.Fatal("another tenant's archive lists the document")
		}
		if status, _, _ := b.post("/t/"+tnB.Slug+"/dokumenter/"+docID+"/slett", url.Values{"_csrf": {csrfFrom(t, page)}}); status != http.StatusNotFound {
			t.Fatalf("delete from another tenant: %d", status)
		}
	})
}

func TestBrowserKursbevisSigning(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	s := actNewSetup(t, cfg)
	file := filepath.Join(t.TempDir(), "Kursbevis traumekurs.png")
	if err := os.WriteFile(file, testPNG(t), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := chromium(t)
	err := browserLogin(ctx, srv.URL, s.lisEmail, s.lisPassword)
	if err == nil {
		err = chromedp.Do(ctx,
			chromedp.Navigate(srv.URL+s.path("/aktiviteter/ny")),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="activity-form"]`)),
			chromedp.SetValue(chromedp.CSS(`#kind`), "course"),
			chromedp.SendKeys(chromedp.CSS(`#title`), "Traumekurs"),
			chromedp.SetUploadFiles(chromedp.CSS(`#kursbevis-file`), []string{file}),
		)
	}
	if err == nil {
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("document").value !== ""`, chromedp.WithPollingTimeout(20*time.Second)))
	}
	var status string
	if err == nil {
		status, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid="upload-status"]`)))
	}
	if err == nil && !strings.Contains(status, "Lastet opp: Kursbevis traumekurs.png") {
		err = fmt.Errorf("upload status %q", status)
	}
	if err == nil {
		err = chromedp.Do(ctx,
			chromedp.SetValue(chromedp.CSS(`#supervisor`), s.sup.String()),
			chromedp.Click(chromedp.CSS(`form[data-testid="activity-form"] button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="kursbevis"]`)),
		)
	}
	if err != nil {
		screenshot(t, ctx, "kursbevis-lis")
		t.Fatalf("the LIS sends a course with its kursbevis: %v", err)
	}
	screenshot(t, ctx, "kursbevis-sent")
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`form[action="/logg-ut"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`form[data-group="password"]`)))
	if err == nil {
		err = browserLogin(ctx, srv.URL, s.supEmail, s.supPassword)
	}
	if err == nil {
		err = chromedp.Do(ctx,
			chromedp.Navigate(srv.URL+s.path("/signering")),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="kursbevis-preview"]`)))
	}
	if err == nil {
		// The image is drawn: the supervisor sees the kursbevis while signing.
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector('[data-testid="kursbevis-preview"]').naturalWidth === 120`, chromedp.WithPollingTimeout(10*time.Second)))
	}
	var href string
	if err == nil {
		href, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('[data-testid="kursbevis-view"]').href`))
	}
	if err != nil {
		screenshot(t, ctx, "kursbevis-supervisor")
		t.Fatalf("the supervisor sees the kursbevis: %v", err)
	}
	screenshot(t, ctx, "kursbevis-queue")
	var ct string
	err = chromedp.Do(ctx, chromedp.Navigate(href))
	if err == nil {
		ct, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.contentType`))
	}
	if err != nil || ct != "image/png" {
		t.Fatalf("opening the kursbevis: %q %v", ct, err)
	}
	err = chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+s.path("/signering")),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="sign-one"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="sign-one"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="queue-empty"]`)))
	if err != nil {
		screenshot(t, ctx, "kursbevis-sign")
		t.Fatalf("signing: %v", err)
	}
}

func TestDocumentsLimitAndInterruptedUploadHTTP(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	s := actNewSetup(t, cfg)
	adminEmail, adminPass, _ := member(t, cfg, "Ada", s.tn, "tenant_admin")
	admin := newBrowser(t, srv.URL)
	login(t, admin, adminEmail, adminPass)
	status, _, page := admin.get(s.path("/admin/dokumenter"))
	if status != 200 || !strings.Contains(page, `value="25"`) {
		t.Fatalf("settings: %d\n%s", status, page)
	}
	csrf := csrfFrom(t, page)
	if status, _, page := admin.post(s.path("/admin/dokumenter"), url.Values{"_csrf": {csrf}, "max_mb": {"0"}}); status != http.StatusUnprocessableEntity || !strings.Contains(page, "mellom 1 og 500 MB") {
		t.Fatalf("limit 0: %d", status)
	}
	if status, _, page := admin.post(s.path("/admin/dokumenter"), url.Values{"_csrf": {csrf}, "max_mb": {"1"}}); status != 200 || !strings.Contains(page, `value="1"`) {
		t.Fatalf("limit 1: %d\n%s", status, page)
	}

	lis := newBrowser(t, srv.URL)
	login(t, lis, s.lisEmail, s.lisPassword)
	_, _, page = lis.get(s.path("/dokumenter"))
	big := append(testPNG(t), make([]byte, 2<<20)...)
	status, out := rawUpload(t, lis, s.path("/dokumenter"), csrfFrom(t, page), "stor.png", big)
	if e, _ := out["error"].(map[string]any); status != http.StatusUnprocessableEntity || e == nil || e["message"] != "Filen er for stor. Den største filen du kan laste opp er 1 MB." {
		t.Fatalf("over the tenant's limit: %d %v", status, out)
	}

	// The client goes away half way: nothing is kept. The upload is held
	// until its pending note shows it reached the store, then cut.
	counts := func() (rows, pending int) {
		if err := tenants.WithTenantTx(context.Background(), testenv.Get(t).App, tenants.Scope{TenantID: s.tn.ID}, func(ctx context.Context, tx bun.Tx) error {
			if err := tx.NewRaw("SELECT count(*) FROM documents").Scan(ctx, &rows); err != nil {
				return err
			}
			return tx.NewRaw("SELECT count(*) FROM document_objects_pending").Scan(ctx, &pending)
		}); err != nil {
			t.Fatal(err)
		}
		return rows, pending
	}
	token := sessionToken(t, cfg, s.lisEmail, s.lisPassword)
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	head := testPNG(t)
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: kportal\r\nX-Session-Token: %s\r\nAccept: application/json\r\nContent-Type: application/octet-stream\r\nX-File-Name: avbrutt.png\r\nContent-Length: %d\r\n\r\n",
		s.path("/dokumenter")+"?type=kursbevis", token, 900_000)
	_, _ = conn.Write(head)
	_, _ = conn.Write(make([]byte, 100_000))
	deadline := time.Now().Add(10 * time.Second)
	for _, p := counts(); p == 0; _, p = counts() {
		if time.Now().After(deadline) {
			t.Fatal("the upload never reached the store")
		}
		time.Sleep(20 * time.Millisecond)
	}
	conn.Close()
	deadline = time.Now().Add(15 * time.Second)
	for r, p := counts(); r != 0 || p != 0; r, p = counts() {
		if time.Now().After(deadline) {
			t.Fatalf("after the client went away: %d rows, %d pending notes", r, p)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestBrowserDocumentArchive(t *testing.T) {
	cfg := testConfig(t)
	_, srv := startApp(t, cfg, false)
	s := actNewSetup(t, cfg)
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "Attest.png"), filepath.Join(dir, "kursbevis.pdf")
	if err := os.WriteFile(good, testPNG(t), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, append([]byte("MZ\x90\x00"), make([]byte, 2000)...), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := chromium(t)
	err := browserLogin(ctx, srv.URL, s.lisEmail, s.lisPassword)
	if err == nil {
		err = chromedp.Do(ctx,
			chromedp.Navigate(srv.URL+s.path("/dokumenter")),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="upload-form"]`)),
			chromedp.SetUploadFiles(chromedp.CSS(`#file`), []string{bad}),
			chromedp.Click(chromedp.CSS(`[data-testid="upload-form"] button[type="submit"]`)),
		)
	}
	if err == nil {
		// A program named .pdf: the script shows the server's Norwegian message.
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector('[data-testid="upload-status"]').textContent.includes("ikke en PDF, PNG, JPEG eller HEIC")`,
			chromedp.WithPollingTimeout(10*time.Second)))
	}
	if err == nil {
		screenshot(t, ctx, "archive-refused")
		err = chromedp.Do(ctx,
			chromedp.SetUploadFiles(chromedp.CSS(`#file`), []string{good}),
			chromedp.Click(chromedp.CSS(`[data-testid="upload-form"] button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="notice"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="document"] img`)),
		)
	}
	var names string
	if err == nil {
		names, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid="documents"]`)))
	}
	if err != nil || !strings.Contains(names, "Attest.png") || strings.Contains(names, "kursbevis.pdf") {
		screenshot(t, ctx, "archive-failed")
		t.Fatalf("the archive after uploads: %q %v", names, err)
	}
	screenshot(t, ctx, "archive")
	// A PDF opens in the browser's own viewer.
	pdf := filepath.Join(dir, "Kurs.pdf")
	if err := os.WriteFile(pdf, []byte(minimalPDF), 0o600); err != nil {
		t.Fatal(err)
	}
	var href, ct string
	err = chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+s.path("/dokumenter")),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="upload-form"]`)),
		chromedp.SetUploadFiles(chromedp.CSS(`#file`), []string{pdf}),
		chromedp.Click(chromedp.CSS(`[data-testid="upload-form"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="notice"]`)),
	)
	if err == nil {
		href, err = chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll('[data-testid="document"]')].find(li => li.textContent.includes("Kurs.pdf")).querySelector('a[href$="/vis"]').href`))
	}
	if err == nil {
		// What the "Vis" link opens (in a new tab, where the browser's PDF
		// viewer takes over): the PDF, inline, not sandboxed (Chromium's viewer
		// refuses a sandboxed document).
		ct, err = chromedp.Run(ctx, chromedp.Evaluate[string](`fetch(`+strconv.Quote(href)+`).then(r => [r.status, r.headers.get("content-type"),
			r.headers.get("content-disposition").split(";")[0], r.headers.get("content-security-policy").includes("sandbox")].join(" "))`, chromedp.EvalAwaitPromise))
	}
	if err != nil || ct != "200 application/pdf inline false" {
		screenshot(t, ctx, "archive-pdf")
		t.Fatalf("previewing the PDF: %q %v", ct, err)
	}
}

const minimalPDF = "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n" +
	"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
