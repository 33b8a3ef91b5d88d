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
