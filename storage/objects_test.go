package storage_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"kportal/storage"
	"kportal/storage/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestObjectsPutGetPresignDelete(t *testing.T) {
	env := testenv.Get(t)
	o := env.Objects(t)
	ctx := context.Background()
	// OpenObjects creates the bucket; opening again finds it.
	if _, err := storage.OpenObjects(ctx, storage.ObjectConfig{Endpoint: testenv.S3Endpoint, AccessKey: testenv.S3AccessKey, SecretKey: testenv.S3SecretKey, Bucket: env.Bucket}); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 3<<20+17) // more than one part's worth of a small buffer
	_, _ = rand.Read(data)
	key := "tenants/test/people/p/obj1"
	if err := o.Put(ctx, key, bytes.NewReader(data), int64(len(data)), storage.PutOptions{ContentType: "application/pdf", Metadata: map[string]string{"Filename": "kursbevis.pdf"}}); err != nil {
		t.Fatal(err)
	}
	rc, info, err := o.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, data) || info.Size != int64(len(data)) || info.ContentType != "application/pdf" {
		t.Fatalf("read back %d bytes (%+v), wrote %d", len(got), info, len(data))
	}

	u, err := o.PresignDownload(ctx, key, "Kursbevis ø.pdf", 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(body, data) || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") || !strings.Contains(resp.Header.Get("Content-Disposition"), "Kursbevis%20%C3%B8.pdf") {
		t.Fatalf("presigned download: %d, %d bytes, disposition %q", resp.StatusCode, len(body), resp.Header.Get("Content-Disposition"))
	}

	if err := o.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, _, err := o.Get(ctx, key); !errors.Is(err, storage.ErrObjectNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if err := o.Delete(ctx, key); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
	if err := o.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestObjectsBadConfigurationIsClear(t *testing.T) {
	ctx := context.Background()
	_, err := storage.OpenObjects(ctx, storage.ObjectConfig{Endpoint: testenv.S3Endpoint, AccessKey: testenv.S3AccessKey, SecretKey: "wrong", Bucket: "x-bucket"})
	if err == nil || !strings.Contains(err.Error(), "access key or secret key is wrong") {
		t.Fatalf("wrong secret: %v", err)
	}
	_, err = storage.OpenObjects(ctx, storage.ObjectConfig{Endpoint: "127.0.0.1:1", AccessKey: "a", SecretKey: "b", Bucket: "x-bucket"})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("unreachable: %v", err)
	}
}

func TestOpenDBUnreachableIsClear(t *testing.T) {
	_, err := storage.OpenDB(context.Background(), "postgres://u:p@127.0.0.1:1/kportal?sslmode=disable", 1)
	if err == nil || !strings.Contains(err.Error(), "PostgreSQL at 127.0.0.1:1") {
		t.Fatalf("got %v", err)
	}
	_, err = storage.OpenDB(context.Background(), "not a url ::", 1)
	if err == nil || !strings.Contains(err.Error(), "not valid") {
		t.Fatalf("got %v", err)
	}
}

// onlyReader hides bytes.Reader's Seek and ReadAt, as an HTTP request body does.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func TestObjectsEncryptedStreamVersionsPurge(t *testing.T) {
	env := testenv.Get(t)
	o := env.Objects(t)
	ctx := context.Background()
	data := make([]byte, 11<<20+5) // three parts of StreamPartSize
	_, _ = rand.Read(data)
	for _, size := range []int64{int64(len(data)), -1} {
		key := "tenants/test/people/p/enc" + strings.Repeat("x", int(size&1)+1)
		if err := o.Put(ctx, key, onlyReader{bytes.NewReader(data)}, size, storage.PutOptions{ContentType: "image/png", Encrypt: true}); err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		st, err := o.Client().StatObject(ctx, env.Bucket, key, minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if st.Metadata.Get("X-Amz-Server-Side-Encryption") != "AES256" {
			t.Fatalf("size %d: object not encrypted by the server: %v", size, st.Metadata)
		}
		rc, _, err := o.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, data) {
			t.Fatalf("size %d: read back %d bytes, wrote %d", size, len(got), len(data))
		}
		// The bucket is versioned: a delete leaves the data as a version; Purge removes all.
		if err := o.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
		if n, err := o.Versions(ctx, key); err != nil || n != 2 {
			t.Fatalf("after delete: %d versions (%v), want the object and a delete marker", n, err)
		}
		if err := o.Purge(ctx, key); err != nil {
			t.Fatal(err)
		}
		if n, err := o.Versions(ctx, key); err != nil || n != 0 {
			t.Fatalf("after purge: %d versions (%v)", n, err)
		}
	}
	// A reader that fails half way leaves no object, with or without a known size.
	for _, size := range []int64{int64(len(data)), -1} {
		key := "tenants/test/people/p/broken"
		err := o.Put(ctx, key, io.MultiReader(bytes.NewReader(data[:7<<20]), failingReader{}), size, storage.PutOptions{Encrypt: true})
		if err == nil {
			t.Fatalf("size %d: a failing reader was stored", size)
		}
		if n, err := o.Versions(ctx, key); err != nil || n != 0 {
			t.Fatalf("size %d: %d versions after a failed put (%v)", size, n, err)
		}
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestSniffType(t *testing.T) {
	for _, c := range []struct{ head, want string }{
		{"%PDF-1.7\n", "application/pdf"},
		{"\x89PNG\r\n\x1a\n\x00\x00", "image/png"},
		{"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"},
		{"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "image/heic"},
		{"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00", "image/heic"},
		{"\x00\x00\x00\x18ftypisom\x00\x00\x00\x00", ""}, // an MP4 video
		{"MZ\x90\x00\x03\x00", ""},                       // a Windows program, whatever its name
		{"hello", ""},
		{"", ""},
	} {
		if got := storage.SniffType([]byte(c.head)); got != c.want {
			t.Errorf("SniffType(%q) = %q, want %q", c.head, got, c.want)
		}
	}
}
