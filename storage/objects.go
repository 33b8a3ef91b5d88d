package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"
)

// ObjectConfig says where the object store is.
type ObjectConfig struct {
	Endpoint  string // host:port
	AccessKey string
	SecretKey string
	Bucket    string
	Secure    bool
}

// Objects is kportal's object store: one bucket, keys chosen by the caller.
type Objects struct {
	client *minio.Client
	bucket string
}

// ErrObjectNotFound is returned by Get and Stat for a key that does not exist.
var ErrObjectNotFound = errors.New("object not found")

// NewObjects returns the object store's client without contacting it (a
// probe that must work while the store is down); OpenObjects is the usual way.
func NewObjects(cfg ObjectConfig) (*Objects, error) {
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.Secure,
	})
	if err != nil {
		return nil, fmt.Errorf("object storage endpoint %q is not valid: %v", cfg.Endpoint, err)
	}
	return &Objects{client: client, bucket: cfg.Bucket}, nil
}

// OpenObjects connects to the object store and creates the bucket if it is missing.
func OpenObjects(ctx context.Context, cfg ObjectConfig) (*Objects, error) {
	o, err := NewObjects(cfg)
	if err != nil {
		return nil, err
	}
	client := o.client
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	exists, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("object storage at %s: %s", cfg.Endpoint, describeS3Error(err))
	}
	if !exists {
		if err := client.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{}); err != nil {
			// Another instance may have created it between the check and here.
			var resp minio.ErrorResponse
			if !errors.As(err, &resp) || (resp.Code != "BucketAlreadyOwnedByYou" && resp.Code != "BucketAlreadyExists") {
				return nil, fmt.Errorf("object storage at %s: creating bucket %q: %s", cfg.Endpoint, cfg.Bucket, describeS3Error(err))
			}
		}
	}
	// Versioning keeps what was overwritten or deleted by mistake; objects
	// removed on purpose go with Purge (every version).
	if err := client.EnableVersioning(ctx, cfg.Bucket); err != nil {
		return nil, fmt.Errorf("object storage at %s: versioning bucket %q: %s", cfg.Endpoint, cfg.Bucket, describeS3Error(err))
	}
	return o, nil
}

func describeS3Error(err error) string {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		switch resp.Code {
		case "InvalidAccessKeyId", "SignatureDoesNotMatch":
			return "the access key or secret key is wrong (" + resp.Code + ")"
		}
		return resp.Code + ": " + resp.Message
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return "not reachable: " + uerr.Err.Error()
	}
	return err.Error()
}

// Bucket is the bucket's name.
func (o *Objects) Bucket() string { return o.bucket }

// Client is the underlying minio client, for features (versioning, retention,
// encryption) that later packages configure.
func (o *Objects) Client() *minio.Client { return o.client }

// PutOptions describe an object being stored.
type PutOptions struct {
	ContentType string
	// Metadata is stored with the object (user metadata, x-amz-meta-*).
	Metadata map[string]string
	// Encrypt stores the object encrypted by the server (SSE-S3, MinIO's KMS key).
	Encrypt bool
}

// StreamPartSize is the part buffer of a put of unknown length: S3's smallest
// part, so eight uploads at once hold 40 MB (minio-go's default for an unknown
// length is a 560 MB part sized for a 5 TiB object).
const StreamPartSize = 5 << 20

// Put streams r to key. size is the exact length, sent as one PUT that
// streams r without buffering it; -1 when unknown: a multipart upload in parts
// of StreamPartSize, each held in memory while it is sent. A put that fails
// leaves no object (a failed multipart upload is aborted).
func (o *Objects) Put(ctx context.Context, key string, r io.Reader, size int64, opt PutOptions) error {
	po := minio.PutObjectOptions{ContentType: opt.ContentType, UserMetadata: opt.Metadata}
	if opt.Encrypt {
		po.ServerSideEncryption = encrypt.NewSSE()
	}
	if size >= 0 {
		po.DisableMultipart = true
	} else {
		po.PartSize = StreamPartSize
	}
	_, err := o.client.PutObject(ctx, o.bucket, key, r, size, po)
	if err != nil {
		return fmt.Errorf("put %s: %s", key, describeS3Error(err))
	}
	return nil
}

