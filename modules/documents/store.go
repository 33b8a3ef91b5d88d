package documents

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"kportal/modules/apperr"
	"kportal/modules/web"
	"kportal/storage"
	"kportal/tenants"
)

// Casbin object and actions.
const (
	Object       = "document"
	ActionCreate = "create" // a LIS keeps a dokumentarkiv: upload, list, delete their own
	ActionRead   = "read"   // open one document: its owner, or someone following the LIS
)

// Kinds of document.
const (
	KindKursbevis = "kursbevis"
	KindOther     = "other"
)

// DefaultMaxBytes is a tenant's largest upload unless it chose another.
const DefaultMaxBytes = 25 << 20

// PendingAge is how old an object without a row must be before the cleanup
// job removes it: far longer than any upload takes.
const PendingAge = 24 * time.Hour

// AuditDownloaded is the audit action for a document opened by someone other than its owner.
const AuditDownloaded = tenants.AuditDocumentOpened

// KindLabel is a kind in Norwegian.
func KindLabel(k string) string {
	return map[string]string{KindKursbevis: "Kursbevis", KindOther: "Annet dokument"}[k]
}

// TypeLabel is a content type as people say it.
func TypeLabel(ct string) string {
	return map[string]string{"application/pdf": "PDF", "image/png": "PNG", "image/jpeg": "JPEG", "image/heic": "HEIC"}[ct]
}

var extensions = map[string]string{"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg", "image/heic": ".heic"}

// Document is one stored file.
type Document struct {
	TenantID    uuid.UUID `bun:"tenant_id" json:"-"`
	ID          uuid.UUID `bun:"id" json:"id"`
	PersonID    uuid.UUID `bun:"person_id" json:"person_id"`
	Kind        string    `bun:"kind" json:"kind"`
	Name        string    `bun:"name" json:"name"`
	ContentType string    `bun:"content_type" json:"content_type"`
	Size        int64     `bun:"size" json:"size"`
	ObjectKey   string    `bun:"object_key" json:"-"`
	UploadedAt  time.Time `bun:"uploaded_at" json:"uploaded_at"`
	// References is what refers to it (the archive fills it).
	References []Reference `bun:"-" json:"references,omitempty"`
}

// KindLabel is the kind in Norwegian.
func (d *Document) KindLabel() string { return KindLabel(d.Kind) }

// TypeLabel is the file type (PDF, PNG, JPEG, HEIC).
func (d *Document) TypeLabel() string { return TypeLabel(d.ContentType) }

// SizeLabel is the size for people: "340 kB", "2,4 MB".
func (d *Document) SizeLabel() string { return SizeLabel(d.Size) }

// UploadedLabel is the upload date in Norway.
func (d *Document) UploadedLabel() string { return d.UploadedAt.In(web.Oslo).Format("2.1.2006") }

// Image reports whether a browser can show it as an image (HEIC it cannot).
func (d *Document) Image() bool { return d.ContentType == "image/png" || d.ContentType == "image/jpeg" }

// Locked reports whether something signed or approved refers to it: it is kept.
func (d *Document) Locked() bool {
	for _, r := range d.References {
		if r.Locked {
			return true
		}
	}
	return false
}

// SizeLabel writes a byte count in Norwegian style, in the binary units the
// limit is set in: "264 byte", "340 kB", "2,4 MB", "25 MB".
func SizeLabel(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d byte", n)
	case n < 1<<20:
		return fmt.Sprintf("%d kB", (n+1<<9)>>10)
	}
	s := strings.Replace(fmt.Sprintf("%.1f", float64(n)/(1<<20)), ".", ",", 1)
	return strings.TrimSuffix(s, ",0") + " MB"
}

// Reference is something that refers to a document.
type Reference struct {
	Label string `json:"label"` // Norwegian: "Kurs: Traumekurs (signert)"
	// Locked: signed, approved or waiting for a decision: the document stays.
	Locked bool `json:"locked"`
}

// Referrer finds what refers to the given documents of a tenant. The modules
// with attachment slots (activities, goals) each give one; the host wires them.
type Referrer func(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, ids []uuid.UUID) (map[uuid.UUID][]Reference, error)

// Store keeps documents: rows in PostgreSQL, files in the object store.
type Store struct {
	db        bun.IDB
	objects   *storage.Objects
	referrers []Referrer
	now       func() time.Time
}

// NewStore returns a store on db (the application role) and objects.
func NewStore(db bun.IDB, objects *storage.Objects, referrers ...Referrer) *Store {
	return &Store{db: db, objects: objects, referrers: referrers, now: time.Now}
}

