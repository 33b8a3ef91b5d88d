package documents

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"kportal/modules/apperr"
	"kportal/storage"
	"kportal/storage/testenv"
)

// ownMinIO runs a MinIO of the test's own (the shared one is never stopped)
// from the binary deploy/dev built, on a free loopback port with its data in
// dir; stop kills it.
func ownMinIO(t *testing.T, dir, addr string) (stop func()) {
	t.Helper()
	cache := os.Getenv("KPORTAL_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "kportal")
	}
	bins, _ := filepath.Glob(filepath.Join(cache, "bin", "minio-*"))
	if len(bins) == 0 {
		t.Fatalf("no MinIO binary under %s/bin (deploy/dev up builds it)", cache)
	}
	cmd := exec.Command(bins[0], "server", dir, "--address", addr, "--console-address", freeAddr(t))
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER=kportal", "MINIO_ROOT_PASSWORD=kportal-secret", "MINIO_BROWSER=off", "MINIO_UPDATE=off",
		"MINIO_KMS_SECRET_KEY=kportal-test-key:zYHGJ3pUZr4Y2v6QPq9n5nDk0y8W0qg0yB3pC7uJt3E=")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}
	t.Cleanup(stop)
	// Ready is not enough: MinIO answers "not initialized" for a moment
	// after it; a listing that works is.
	client, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4("kportal", "kportal-secret", "")})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		resp, err := http.Get("http://" + addr + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_, err = client.ListBuckets(ctx)
				cancel()
				if err == nil {
					return stop
				}
			}
		}
		if i > 300 {
			t.Fatalf("own MinIO at %s did not start: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// slowReader yields a PDF slowly, so the store dies while it is being sent.
type slowReader struct{ sent int }

func (r *slowReader) Read(p []byte) (int, error) {
	if len(p) > 64<<10 {
		p = p[:64<<10]
	}
	if r.sent == 0 {
		n := copy(p, "%PDF-1.7\n")
		r.sent += n
		return n, nil
	}
	time.Sleep(5 * time.Millisecond)
	r.sent += len(p)
	return len(p), nil
}

func TestStoreStoppedDuringUploadLeavesNoRow(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	dir, addr := t.TempDir(), freeAddr(t)
	stop := ownMinIO(t, dir, addr)
	o, err := storage.OpenObjects(ctx, storage.ObjectConfig{Endpoint: addr, AccessKey: "kportal", SecretKey: "kportal-secret", Bucket: "stopped"})
	if err != nil {
		t.Fatal(err)
	}
	s := NewStore(testenv.Get(t).App, o)
	for _, size := range []int64{20 << 20, -1} {
		type result struct {
			d   *Document
			err error
		}
		done := make(chan result, 1)
		go func() {
			d, err := s.Upload(ctx, f.a.ID, f.lis, Upload{Kind: KindKursbevis, Name: "kurs.pdf", Body: &slowReader{}, Size: size})
			done <- result{d, err}
		}()
		time.Sleep(700 * time.Millisecond)
		stop()
		var r result
		select {
		case r = <-done:
		case <-time.After(90 * time.Second):
			t.Fatalf("size %d: the upload still runs 90 s after the store stopped", size)
		}
		if !apperr.Is(r.err, apperr.Unavailable) || apperr.MessageOf(r.err) != msgStore {
			t.Fatalf("size %d: %v (%q), want Unavailable %q", size, r.err, apperr.MessageOf(r.err), msgStore)
		}
		rows, pending, _ := f.state(t, f.a.ID, f.lis.PersonID)
		if rows != 0 || pending == 0 {
			t.Fatalf("size %d: %d rows, %d pending notes; want no row and the note for the cleanup job", size, rows, pending)
		}
		stop = ownMinIO(t, dir, addr) // back up, for the next round and the cleanup
	}
	// The store is back: a day later the cleanup job finds nothing left behind
	// (an object half written by a dead upload) and drops the notes.
	s.now = func() time.Time { return time.Now().Add(PendingAge + time.Minute) }
	n, err := s.Cleanup(ctx, f.a.ID)
	if err != nil || n != 2 {
		t.Fatalf("cleanup: %d notes (%v), want 2", n, err)
	}
	if rows, pending, _ := f.state(t, f.a.ID, f.lis.PersonID); rows != 0 || pending != 0 {
		t.Fatalf("after cleanup: %d rows, %d pending", rows, pending)
	}
	for obj := range o.Client().ListObjects(ctx, "stopped", minioListAll()) {
		t.Fatalf("object left in the store: %s %v", obj.Key, obj.Err)
	}
}

func minioListAll() minio.ListObjectsOptions {
	return minio.ListObjectsOptions{Recursive: true, WithVersions: true}
}
