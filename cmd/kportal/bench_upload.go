package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"
	"github.com/uptrace/bun"

	"kportal/modules/documents"
	"kportal/modules/identity"
	"kportal/tenants"
)

func init() { scenarios["upload"] = bench{run: benchUpload, writes: true} }

const (
	uploadSize     = 50 << 20
	uploadRounds   = 5
	uploadParallel = 8
)

// pdfStream is a 50 MB "PDF" made on the fly, so the client holds no copy.
type pdfStream struct{ left int }

var pdfChunk = func() []byte {
	b := make([]byte, 64<<10)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	copy(b, "%PDF-1.7\n")
	return b
}()

func (p *pdfStream) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	n := copy(b, pdfChunk[:min(len(pdfChunk), p.left)])
	p.left -= n
	return n, nil
}

// benchUpload sends a 50 MB file through kportal's whole stack (session,
// CSRF skip for the API token, route guard, content check, the store's
// pending note and row) to MinIO, as the page's script does (the file is the
// body), and puts the same bytes directly with minio-go into the same bucket
// (SSE-S3 on both), each uploadRounds times in turn; mb_s and direct_mb_s are
// the medians. Then uploadParallel uploads at once, sampling this process's
// resident memory; the server runs in this process (httptest), so
// rss_growth_mb also counts the client side, an upper bound.
func benchUpload(ctx context.Context, cfg *config) ([][2]string, error) {
	cfg.LogLevel = "error"
	a, err := openApp(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer a.close()
	a.log = newLogger("error")
	u, err := benchUploader(ctx, cfg, a)
	if err != nil {
		return nil, err
	}
	srv := httptest.NewServer(a.server())
	defer srv.Close()
	store := documents.NewStore(a.db, a.objects)
	var (
		made   []uuid.UUID
		madeMu sync.Mutex
	)
	defer func() {
		for _, id := range made {
			_ = store.Delete(context.Background(), u.Tenant, tenants.Actor{PersonID: u.Person}, id)
		}
	}()
	client := &http.Client{Timeout: 5 * time.Minute}
	send := func(multi bool) (time.Duration, error) {
		var body io.Reader = &pdfStream{left: uploadSize}
		ctype, length := "application/octet-stream", int64(uploadSize)
		if multi {
			pr, pw := io.Pipe()
			mw := multipart.NewWriter(pw)
			go func() {
				_ = mw.WriteField("kind", "other")
				fw, _ := mw.CreateFormFile("file", "bench.pdf")
				_, err := io.Copy(fw, &pdfStream{left: uploadSize})
				if err == nil {
					err = mw.Close()
				}
				pw.CloseWithError(err)
			}()
			body, ctype, length = pr, mw.FormDataContentType(), -1
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/t/"+u.Slug+"/dokumenter?type=other", body)
		req.ContentLength = length
		req.Header.Set("X-Session-Token", u.Token)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("X-File-Name", url.PathEscape("bench.pdf"))
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		var out struct {
			ID    uuid.UUID `json:"id"`
			Size  int64     `json:"size"`
			Error any       `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		took := time.Since(start)
		if resp.StatusCode != http.StatusCreated || out.Size != uploadSize {
			return 0, fmt.Errorf("upload through kportal: HTTP %d %v", resp.StatusCode, out.Error)
		}
		madeMu.Lock()
		made = append(made, out.ID)
		madeMu.Unlock()
		return took, nil
	}
	direct := func() (time.Duration, error) {
		key := "bench/direct-" + uuid.NewString()
		start := time.Now()
		_, err := a.objects.Client().PutObject(ctx, a.objects.Bucket(), key, &pdfStream{left: uploadSize}, uploadSize,
			minio.PutObjectOptions{ContentType: "application/pdf", ServerSideEncryption: encrypt.NewSSE()})
		took := time.Since(start)
		if err != nil {
			return 0, err
		}
		return took, a.objects.Purge(ctx, key)
	}
	if _, err := send(false); err != nil { // warm up: connections, session cache
		return nil, err
	}
	var viaKportal, viaMultipart, viaDirect []time.Duration
	for range uploadRounds {
		for _, step := range []struct {
			into *[]time.Duration
			run  func() (time.Duration, error)
		}{{&viaDirect, direct}, {&viaKportal, func() (time.Duration, error) { return send(false) }}, {&viaMultipart, func() (time.Duration, error) { return send(true) }}} {
			d, err := step.run()
			if err != nil {
				return nil, err
			}
			*step.into = append(*step.into, d)
		}
	}
	mbs := func(ds []time.Duration) float64 { return float64(uploadSize) / 1e6 / median(ds).Seconds() }

	runtime.GC()
	debug.FreeOSMemory()
	before := rss()
	var peak int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if r := rss(); r > peak {
				peak = r
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed error
	for i := range uploadParallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := send(i%2 == 1) // half as the script sends, half as a plain form
			if err != nil {
				mu.Lock()
				failed = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	if failed != nil {
		return nil, failed
	}
	k, d := mbs(viaKportal), mbs(viaDirect)
	return [][2]string{
		{"mb_s", fmt.Sprintf("%.1f", k)}, {"direct_mb_s", fmt.Sprintf("%.1f", d)}, {"ratio", fmt.Sprintf("%.2f", k/d)},
		{"rss_growth_mb", fmt.Sprintf("%.1f", float64(peak-before)/(1<<20))},
		{"multipart_mb_s", fmt.Sprintf("%.1f", mbs(viaMultipart))}, {"parallel", strconv.Itoa(uploadParallel)}, {"size_mb", "50"},
	}, nil
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}

// rss is this process's resident memory in bytes (Linux).
func rss() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// benchUploader is a LIS in a bench tenant whose upload limit fits the file,
// signed in through Kratos' native API.
func benchUploader(ctx context.Context, cfg *config, a *app) (benchUser, error) {
	const slug, email = "bench-upload", "bench-upload@national.kportal.no"
	var tenantID uuid.UUID
	if err := a.db.NewRaw(`INSERT INTO tenants (slug, name, kind, status) VALUES (?, 'Opplasting (bench)', 'hf', 'active')
		ON CONFLICT (slug) DO UPDATE SET status = 'active' RETURNING id`, slug).Scan(ctx, &tenantID); err != nil {
		return benchUser{}, err
	}
	id, err := identity.NewKratos(cfg.KratosPublic, cfg.KratosAdmin).EnsureIdentity(ctx, email, "Bench", "Opplaster", NationalBenchPassword)
	if err != nil {
		return benchUser{}, err
	}
	person, err := identity.EnsurePerson(ctx, a.db, uuid.MustParse(id.Id), identity.TraitsOf(id))
	if err != nil {
		return benchUser{}, err
	}
	if err := tenants.WithTenantTx(ctx, a.db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		if err := tenants.GrantRole(ctx, tx, tenantID, person, "lis", tenants.Actor{Name: "kportal bench"}); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO document_settings (tenant_id, max_bytes) VALUES (?, ?)
			ON CONFLICT (tenant_id) DO UPDATE SET max_bytes = excluded.max_bytes`, tenantID, int64(100<<20))
		return err
	}); err != nil {
		return benchUser{}, err
	}
	return benchLogin(ctx, cfg, a, person, email)
}