func (s *Store) tx(ctx context.Context, tenantID, person uuid.UUID, fn func(ctx context.Context, tx bun.Tx) error) error {
	return tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID, PersonID: person}, fn)
}

// ObjectKey is where a document's file lives; never derived from its name.
func ObjectKey(tenantID, personID, id uuid.UUID) string {
	return "tenants/" + tenantID.String() + "/people/" + personID.String() + "/" + id.String()
}

// MaxBytes is the tenant's largest upload.
func MaxBytes(ctx context.Context, tx bun.IDB, tenantID uuid.UUID) (int64, error) {
	var n []int64
	if err := tx.NewRaw("SELECT max_bytes FROM document_settings WHERE tenant_id = ?", tenantID).Scan(ctx, &n); err != nil {
		return 0, err
	}
	if len(n) == 0 {
		return DefaultMaxBytes, nil
	}
	return n[0], nil
}

// MaxBytes is the tenant's largest upload.
func (s *Store) MaxBytes(ctx context.Context, tenantID uuid.UUID) (int64, error) {
	var n int64
	err := s.tx(ctx, tenantID, uuid.Nil, func(ctx context.Context, tx bun.Tx) error {
		var err error
		n, err = MaxBytes(ctx, tx, tenantID)
		return err
	})
	return n, err
}