// ObjectInfo is what the store knows about an object.
type ObjectInfo struct {
	Key         string
	Size        int64
	ContentType string
	Modified    time.Time
}

// Stat returns an object's info, ErrObjectNotFound when it does not exist.
func (o *Objects) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	st, err := o.client.StatObject(ctx, o.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return ObjectInfo{}, ErrObjectNotFound
		}
		return ObjectInfo{}, fmt.Errorf("stat %s: %s", key, describeS3Error(err))
	}
	return ObjectInfo{Key: key, Size: st.Size, ContentType: st.ContentType, Modified: st.LastModified}, nil
}

// Get opens an object for reading; the caller closes it.
func (o *Objects) Get(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error) {
	info, err := o.Stat(ctx, key)
	if err != nil {
		return nil, ObjectInfo{}, err
	}
	obj, err := o.client.GetObject(ctx, o.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, ObjectInfo{}, fmt.Errorf("get %s: %s", key, describeS3Error(err))
	}
	return obj, info, nil
}

// PresignDownload returns a URL valid for ttl that downloads key as an attachment
// named filename.
func (o *Objects) PresignDownload(ctx context.Context, key, filename string, ttl time.Duration) (*url.URL, error) {
	params := url.Values{}
	params.Set("response-content-disposition", ContentDisposition(filename))
	u, err := o.client.PresignedGetObject(ctx, o.bucket, key, ttl, params)
	if err != nil {
		return nil, fmt.Errorf("presign %s: %s", key, describeS3Error(err))
	}
	return u, nil
}

// Purge removes every version of an object (the bucket is versioned), so
// nothing of it is kept; purging a missing key is not an error.
func (o *Objects) Purge(ctx context.Context, key string) error {
	for v := range o.client.ListObjects(ctx, o.bucket, minio.ListObjectsOptions{Prefix: key, WithVersions: true}) {
		if v.Err != nil {
			return fmt.Errorf("purge %s: %s", key, describeS3Error(v.Err))
		}
		if v.Key != key {
			continue
		}
		if err := o.client.RemoveObject(ctx, o.bucket, key, minio.RemoveObjectOptions{VersionID: v.VersionID}); err != nil {
			return fmt.Errorf("purge %s: %s", key, describeS3Error(err))
		}
	}
	return nil
}

// Versions is how many versions of key the store holds (delete markers included).
func (o *Objects) Versions(ctx context.Context, key string) (int, error) {
	n := 0
	for v := range o.client.ListObjects(ctx, o.bucket, minio.ListObjectsOptions{Prefix: key, WithVersions: true}) {
		if v.Err != nil {
			return 0, fmt.Errorf("list %s: %s", key, describeS3Error(v.Err))
		}
		if v.Key == key {
			n++
		}
	}
	return n, nil
}

// Delete removes an object; deleting a missing key is not an error.
func (o *Objects) Delete(ctx context.Context, key string) error {
	if err := o.client.RemoveObject(ctx, o.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("delete %s: %s", key, describeS3Error(err))
	}
	return nil
}

// Ping checks that the store answers and the bucket exists (for /readyz).
func (o *Objects) Ping(ctx context.Context) error {
	ok, err := o.client.BucketExists(ctx, o.bucket)
	if err != nil {
		return errors.New(describeS3Error(err))
	}
	if !ok {
		return fmt.Errorf("bucket %q is missing", o.bucket)
	}
	return nil
}

// ContentDisposition is an attachment header value with an RFC 6266 encoded name.
func ContentDisposition(filename string) string {
	if filename == "" {
		return "attachment"
	}
	return "attachment; filename*=UTF-8''" + url.PathEscape(filename)
}
