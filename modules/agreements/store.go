package agreements

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"

	"kportal/modules/apperr"
	"kportal/storage"
	"kportal/tenants"
)

// Signature is one signing of one version of the agreement by a tenant. Body
// is the exact text that was shown and signed; Checksum its sha256.
type Signature struct {
	bun.BaseModel `bun:"table:agreement_signatures"`

	TenantID         uuid.UUID `bun:"tenant_id,pk,type:uuid"`
	ID               uuid.UUID `bun:"id,pk,type:uuid"`
	Version          string    `bun:"version"`
	VersionPublished time.Time `bun:"version_published,type:date"`
	Body             string    `bun:"body"`
	Checksum         string    `bun:"checksum"`
	TenantName       string    `bun:"tenant_name"`
	Orgnr            string    `bun:"orgnr"`
	Kommunenummer    string    `bun:"kommunenummer"`
	SignerID         uuid.UUID `bun:"signer_id,type:uuid"`
	SignerName       string    `bun:"signer_name"`
	SignerTitle      string    `bun:"signer_title"`
	SignedAt         time.Time `bun:"signed_at"`
	ReceiptKey       string    `bun:"receipt_key"`
	ReceiptSize      int64     `bun:"receipt_size"`
	ReceiptSHA256    string    `bun:"receipt_sha256"`
}

// Applies reports whether a tenant of this kind signs the agreement: kommuner
// and private providers do; helseforetak and the national authority do not.
func Applies(kind tenants.Kind) bool {
	return kind == tenants.KindKommune || kind == tenants.KindPrivate
}

// InForce is the tenant's agreement in force: its newest signature of any
// version (a signed older version stays in force until a newer one is
// signed), nil when it never signed. db may be a transaction; the query runs
// with the tenant in force (tenants.WithTenantTx).
func InForce(ctx context.Context, db bun.IDB, tenantID uuid.UUID) (*Signature, error) {
	var out *Signature
	err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		s := new(Signature)
		err := tx.NewSelect().Model(s).Where("tenant_id = ?", tenantID).
			OrderExpr("signed_at DESC, version_published DESC, id").Limit(1).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		out = s
		return nil
	})
	return out, err
}

// ObjectStore is what the store needs of object storage (*storage.Objects).
type ObjectStore interface {
	Put(ctx context.Context, key string, r io.Reader, size int64, opt storage.PutOptions) error
	Get(ctx context.Context, key string) (io.ReadCloser, storage.ObjectInfo, error)
	Delete(ctx context.Context, key string) error
}

// Options configure the store; the zero value is kportal's defaults.
type Options struct {
	// Versions holds the agreement versions (*.md at its root); nil is the
	// versions embedded in kportal.
	Versions fs.FS
	// Operator is the databehandler named in the text; zero is DefaultOperator.
	Operator Operator
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Store keeps signatures in PostgreSQL and receipts in object storage.
type Store struct {
	db       bun.IDB
	objects  ObjectStore
	operator Operator
	now      func() time.Time

	mu      sync.RWMutex
	catalog *Catalog
}

// NewStore returns the store.
func NewStore(db bun.IDB, objects ObjectStore, opt Options) (*Store, error) {
	s := &Store{db: db, objects: objects, operator: opt.Operator, now: opt.Now}
	if s.operator == (Operator{}) {
		s.operator = DefaultOperator
	}
	if s.now == nil {
		s.now = time.Now
	}
	fsys := opt.Versions
	if fsys == nil {
		fsys = EmbeddedVersions()
	}
	if err := s.UseVersions(fsys); err != nil {
		return nil, err
	}
	return s, nil
}

// UseVersions replaces the set of versions (a new version is published by
// adding its file). Signatures already made are unaffected.
func (s *Store) UseVersions(fsys fs.FS) error {
	c, err := LoadCatalog(fsys)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.catalog = c
	s.mu.Unlock()
	return nil
}

// Catalog is the current set of versions.
func (s *Store) Catalog() *Catalog {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.catalog
}

// Operator is the databehandler named in the text.
func (s *Store) Operator() Operator { return s.operator }

// Current is the version in effect now and its text for a tenant; nil when no
// version is published yet.
func (s *Store) Current(t *tenants.Tenant) (*Text, error) {
	v := s.Catalog().Current(s.now())
	if v == nil {
		return nil, nil
	}
	return v.Render(ControllerOf(t), s.operator)
}

// State is where a tenant stands with the current version.
type State string

const (
	StateUnpublished State = "unpublished" // no version is published yet
	StateNone        State = "none"        // never signed
	StateOutdated    State = "outdated"    // signed an older version: must sign the new one
	StateCurrent     State = "current"     // signed the current version
)

// Status is a tenant's agreement situation.
type Status struct {
	State   State
	Current *Text       // the current version's text for the tenant
	Signed  *Signature  // the signature of the current version
	InForce *Signature  // the newest signature of any version
	History []Signature // every signature, newest first
}

// Status tells where a tenant stands: the current text, whether it is signed,
// what is in force, and every signature.
func (s *Store) Status(ctx context.Context, t *tenants.Tenant) (*Status, error) {
	cur, err := s.Current(t)
	if err != nil {
		return nil, err
	}
	st := &Status{Current: cur}
	if st.History, err = s.Signatures(ctx, t.ID); err != nil {
		return nil, err
	}
	if len(st.History) > 0 {
		st.InForce = &st.History[0]
	}
	switch {
	case cur == nil:
		st.State = StateUnpublished
	case len(st.History) == 0:
		st.State = StateNone
	default:
		st.State = StateOutdated
		for i := range st.History {
			if st.History[i].Version == cur.Version.ID {
				st.Signed, st.State = &st.History[i], StateCurrent
			}
		}
	}
	return st, nil
}

// NeedsSignature reports whether a tenant's admins must sign the current
// version (never signed it, or signed only older ones).
func (s *Store) NeedsSignature(ctx context.Context, t *tenants.Tenant) (bool, error) {
	if !Applies(t.Kind) {
		return false, nil
	}
	v := s.Catalog().Current(s.now())
	if v == nil {
		return false, nil
	}
	signed, err := s.hasSigned(ctx, t.ID, v.ID)
	return !signed, err
}

// Signatures lists a tenant's signatures, newest first.
func (s *Store) Signatures(ctx context.Context, tenantID uuid.UUID) ([]Signature, error) {
	var out []Signature
	err := tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewSelect().Model(&out).Where("tenant_id = ?", tenantID).
			OrderExpr("signed_at DESC, version_published DESC, id").Scan(ctx)
	})
	return out, err
}

