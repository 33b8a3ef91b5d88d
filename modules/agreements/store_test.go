package agreements_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	"github.com/minio/minio-go/v7"
	"github.com/uptrace/bun"

	"kportal/modules/agreements"
	"kportal/modules/apperr"
	"kportal/storage"
	"kportal/storage/testenv"
	"kportal/tenants"
	"kportal/workers"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func newTenant(t *testing.T, db bun.IDB, name string, kind tenants.Kind) *tenants.Tenant {
	t.Helper()
	tn := &tenants.Tenant{Slug: "t-" + uuid.NewString()[:8], Name: name, Kind: kind,
		Orgnr: fmt.Sprintf("9%08d", rand.IntN(100000000))}
	if kind == tenants.KindKommune {
		tn.Kommunenummer = fmt.Sprintf("%04d", rand.IntN(10000))
	}
	if err := tenants.Create(context.Background(), db, tn); err != nil {
		t.Fatal(err)
	}
	return tn
}

func newPerson(t *testing.T, db bun.IDB) uuid.UUID {
	t.Helper()
	return testenv.NewPerson(t, db, "Astrid", "Lie")
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func day(s string) time.Time {
	d, err := time.ParseInLocation("2006-01-02 15:04", s, workers.Oslo)
	if err != nil {
		panic(err)
	}
	return d
}

// withSecondVersion is the embedded versions plus 2026-2, published on
// 2026-12-01.
func withSecondVersion(t *testing.T) fs.FS {
	t.Helper()
	first, err := fs.ReadFile(agreements.EmbeddedVersions(), "2026-1.md")
	if err != nil {
		t.Fatal(err)
	}
	second := strings.Replace(string(first), "id: 2026-1\npublished: 2026-11-01", "id: 2026-2\npublished: 2026-12-01", 1)
	second = strings.Replace(second, "## 5. Taushetsplikt", "## 5. Taushetsplikt\n\nNytt i versjon 2026-2: taushetsplikten gjelder også underleverandører.", 1)
	if second == string(first) {
		t.Fatal("could not derive version 2026-2")
	}
	return fstest.MapFS{
		"2026-1.md": {Data: first},
		"2026-2.md": {Data: []byte(second)},
	}
}

func newStore(t *testing.T, objects agreements.ObjectStore, opt agreements.Options) *agreements.Store {
	t.Helper()
	s, err := agreements.NewStore(testenv.Get(t).App, objects, opt)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// request is a correct signing of the current version for tenant.
func request(t *testing.T, s *agreements.Store, tn *tenants.Tenant, person uuid.UUID) agreements.SignRequest {
	t.Helper()
	cur, err := s.Current(tn)
	if err != nil || cur == nil {
		t.Fatalf("current version: %v %v", cur, err)
	}
	return agreements.SignRequest{Tenant: tn, PersonID: person, Name: "Astrid Lie", Title: "Kommunaldirektør helse og omsorg",
		Version: cur.Version.ID, Checksum: cur.Checksum, Confirmed: true}
}

func countRows(t *testing.T, db bun.IDB, tenantID uuid.UUID) int {
	t.Helper()
	var n int
	err := tenants.WithTenantTx(context.Background(), db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw("SELECT count(*) FROM agreement_signatures").Scan(ctx, &n)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func objectKeys(t *testing.T, o *storage.Objects, tenantID uuid.UUID) []string {
	t.Helper()
	var keys []string
	for obj := range o.Client().ListObjects(context.Background(), o.Bucket(), minio.ListObjectsOptions{Prefix: "tenants/" + tenantID.String() + "/", Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		keys = append(keys, obj.Key)
	}
	return keys
}

func wantCode(t *testing.T, err error, code apperr.Code, contains string) {
	t.Helper()
	if apperr.CodeOf(err) != code || !strings.Contains(apperr.MessageOf(err), contains) {
		t.Fatalf("got %v (%s), want %s with %q", err, apperr.CodeOf(err), code, contains)
	}
}

func TestSignAndNewVersions(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	objects := env.Objects(t)
	clk := &clock{t: day("2026-11-22 10:00")}
	s := newStore(t, objects, agreements.Options{Versions: withSecondVersion(t), Now: clk.Now})
	kommune := newTenant(t, env.App, "Ås kommune", tenants.KindKommune)
	person := newPerson(t, env.App)

	st, err := s.Status(ctx, kommune)
	if err != nil || st.State != agreements.StateNone || st.Current.Version.ID != "2026-1" || st.InForce != nil {
		t.Fatalf("before signing: %+v %v", st, err)
	}
	if sig, err := agreements.InForce(ctx, env.App, kommune.ID); sig != nil || err != nil {
		t.Fatalf("in force before signing: %+v %v", sig, err)
	}
	for _, want := range []string{"Behandlingsansvarlig: Ås kommune, organisasjonsnummer " + kommune.Orgnr + ", kommunenummer " + kommune.Kommunenummer,
		"Databehandler: " + agreements.DefaultOperator.Name, "Versjon 2026-1, publisert 1. november 2026."} {
		if !strings.Contains(st.Current.Body, want) {
			t.Errorf("current text lacks %q", want)
		}
	}
	if strings.Contains(st.Current.Body, "{{") || strings.Contains(st.Current.Body, "<no value>") {
		t.Fatal("text has unfilled template fields")
	}

	t.Run("bad input is refused and nothing is written", func(t *testing.T) {
		cases := []struct {
			name   string
			change func(r *agreements.SignRequest)
			code   apperr.Code
			msg    string
		}{
			{"empty title", func(r *agreements.SignRequest) { r.Title = "  " }, apperr.Invalid, "Skriv inn tittelen"},
			{"not confirmed", func(r *agreements.SignRequest) { r.Confirmed = false }, apperr.Invalid, "Bekreft"},
			{"wrong checksum", func(r *agreements.SignRequest) { r.Checksum = strings.Repeat("0", 64) }, apperr.Invalid, "stemmer ikke"},
			{"unknown version", func(r *agreements.SignRequest) { r.Version = "1999-1" }, apperr.Conflict, "oppdatert til versjon 2026-1"},
			{"not yet published version", func(r *agreements.SignRequest) { r.Version = "2026-2" }, apperr.Conflict, "versjon 2026-1"},
		}
		for _, c := range cases {
			r := request(t, s, kommune, person)
			c.change(&r)
			_, err := s.Sign(ctx, r)
			wantCode(t, err, c.code, c.msg)
		}
		if n := countRows(t, env.App, kommune.ID); n != 0 {
			t.Fatalf("%d signatures after refusals", n)
		}
		if keys := objectKeys(t, objects, kommune.ID); len(keys) != 0 {
			t.Fatalf("objects after refusals: %v", keys)
		}
	})

	first, err := s.Sign(ctx, request(t, s, kommune, person))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("the signature keeps what was signed", func(t *testing.T) {
		got, err := s.Get(ctx, kommune.ID, first.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Body != st.Current.Body || got.Checksum != agreements.Checksum(got.Body) || got.Checksum != st.Current.Checksum ||
			got.Version != "2026-1" || got.VersionPublished.Format("2006-01-02") != "2026-11-01" || got.SignerName != "Astrid Lie" || got.SignerTitle != "Kommunaldirektør helse og omsorg" ||
			got.SignerID != person || got.TenantName != "Ås kommune" || got.Orgnr != kommune.Orgnr ||
			!got.SignedAt.Equal(clk.Now()) || got.ReceiptKey != "tenants/"+kommune.ID.String()+"/agreements/"+first.ID.String()+".pdf" {
			t.Fatalf("stored signature: %+v", got)
		}
		_, rc, info, err := s.Receipt(ctx, kommune.ID, first.ID)
		if err != nil {
			t.Fatal(err)
		}
		pdf, _ := io.ReadAll(rc)
		rc.Close()
		if info.ContentType != "application/pdf" || int64(len(pdf)) != got.ReceiptSize || !strings.HasPrefix(string(pdf), "%PDF-") ||
			agreements.Checksum(string(pdf)) != got.ReceiptSHA256 {
			t.Fatalf("receipt: %d bytes %+v, row %d bytes %s", len(pdf), info, got.ReceiptSize, got.ReceiptSHA256)
		}
	})
	t.Run("signed current version is never asked again", func(t *testing.T) {
		st, err := s.Status(ctx, kommune)
		if err != nil || st.State != agreements.StateCurrent || st.Signed == nil || st.Signed.ID != first.ID {
			t.Fatalf("status: %+v %v", st, err)
		}
		if need, err := s.NeedsSignature(ctx, kommune); need || err != nil {
			t.Fatalf("needs signature: %v %v", need, err)
		}
		_, err = s.Sign(ctx, request(t, s, kommune, person))
		wantCode(t, err, apperr.Conflict, "har allerede signert versjon 2026-1")
		if n := countRows(t, env.App, kommune.ID); n != 1 {
			t.Fatalf("%d signatures after signing twice", n)
		}
		if keys := objectKeys(t, objects, kommune.ID); len(keys) != 1 {
			t.Fatalf("objects after signing twice: %v", keys)
		}
	})

	// 2026-2 takes effect: the kommune must sign it; 2026-1 stays in force.
	seen := request(t, s, kommune, person) // the form as it was shown before
	clk.Set(day("2026-12-01 00:00"))
	t.Run("a new version must be signed, the old one stays in force", func(t *testing.T) {
		st, err := s.Status(ctx, kommune)
		if err != nil || st.State != agreements.StateOutdated || st.Current.Version.ID != "2026-2" || st.Signed != nil || st.InForce.ID != first.ID {
			t.Fatalf("status after 2026-2: %+v %v", st, err)
		}
		if need, err := s.NeedsSignature(ctx, kommune); !need || err != nil {
			t.Fatalf("needs signature: %v %v", need, err)
		}
		if sig, err := agreements.InForce(ctx, env.App, kommune.ID); err != nil || sig == nil || sig.ID != first.ID || sig.Version != "2026-1" {
			t.Fatalf("in force: %+v %v", sig, err)
		}
	})
	t.Run("the outdated version is refused", func(t *testing.T) {
		_, err := s.Sign(ctx, seen)
		wantCode(t, err, apperr.Conflict, "oppdatert til versjon 2026-2")
		if n := countRows(t, env.App, kommune.ID); n != 1 {
			t.Fatalf("%d signatures after an outdated one", n)
		}
		if keys := objectKeys(t, objects, kommune.ID); len(keys) != 1 {
			t.Fatalf("objects after an outdated signing: %v", keys)
		}
	})
	second, err := s.Sign(ctx, request(t, s, kommune, person))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("after signing the new version", func(t *testing.T) {
		st, err := s.Status(ctx, kommune)
		if err != nil || st.State != agreements.StateCurrent || st.Signed.ID != second.ID || len(st.History) != 2 || st.History[0].ID != second.ID {
			t.Fatalf("status: %+v %v", st, err)
		}
		if !strings.Contains(second.Body, "Nytt i versjon 2026-2") || second.Checksum == first.Checksum {
			t.Fatal("the second signature does not hold the new text")
		}
		if sig, err := agreements.InForce(ctx, env.App, kommune.ID); err != nil || sig.ID != second.ID {
			t.Fatalf("in force: %+v %v", sig, err)
		}
	})
	t.Run("publishing a version on a running store", func(t *testing.T) {
		s := newStore(t, objects, agreements.Options{Now: clk.Now})
		if cur, _ := s.Current(kommune); cur.Version.ID != "2026-1" {
			t.Fatalf("embedded current: %s", cur.Version.ID)
		}
		if err := s.UseVersions(withSecondVersion(t)); err != nil {
			t.Fatal(err)
		}
		if cur, _ := s.Current(kommune); cur.Version.ID != "2026-2" {
			t.Fatalf("after publishing: %s", cur.Version.ID)
		}
		if err := s.UseVersions(fstest.MapFS{"x.md": {Data: []byte("no metadata")}}); err == nil {
			t.Fatal("a version without metadata was accepted")
		}
	})
}

func TestNotForHelseforetak(t *testing.T) {
	env := testenv.Get(t)
	s := newStore(t, env.Objects(t), agreements.Options{})
	hf := newTenant(t, env.App, "Helse Test HF", tenants.KindHF)
	r := agreements.SignRequest{Tenant: hf, PersonID: newPerson(t, env.App), Name: "A", Title: "B", Confirmed: true}
	_, err := s.Sign(context.Background(), r)
	wantCode(t, err, apperr.NotFound, "")
	if need, err := s.NeedsSignature(context.Background(), hf); need || err != nil {
		t.Fatalf("a helseforetak needs to sign: %v %v", need, err)
	}
}

// failingPut refuses to store anything.
type failingPut struct{ agreements.ObjectStore }

func (failingPut) Put(context.Context, string, io.Reader, int64, storage.PutOptions) error {
	return errors.New("disk full")
}

// racingPut stores the object, then lets race run (a concurrent signer).
type racingPut struct {
	agreements.ObjectStore
	keys []string
	race func()
}

func (r *racingPut) Put(ctx context.Context, key string, rd io.Reader, size int64, opt storage.PutOptions) error {
	if err := r.ObjectStore.Put(ctx, key, rd, size, opt); err != nil {
		return err
	}
	r.keys = append(r.keys, key)
	if r.race != nil {
		r.race()
	}
	return nil
}

func TestSignatureAndReceiptAreAllOrNothing(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	objects := env.Objects(t)
	person := newPerson(t, env.App)

	t.Run("receipt not stored: no signature", func(t *testing.T) {
		kommune := newTenant(t, env.App, "Vik kommune", tenants.KindKommune)
		s := newStore(t, failingPut{objects}, agreements.Options{})
		_, err := s.Sign(ctx, request(t, s, kommune, person))
		wantCode(t, err, apperr.Unavailable, "ikke signert")
		if n := countRows(t, env.App, kommune.ID); n != 0 {
			t.Fatalf("%d signatures without a receipt", n)
		}
		if sig, _ := agreements.InForce(ctx, env.App, kommune.ID); sig != nil {
			t.Fatal("an agreement is in force without a receipt")
		}
	})
	t.Run("signature not recorded: receipt removed", func(t *testing.T) {
		kommune := newTenant(t, env.App, "Sande kommune", tenants.KindKommune)
		s := newStore(t, &racingPut{ObjectStore: objects}, agreements.Options{})
		r := request(t, s, kommune, person)
		r.PersonID = uuid.New() // no such person: the insert fails
		_, err := s.Sign(ctx, r)
		if err == nil {
			t.Fatal("signed by a person who does not exist")
		}
		if n := countRows(t, env.App, kommune.ID); n != 0 {
			t.Fatalf("%d signatures", n)
		}
		if keys := objectKeys(t, objects, kommune.ID); len(keys) != 0 {
			t.Fatalf("receipt left behind: %v", keys)
		}
	})
	t.Run("two signers at once: one signature, the loser's receipt removed", func(t *testing.T) {
		kommune := newTenant(t, env.App, "Bø kommune", tenants.KindKommune)
		winner := newStore(t, objects, agreements.Options{})
		var won *agreements.Signature
		racer := &racingPut{ObjectStore: objects}
		racer.race = func() {
			var err error
			if won, err = winner.Sign(ctx, request(t, winner, kommune, person)); err != nil {
				t.Errorf("the winner: %v", err)
			}
		}
		loser := newStore(t, racer, agreements.Options{})
		_, err := loser.Sign(ctx, request(t, loser, kommune, person))
		wantCode(t, err, apperr.Conflict, "har allerede signert")
		if n := countRows(t, env.App, kommune.ID); n != 1 || won == nil {
			t.Fatalf("%d signatures, winner %v", n, won)
		}
		keys := objectKeys(t, objects, kommune.ID)
		if len(keys) != 1 || keys[0] != won.ReceiptKey {
			t.Fatalf("objects %v, want only the winner's %s", keys, won.ReceiptKey)
		}
		if _, err := objects.Stat(ctx, racer.keys[0]); !errors.Is(err, storage.ErrObjectNotFound) {
			t.Fatalf("the loser's receipt %s: %v", racer.keys[0], err)
		}
	})
}

// Another tenant's scope cannot read, change or remove a signature; the
// application cannot change or remove one even in its own tenant.
func TestIsolationSignatures(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	s := newStore(t, env.Objects(t), agreements.Options{})
	a := newTenant(t, env.App, "Kommune A", tenants.KindKommune)
	b := newTenant(t, env.App, "Kommune B", tenants.KindKommune)
	person := newPerson(t, env.App)
	sig, err := s.Sign(ctx, request(t, s, a, person))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("store methods in another tenant: not found", func(t *testing.T) {
		_, err := s.Get(ctx, b.ID, sig.ID)
		wantCode(t, err, apperr.NotFound, "")
		_, _, _, err = s.Receipt(ctx, b.ID, sig.ID)
		wantCode(t, err, apperr.NotFound, "")
		if list, err := s.Signatures(ctx, b.ID); err != nil || len(list) != 0 {
			t.Fatalf("tenant B lists %d signatures, %v", len(list), err)
		}
		if in, err := agreements.InForce(ctx, env.App, b.ID); in != nil || err != nil {
			t.Fatalf("tenant B has A's agreement in force: %+v %v", in, err)
		}
		if st, err := s.Status(ctx, b); err != nil || st.State != agreements.StateNone {
			t.Fatalf("tenant B's status: %+v %v", st, err)
		}
	})
	t.Run("no tenant set sees nothing", func(t *testing.T) {
		var n int
		if err := env.App.NewRaw("SELECT count(*) FROM agreement_signatures").Scan(ctx, &n); err != nil || n != 0 {
			t.Fatalf("saw %d signatures without a tenant (%v)", n, err)
		}
	})
	// The owner role has every privilege but is bound by forced row-level
	// security: this shows the policy itself, not the missing grants.
	for name, db := range map[string]bun.IDB{"owner": env.Owner, "application": env.App} {
		t.Run("on another tenant as "+name+": update and delete change nothing", func(t *testing.T) {
			_ = tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: b.ID}, func(ctx context.Context, tx bun.Tx) error {
				var n int
				if err := tx.NewRaw("SELECT count(*) FROM agreement_signatures WHERE id = ?", sig.ID).Scan(ctx, &n); err != nil || n != 0 {
					t.Errorf("tenant B read %d of A's signatures (%v)", n, err)
				}
				return nil
			})
			for _, q := range []string{
				"UPDATE agreement_signatures SET signer_title = 'endret' WHERE id = ?",
				"DELETE FROM agreement_signatures WHERE id = ?",
			} {
				err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: b.ID}, func(ctx context.Context, tx bun.Tx) error {
					res, err := tx.ExecContext(ctx, q, sig.ID)
					if err != nil {
						return err
					}
					if n, _ := res.RowsAffected(); n != 0 {
						t.Errorf("%s: tenant B changed %d of A's rows", q, n)
					}
					return nil
				})
				if name == "owner" && err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: b.ID}, func(ctx context.Context, tx bun.Tx) error {
				id := uuid.New()
				_, err := tx.ExecContext(ctx, `INSERT INTO agreement_signatures (tenant_id, id, version, version_published, body, checksum,
					tenant_name, signer_id, signer_name, signer_title, receipt_key, receipt_size, receipt_sha256)
					VALUES (?, ?, 'x', current_date, 'x', encode(sha256('x'), 'hex'), 'x', ?, 'x', 'x', ?, 1, repeat('0', 64))`,
					a.ID, id, person, agreements.ReceiptKey(a.ID, id))
				return err
			})
			if err == nil || (name == "owner" && !strings.Contains(err.Error(), "row-level security")) {
				t.Fatalf("tenant B wrote a signature into tenant A: %v", err)
			}
			got, err := s.Get(ctx, a.ID, sig.ID)
			if err != nil || got.SignerTitle != sig.SignerTitle || countRows(t, env.App, a.ID) != 1 {
				t.Fatalf("tenant A's signature changed: %+v %v", got, err)
			}
		})
	}
	t.Run("the application cannot change or remove a signature in its own tenant", func(t *testing.T) {
		for _, q := range []string{
			"UPDATE agreement_signatures SET signer_title = 'endret' WHERE id = ?",
			"DELETE FROM agreement_signatures WHERE id = ?",
		} {
			err := tenants.WithTenantTx(ctx, env.App, tenants.Scope{TenantID: a.ID}, func(ctx context.Context, tx bun.Tx) error {
				_, err := tx.ExecContext(ctx, q, sig.ID)
				return err
			})
			if err == nil || !strings.Contains(err.Error(), "permission denied") {
				t.Fatalf("%s: %v", q, err)
			}
		}
	})
}