// SetMaxBytes sets the tenant's largest upload (1–500 MB).
func (s *Store) SetMaxBytes(ctx context.Context, tenantID uuid.UUID, admin tenants.Actor, mb int) error {
	if mb < 1 || mb > 500 {
		return apperr.InvalidFields(map[string]string{"max_mb": "Velg en grense mellom 1 og 500 MB."})
	}
	return s.tx(ctx, tenantID, admin.PersonID, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO document_settings (tenant_id, max_bytes) VALUES (?, ?)
			ON CONFLICT (tenant_id) DO UPDATE SET max_bytes = excluded.max_bytes`, tenantID, int64(mb)<<20)
		return err
	})
}

// CleanName makes a client's file name safe to show: a name with folder parts
// or control characters is refused (a clear message rather than a silent
// guess); invisible formatting characters (such as right-to-left overrides
// that disguise an extension) are dropped, spaces collapsed, length capped.
func CleanName(raw, contentType string) (string, error) {
	if !utf8.ValidString(raw) {
		return "", apperr.New(apperr.Invalid, "Filnavnet har tegn som ikke kan leses. Gi filen et nytt navn og prøv igjen.")
	}
	if strings.ContainsAny(raw, `/\`) || raw == ".." {
		return "", apperr.New(apperr.Invalid, `Filnavnet kan ikke inneholde mapper (/ eller \). Gi filen et vanlig navn og prøv igjen.`)
	}
	var b strings.Builder
	for _, r := range raw {
		switch {
		case unicode.IsControl(r):
			return "", apperr.New(apperr.Invalid, "Filnavnet inneholder kontrolltegn. Gi filen et vanlig navn og prøv igjen.")
		case unicode.Is(unicode.Cf, r):
			continue
		}
		b.WriteRune(r)
	}
	name := strings.Trim(strings.Join(strings.Fields(b.String()), " "), ". ")
	if name == "" {
		name = "dokument" + extensions[contentType]
	}
	if r := []rune(name); len(r) > 200 {
		ext := ""
		if i := strings.LastIndexByte(name, '.'); i > 0 && len(name)-i <= 10 {
			ext = name[i:]
		}
		name = string(r[:200-utf8.RuneCountInString(ext)]) + ext
	}
	return name, nil
}

// Upload is a file as it arrives.
type Upload struct {
	Kind string
	Name string // as the client named it
	Body io.Reader
	Size int64 // exact length, or -1 when unknown (a multipart form)
}

var errTooLarge = errors.New("upload larger than the limit")

const (
	msgTooLarge = "Filen er for stor. Den største filen du kan laste opp er %s."
	msgEmpty    = "Filen er tom. Velg en fil med innhold."
	msgType     = "Filen er ikke en PDF, PNG, JPEG eller HEIC. Kontroller filen: det er innholdet som sjekkes, ikke navnet."
	msgBroken   = "Opplastingen ble avbrutt før hele filen kom fram. Ingenting er lagret; prøv igjen."
	msgStore    = "Dokumentlageret svarer ikke akkurat nå. Ingenting er lagret; prøv igjen om litt."
)

// source counts what is read from the client and stops past the limit, and
// remembers the client's own error, so a failed put can say whose fault it was.
type source struct {
	r   io.Reader
	n   int64
	max int64
	err error
	eof bool
}

func (s *source) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	if s.n > s.max {
		s.err = errTooLarge
		return n, errTooLarge
	}
	if err == io.EOF {
		s.eof = true
	} else if err != nil {
		s.err = err
	}
	return n, err
}

// Upload stores a file for its owner: checked by content, streamed to the
// object store encrypted, and only then given its row. The object's key is
// noted as pending before it is written, so an upload that dies half way
// (the server, the store) leaves nothing the cleanup job does not remove.
func (s *Store) Upload(ctx context.Context, tenantID uuid.UUID, owner tenants.Actor, in Upload) (*Document, error) {
	if in.Kind == "" {
		in.Kind = KindOther
	}
	if KindLabel(in.Kind) == "" {
		return nil, apperr.InvalidFields(map[string]string{"kind": "Velg hva slags dokument det er."})
	}
	max, err := s.MaxBytes(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	if in.Size > max {
		return nil, apperr.New(apperr.Invalid, msgTooLarge, SizeLabel(max))
	}
	if in.Size == 0 {
		return nil, apperr.New(apperr.Invalid, msgEmpty)
	}
	src := &source{r: in.Body, max: max}
	head := make([]byte, storage.SniffLen)
	n, err := io.ReadFull(src, head)
	head = head[:n]
	switch {
	case src.err != nil:
		return nil, apperr.New(apperr.Invalid, msgBroken)
	case n == 0:
		return nil, apperr.New(apperr.Invalid, msgEmpty)
	case err != nil && err != io.ErrUnexpectedEOF:
		return nil, err
	}
	ct := storage.SniffType(head)
	if ct == "" {
		return nil, apperr.New(apperr.Invalid, msgType)
	}
	name, err := CleanName(in.Name, ct)
	if err != nil {
		return nil, err
	}
	d := &Document{TenantID: tenantID, ID: uuid.New(), PersonID: owner.PersonID, Kind: in.Kind, Name: name, ContentType: ct}
	d.ObjectKey = ObjectKey(tenantID, owner.PersonID, d.ID)
	if err := s.tx(ctx, tenantID, owner.PersonID, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO document_objects_pending (tenant_id, object_key) VALUES (?, ?)", tenantID, d.ObjectKey)
		return err
	}); err != nil {
		return nil, err
	}
	body := io.MultiReader(bytes.NewReader(head), src)
	perr := s.objects.Put(ctx, d.ObjectKey, body, in.Size, storage.PutOptions{ContentType: ct, Encrypt: true})
	d.Size = src.n
	if perr == nil && (d.Size == 0 || in.Size >= 0 && d.Size != in.Size) {
		perr = errors.New("size mismatch")
	}
	if perr != nil {
		s.abandon(tenantID, d.ObjectKey)
		switch {
		case src.err == errTooLarge:
			return nil, apperr.New(apperr.Invalid, msgTooLarge, SizeLabel(max))
		case src.err != nil || ctx.Err() != nil || src.eof && in.Size >= 0 && src.n < in.Size:
			return nil, apperr.Wrap(perr, apperr.Invalid, msgBroken)
		}
		return nil, apperr.Wrap(perr, apperr.Unavailable, msgStore)
	}
	err = s.tx(ctx, tenantID, owner.PersonID, func(ctx context.Context, tx bun.Tx) error {
		if err := tx.NewRaw(`INSERT INTO documents (tenant_id, id, person_id, kind, name, content_type, size, object_key)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING uploaded_at`,
			tenantID, d.ID, d.PersonID, d.Kind, d.Name, d.ContentType, d.Size, d.ObjectKey).Scan(ctx, &d.UploadedAt); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "DELETE FROM document_objects_pending WHERE tenant_id = ? AND object_key = ?", tenantID, d.ObjectKey)
		return err
	})
	if err != nil {
		s.abandon(tenantID, d.ObjectKey)
		return nil, err
	}
	return d, nil
}

// abandon removes an object that will get no row, and its pending note; when
// the store cannot be reached the note stays for the cleanup job. It runs
// outside the request's context, which may be what was cancelled.
func (s *Store) abandon(tenantID uuid.UUID, key string) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := s.objects.Purge(ctx, key); err != nil {
		return
	}
	_ = s.tx(ctx, tenantID, uuid.Nil, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM document_objects_pending WHERE tenant_id = ? AND object_key = ?", tenantID, key)
		return err
	})
}

const docColumns = "tenant_id, id, person_id, kind, name, content_type, size, object_key, uploaded_at"

// List is a person's dokumentarkiv, newest first, each with what refers to it.
func (s *Store) List(ctx context.Context, tenantID, personID uuid.UUID) ([]Document, error) {
	var out []Document
	err := s.tx(ctx, tenantID, personID, func(ctx context.Context, tx bun.Tx) error {
		if err := tx.NewRaw(`SELECT `+docColumns+` FROM documents WHERE tenant_id = ? AND person_id = ? ORDER BY uploaded_at DESC LIMIT 1000`,
			tenantID, personID).Scan(ctx, &out); err != nil {
			return err
		}
		return s.fillReferences(ctx, tx, tenantID, out)
	})
	return out, err
}

func (s *Store) fillReferences(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, docs []Document) error {
	if len(docs) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(docs))
	for i := range docs {
		ids[i] = docs[i].ID
	}
	for _, ref := range s.referrers {
		m, err := ref(ctx, tx, tenantID, ids)
		if err != nil {
			return err
		}
		for i := range docs {
			docs[i].References = append(docs[i].References, m[docs[i].ID]...)
		}
	}
	return nil
}

// Owned returns the person's own document, for linking it (activities,
// goals); NotFound for anything else.
func Owned(ctx context.Context, tx bun.IDB, tenantID, personID, id uuid.UUID) (*Document, error) {
	d := new(Document)
	err := tx.NewRaw(`SELECT `+docColumns+` FROM documents WHERE tenant_id = ? AND person_id = ? AND id = ?`, tenantID, personID, id).Scan(ctx, d)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "Fant ikke dokumentet.")
	}
	return d, err
}

// Vanished turns the foreign-key error of an attachment slot (a document
// deleted while it was being linked) into the form's message; other errors
// pass through.
func Vanished(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23503" && (pe.ConstraintName == "activities_document" || pe.ConstraintName == "goal_progress_document") {
		return apperr.InvalidFields(map[string]string{"document": "Dokumentet finnes ikke lenger. Velg et annet."})
	}
	return err
}

// Ref is what another page shows of a linked document.
type Ref struct {
	ID          uuid.UUID `bun:"id"`
	Name        string    `bun:"name"`
	ContentType string    `bun:"content_type"`
	Size        int64     `bun:"size"`
}

// TypeLabel is the file type.
func (r *Ref) TypeLabel() string { return TypeLabel(r.ContentType) }

// SizeLabel is the size for people.
func (r *Ref) SizeLabel() string { return SizeLabel(r.Size) }

// Image reports whether a browser shows it as an image.
func (r *Ref) Image() bool { return r.ContentType == "image/png" || r.ContentType == "image/jpeg" }

// Refs describes documents of a tenant by id, for pages that show a link.
func Refs(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]*Ref, error) {
	out := map[uuid.UUID]*Ref{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []Ref
	if err := tx.NewRaw("SELECT id, name, content_type, size FROM documents WHERE tenant_id = ? AND id = ANY(?)", tenantID, pgdialect.Array(ids)).Scan(ctx, &rows); err != nil {
		return nil, err
	}
	for i := range rows {
		out[rows[i].ID] = &rows[i]
	}
	return out, nil
}

// Choices lists a person's documents, newest first, for a form that attaches one.
func Choices(ctx context.Context, tx bun.IDB, tenantID, personID uuid.UUID) ([]Ref, error) {
	var out []Ref
	err := tx.NewRaw("SELECT id, name, content_type, size FROM documents WHERE tenant_id = ? AND person_id = ? ORDER BY uploaded_at DESC LIMIT 200",
		tenantID, personID).Scan(ctx, &out)
	return out, err
}

// mayView: the owner, or the LIS's supervisor, veileder, leder or a delegate
// of the leder, while that relation lasts.
func (s *Store) mayView(ctx context.Context, tx bun.IDB, d *Document, person uuid.UUID) (bool, error) {
	if d.PersonID == person {
		return true, nil
	}
	for _, rel := range []func(context.Context, bun.IDB, uuid.UUID, uuid.UUID, uuid.UUID) (bool, error){tenants.Supervises, tenants.Advises, tenants.Manages} {
		if ok, err := rel(ctx, tx, d.TenantID, person, d.PersonID); err != nil || ok {
			return ok, err
		}
	}
	return tenants.MayApprove(ctx, tx, d.TenantID, person, d.PersonID, s.now())
}

// Open returns a document for a person who may see it; anyone else gets
// NotFound. Opening someone else's document is written to the audit log in
// the same transaction, before the file is handed out.
func (s *Store) Open(ctx context.Context, tenantID uuid.UUID, viewer tenants.Actor, id uuid.UUID, how string) (*Document, error) {
	d := new(Document)
	err := s.tx(ctx, tenantID, viewer.PersonID, func(ctx context.Context, tx bun.Tx) error {
		err := tx.NewRaw(`SELECT `+docColumns+` FROM documents WHERE tenant_id = ? AND id = ?`, tenantID, id).Scan(ctx, d)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.New(apperr.NotFound, "Fant ikke dokumentet.")
		}
		if err != nil {
			return err
		}
		ok, err := s.mayView(ctx, tx, d, viewer.PersonID)
		if err != nil {
			return err
		}
		if !ok {
			return apperr.New(apperr.NotFound, "Fant ikke dokumentet.")
		}
		if d.PersonID == viewer.PersonID {
			return nil
		}
		owner := d.PersonID
		return tenants.Audit(ctx, tx, &tenants.AuditEntry{TenantID: tenantID, ActorID: &viewer.PersonID, ActorName: viewer.Name,
			Action: AuditDownloaded, SubjectID: &owner, Details: how + ": " + d.Name + " (" + d.ID.String() + ")"})
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Delete removes a document its owner no longer wants, unless something
// signed, approved or waiting for a decision refers to it; unlocked
// references are emptied. Row first, noting the object as pending in the same
// transaction, then every version of the object.
func (s *Store) Delete(ctx context.Context, tenantID uuid.UUID, owner tenants.Actor, id uuid.UUID) error {
	var key string
	err := s.tx(ctx, tenantID, owner.PersonID, func(ctx context.Context, tx bun.Tx) error {
		var docs []Document
		if err := tx.NewRaw(`SELECT `+docColumns+` FROM documents WHERE tenant_id = ? AND person_id = ? AND id = ? FOR UPDATE`,
			tenantID, owner.PersonID, id).Scan(ctx, &docs); err != nil {
			return err
		}
		if len(docs) == 0 {
			return apperr.New(apperr.NotFound, "Fant ikke dokumentet.")
		}
		if err := s.fillReferences(ctx, tx, tenantID, docs); err != nil {
			return err
		}
		kept := apperr.New(apperr.Conflict, "Dokumentet er en del av noe som er signert, godkjent eller venter på behandling, og blir tatt vare på. Det kan ikke slettes.")
		if docs[0].Locked() {
			return kept
		}
		key = docs[0].ObjectKey
		if _, err := tx.ExecContext(ctx, "INSERT INTO document_objects_pending (tenant_id, object_key) VALUES (?, ?) ON CONFLICT DO NOTHING", tenantID, key); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "DELETE FROM documents WHERE tenant_id = ? AND id = ?", tenantID, id)
		if storage.SQLState(err) == "23001" { // referred to since the check above: the database's trigger keeps it
			return kept
		}
		return err
	})
	if err != nil {
		return err
	}
	s.abandon(tenantID, key)
	return nil
}

// Cleanup removes the objects of a tenant's pending notes older than
// PendingAge (uploads or deletions that never finished) and the notes.
func (s *Store) Cleanup(ctx context.Context, tenantID uuid.UUID) (int, error) {
	var keys []string
	err := s.tx(ctx, tenantID, uuid.Nil, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw("SELECT object_key FROM document_objects_pending WHERE tenant_id = ? AND since < ? ORDER BY since LIMIT 1000",
			tenantID, s.now().Add(-PendingAge)).Scan(ctx, &keys)
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, key := range keys {
		var live bool
		if err := s.tx(ctx, tenantID, uuid.Nil, func(ctx context.Context, tx bun.Tx) error {
			// A row with this key would mean the upload finished (it cannot:
			// the note goes in the row's transaction); its object then stays.
			return tx.NewRaw("SELECT EXISTS (SELECT 1 FROM documents WHERE tenant_id = ? AND object_key = ?)", tenantID, key).Scan(ctx, &live)
		}); err != nil {
			return n, err
		}
		if !live {
			if err := s.objects.Purge(ctx, key); err != nil {
				return n, err
			}
		}
		if err := s.tx(ctx, tenantID, uuid.Nil, func(ctx context.Context, tx bun.Tx) error {
			_, err := tx.ExecContext(ctx, "DELETE FROM document_objects_pending WHERE tenant_id = ? AND object_key = ?", tenantID, key)
			return err
		}); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// OwnDocuments lists the person's documents in every tenant, newest first
// (names and dates; opening one goes through its tenant's route). tx is a
// tenants.OwnRecordTx of that person.
func OwnDocuments(ctx context.Context, tx bun.IDB, personID uuid.UUID) ([]Document, error) {
	var out []Document
	err := tx.NewRaw(`SELECT `+docColumns+` FROM documents WHERE person_id = ? ORDER BY uploaded_at DESC LIMIT 1000`, personID).Scan(ctx, &out)
	return out, err
}