// Get returns one signature of a tenant; not found in any other tenant.
func (s *Store) Get(ctx context.Context, tenantID, id uuid.UUID) (*Signature, error) {
	sig := new(Signature)
	err := tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewSelect().Model(sig).Where("tenant_id = ? AND id = ?", tenantID, id).Scan(ctx)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "Fant ikke denne signaturen av databehandleravtalen.")
	}
	if err != nil {
		return nil, err
	}
	return sig, nil
}

// Receipt opens a signature's PDF receipt; the caller closes it.
func (s *Store) Receipt(ctx context.Context, tenantID, id uuid.UUID) (*Signature, io.ReadCloser, storage.ObjectInfo, error) {
	sig, err := s.Get(ctx, tenantID, id)
	if err != nil {
		return nil, nil, storage.ObjectInfo{}, err
	}
	rc, info, err := s.objects.Get(ctx, sig.ReceiptKey)
	if errors.Is(err, storage.ErrObjectNotFound) {
		return nil, nil, storage.ObjectInfo{}, apperr.Wrap(err, apperr.NotFound, "Kvitteringen finnes ikke i arkivet. Kontakt kportal.")
	}
	if err != nil {
		return nil, nil, storage.ObjectInfo{}, apperr.Wrap(err, apperr.Unavailable, "Kvitteringen kan ikke hentes nå. Prøv igjen om litt.")
	}
	return sig, rc, info, nil
}

// ReceiptKey is where a signature's receipt is stored.
func ReceiptKey(tenantID, id uuid.UUID) string {
	return "tenants/" + tenantID.String() + "/agreements/" + id.String() + ".pdf"
}

// SignRequest is a signing as the form posts it: the version and checksum of
// the text the person saw, their title, and that they confirmed their
// authority. PersonID and Name are the signed-in person's.
type SignRequest struct {
	Tenant    *tenants.Tenant
	PersonID  uuid.UUID
	Name      string
	Title     string
	Version   string
	Checksum  string
	Confirmed bool
}

// Sign records a signature of the current version and stores its PDF
// receipt. It is all or nothing: when the receipt cannot be stored no
// signature is recorded, and when the signature cannot be recorded the
// receipt is removed. Refusals are apperr.Conflict (a newer version was
// published, or this version is already signed) or apperr.Invalid (the text
// does not match, no title, not confirmed); nothing is written then.
func (s *Store) Sign(ctx context.Context, req SignRequest) (*Signature, error) {
	t := req.Tenant
	if t == nil || !Applies(t.Kind) {
		return nil, apperr.New(apperr.NotFound, "Databehandleravtalen gjelder bare kommuner og private virksomheter.")
	}
	cur, err := s.Current(t)
	if err != nil {
		return nil, err
	}
	if cur == nil {
		return nil, apperr.New(apperr.Conflict, "Ingen versjon av databehandleravtalen er publisert ennå.")
	}
	if req.Version != cur.Version.ID {
		return nil, apperr.New(apperr.Conflict,
			"Databehandleravtalen er oppdatert til versjon %s. Du signerte ikke: les den nye versjonen nedenfor og signer den.", cur.Version.ID)
	}
	signed, err := s.hasSigned(ctx, t.ID, cur.Version.ID)
	if err != nil {
		return nil, err
	}
	if signed {
		return nil, alreadySigned(t, cur.Version.ID)
	}
	if req.Checksum != cur.Checksum {
		return nil, apperr.New(apperr.Invalid,
			"Avtaleteksten du så, stemmer ikke med teksten som gjelder nå. Last siden på nytt, les avtalen og signer igjen. Ingenting er signert.")
	}
	title := strings.Join(strings.Fields(req.Title), " ")
	switch {
	case title == "":
		return nil, apperr.New(apperr.Invalid, "Skriv inn tittelen eller stillingen din.")
	case utf8.RuneCountInString(title) > 200:
		return nil, apperr.New(apperr.Invalid, "Tittelen kan være høyst 200 tegn.")
	case !req.Confirmed:
		return nil, apperr.New(apperr.Invalid, "Bekreft at du har lest avtalen og har fullmakt til å signere for %s.", t.Name)
	}
	name := strings.Join(strings.Fields(req.Name), " ")
	if r := []rune(name); len(r) > 200 {
		name = string(r[:200])
	}
	if name == "" || req.PersonID == uuid.Nil {
		return nil, apperr.New(apperr.Invalid, "Vi vet ikke hvem du er. Logg inn på nytt og prøv igjen.")
	}

	sig := &Signature{
		TenantID:         t.ID,
		ID:               uuid.New(),
		Version:          cur.Version.ID,
		VersionPublished: dateOnly(cur.Version.Published),
		Body:             cur.Body,
		Checksum:         cur.Checksum,
		TenantName:       t.Name,
		Orgnr:            t.Orgnr,
		Kommunenummer:    t.Kommunenummer,
		SignerID:         req.PersonID,
		SignerName:       name,
		SignerTitle:      title,
		SignedAt:         s.now().UTC().Truncate(time.Microsecond), // PostgreSQL's precision
	}
	sig.ReceiptKey = ReceiptKey(t.ID, sig.ID)
	pdf, err := ReceiptPDF(sig, s.operator)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(pdf)
	sig.ReceiptSize, sig.ReceiptSHA256 = int64(len(pdf)), hex.EncodeToString(sum[:])

	// The receipt first: if it cannot be stored, nothing is recorded.
	if err := s.objects.Put(ctx, sig.ReceiptKey, bytes.NewReader(pdf), int64(len(pdf)), storage.PutOptions{
		ContentType: "application/pdf",
		Metadata:    map[string]string{"Tenant": t.ID.String(), "Version": sig.Version, "Checksum": sig.Checksum},
	}); err != nil {
		return nil, apperr.Wrap(err, apperr.Unavailable, "Kvitteringen kunne ikke lagres, så avtalen er ikke signert. Prøv igjen om litt.")
	}
	err = tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: t.ID, PersonID: req.PersonID}, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.NewInsert().Model(sig).Exec(ctx)
		return err
	})
	if err != nil {
		// The signature is not recorded: take the receipt away again, even if
		// the request was cancelled meanwhile.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if derr := s.objects.Delete(dctx, sig.ReceiptKey); derr != nil {
			err = errors.Join(err, fmt.Errorf("removing the receipt of an unrecorded signature: %w", derr))
		}
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation: signed meanwhile
			return nil, apperr.Wrap(err, apperr.Conflict, "%s", alreadySigned(t, sig.Version).Message)
		}
		return nil, err
	}
	return sig, nil
}

func (s *Store) hasSigned(ctx context.Context, tenantID uuid.UUID, version string) (bool, error) {
	var n int64
	err := tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		var err error
		n, err = tx.NewSelect().Model((*Signature)(nil)).Where("tenant_id = ? AND version = ?", tenantID, version).Count(ctx)
		return err
	})
	return n > 0, err
}

// dateOnly is t's calendar date at midnight UTC, as a date column stores it
// (Oslo's midnight would be the day before in UTC).
func dateOnly(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func alreadySigned(t *tenants.Tenant, version string) *apperr.Error {
	return apperr.New(apperr.Conflict, "%s har allerede signert versjon %s av databehandleravtalen. Den skal ikke signeres på nytt.", t.Name, version)
}
