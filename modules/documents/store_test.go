package documents

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/minio/minio-go/v7"
	"github.com/uptrace/bun"

	"kportal/modules/apperr"
	"kportal/storage"
	"kportal/storage/testenv"
	"kportal/tenants"
	"kportal/workers"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var (
	pdf  = append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("kursbevis "), 3000)...)
	png  = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), bytes.Repeat([]byte{7}, 5000)...)
	jpeg = append([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), bytes.Repeat([]byte{9}, 5000)...)
	heic = append([]byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"), bytes.Repeat([]byte{1}, 5000)...)
	exe  = append([]byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00"), bytes.Repeat([]byte{0}, 5000)...)
)

type fixture struct {
	s                  *Store
	o                  *storage.Objects
	db                 bun.IDB
	a, b               *tenants.Tenant
	lis, sup, stranger tenants.Actor
	lisB               tenants.Actor
	locked             map[uuid.UUID]bool // what the test referrer calls signed
	referenced         map[uuid.UUID]bool
}

func newPerson(t *testing.T, db bun.IDB, given string) tenants.Actor {
	t.Helper()
	return tenants.Actor{PersonID: testenv.NewPerson(t, db, given, "Testesen"), Name: given + " Testesen"}
}

func newTenant(t *testing.T, db bun.IDB, name string) *tenants.Tenant {
	t.Helper()
	return testenv.NewTenant(t, db, &tenants.Tenant{Name: name})
}

// newFixture: in tenant A a LIS supervised by sup, and stranger, a supervisor
// of nobody; in tenant B another LIS.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	env := testenv.Get(t)
	f := &fixture{o: env.Objects(t), db: env.App, a: newTenant(t, env.App, "Helse A HF"), b: newTenant(t, env.App, "Helse B HF"),
		locked: map[uuid.UUID]bool{}, referenced: map[uuid.UUID]bool{}}
	f.lis, f.sup, f.stranger, f.lisB = newPerson(t, env.App, "Lise"), newPerson(t, env.App, "Sigurd"), newPerson(t, env.App, "Stian"), newPerson(t, env.App, "Berit")
	ref := func(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, ids []uuid.UUID) (map[uuid.UUID][]Reference, error) {
		out := map[uuid.UUID][]Reference{}
		for _, id := range ids {
			if f.referenced[id] || f.locked[id] {
				out[id] = append(out[id], Reference{Label: "Kurs: Traumekurs", Locked: f.locked[id]})
			}
		}
		return out, nil
	}
	f.s = NewStore(env.App, f.o, ref)
	ctx := context.Background()
	adm := tenants.Actor{Name: "test"}
	if err := tenants.WithTenantTx(ctx, env.App, tenants.Scope{TenantID: f.a.ID}, func(ctx context.Context, tx bun.Tx) error {
		if err := tenants.SetRelation(ctx, tx, f.a.ID, f.lis.PersonID, tenants.RelSupervisor, f.sup.PersonID, adm); err != nil {
			return err
		}
		return tenants.GrantRole(ctx, tx, f.a.ID, f.stranger.PersonID, "supervisor", adm)
	}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) upload(t *testing.T, tenantID uuid.UUID, owner tenants.Actor, name string, data []byte) *Document {
	t.Helper()
	d, err := f.s.Upload(context.Background(), tenantID, owner, Upload{Kind: KindKursbevis, Name: name, Body: bytes.NewReader(data), Size: int64(len(data))})
	if err != nil {
		t.Fatalf("upload %s: %v", name, err)
	}
	return d
}

// state counts, for a person, document rows, pending notes and object versions.
func (f *fixture) state(t *testing.T, tenantID, person uuid.UUID) (rows, pending, objects int) {
	t.Helper()
	ctx := context.Background()
	if err := tenants.WithTenantTx(ctx, f.db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		if err := tx.NewRaw("SELECT count(*) FROM documents WHERE tenant_id = ? AND person_id = ?", tenantID, person).Scan(ctx, &rows); err != nil {
			return err
		}
		return tx.NewRaw("SELECT count(*) FROM document_objects_pending WHERE tenant_id = ? AND object_key LIKE ?",
			tenantID, "tenants/"+tenantID.String()+"/people/"+person.String()+"/%").Scan(ctx, &pending)
	}); err != nil {
		t.Fatal(err)
	}
	for o := range f.o.Client().ListObjects(ctx, f.o.Bucket(), minio.ListObjectsOptions{Prefix: "tenants/" + tenantID.String() + "/people/" + person.String() + "/", Recursive: true, WithVersions: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		objects++
	}
	return rows, pending, objects
}

func TestUploadStoresEncryptedUnderItsKey(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, c := range []struct {
		name, clean, ct string
		data            []byte
		size            int64
	}{
		{"Kursbevis traume.pdf", "Kursbevis traume.pdf", "application/pdf", pdf, -1},
		{"  bilde\u202Egnp.exe  ", "bildegnp.exe", "image/png", png, 0}, // a right-to-left override is dropped, not shown
		{"foto.jpeg", "foto.jpeg", "image/jpeg", jpeg, 0},
		{"IMG_0001.HEIC", "IMG_0001.HEIC", "image/heic", heic, 0},
		{"", "dokument.pdf", "application/pdf", pdf, 0},
	} {
		size := int64(len(c.data))
		if c.size < 0 {
			size = -1 // a multipart form: length unknown
		}
		d, err := f.s.Upload(ctx, f.a.ID, f.lis, Upload{Kind: KindKursbevis, Name: c.name, Body: bytes.NewReader(c.data), Size: size})
		if err != nil {
			t.Fatalf("%q: %v", c.name, err)
		}
		if d.Name != c.clean || d.ContentType != c.ct || d.Size != int64(len(c.data)) || d.ObjectKey != "tenants/"+f.a.ID.String()+"/people/"+f.lis.PersonID.String()+"/"+d.ID.String() {
			t.Fatalf("%q: stored as %+v", c.name, d)
		}
		st, err := f.o.Client().StatObject(ctx, f.o.Bucket(), d.ObjectKey, minio.StatObjectOptions{})
		if err != nil || st.Size != int64(len(c.data)) || st.Metadata.Get("X-Amz-Server-Side-Encryption") != "AES256" {
			t.Fatalf("%q: object %+v, %v", c.name, st, err)
		}
	}
	list, err := f.s.List(ctx, f.a.ID, f.lis.PersonID)
	if err != nil || len(list) != 5 {
		t.Fatalf("archive: %d documents, %v", len(list), err)
	}
	if rows, pending, objects := f.state(t, f.a.ID, f.lis.PersonID); rows != 5 || pending != 0 || objects != 5 {
		t.Fatalf("rows %d, pending %d, objects %d", rows, pending, objects)
	}
}

type brokenReader struct {
	r io.Reader
	n int
}

func (b *brokenReader) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, errors.New("client went away")
	}
	if len(p) > b.n {
		p = p[:b.n]
	}
	n, err := b.r.Read(p)
	b.n -= n
	return n, err
}

func TestUploadBadInputLeavesNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.s.SetMaxBytes(ctx, f.a.ID, f.lis, 1); err != nil {
		t.Fatal(err)
	}
	big := append([]byte("%PDF-1.4\n"), make([]byte, 1<<20)...)
	for _, c := range []struct {
		what string
		in   Upload
		msg  string
	}{
		{"empty, known size", Upload{Name: "tom.pdf", Body: bytes.NewReader(nil), Size: 0}, "Filen er tom"},
		{"empty, unknown size", Upload{Name: "tom.pdf", Body: bytes.NewReader(nil), Size: -1}, "Filen er tom"},
		{"a program named .pdf", Upload{Name: "kursbevis.pdf", Body: bytes.NewReader(exe), Size: int64(len(exe))}, "ikke en PDF, PNG, JPEG eller HEIC"},
		{"text", Upload{Name: "notat.pdf", Body: strings.NewReader("bare tekst her, ikke en pdf"), Size: -1}, "ikke en PDF"},
		{"over the limit, declared", Upload{Name: "stor.pdf", Body: bytes.NewReader(big), Size: int64(len(big))}, "Filen er for stor. Den største filen du kan laste opp er 1 MB."},
		{"over the limit, streamed", Upload{Name: "stor.pdf", Body: bytes.NewReader(big), Size: -1}, "Filen er for stor"},
		{"path parts", Upload{Name: "../../etc/passwd.pdf", Body: bytes.NewReader(pdf), Size: int64(len(pdf))}, "kan ikke inneholde mapper"},
		{"windows path", Upload{Name: `C:\Users\lis\kurs.pdf`, Body: bytes.NewReader(pdf), Size: int64(len(pdf))}, "kan ikke inneholde mapper"},
		{"control characters", Upload{Name: "kurs\x00.pdf", Body: bytes.NewReader(pdf), Size: int64(len(pdf))}, "kontrolltegn"},
		{"newline", Upload{Name: "kurs\n.pdf", Body: bytes.NewReader(pdf), Size: -1}, "kontrolltegn"},
		{"interrupted, known size", Upload{Name: "kurs.pdf", Body: &brokenReader{r: bytes.NewReader(pdf), n: 20000}, Size: int64(len(pdf))}, "Opplastingen ble avbrutt"},
		{"interrupted, unknown size", Upload{Name: "kurs.pdf", Body: &brokenReader{r: bytes.NewReader(pdf), n: 20000}, Size: -1}, "Opplastingen ble avbrutt"},
		{"shorter than declared", Upload{Name: "kurs.pdf", Body: bytes.NewReader(pdf[:20000]), Size: int64(len(pdf))}, "Opplastingen ble avbrutt"},
		{"unknown kind", Upload{Kind: "virus", Name: "kurs.pdf", Body: bytes.NewReader(pdf), Size: int64(len(pdf))}, "Velg hva slags dokument"},
	} {
		_, err := f.s.Upload(ctx, f.a.ID, f.lis, c.in)
		if !apperr.Is(err, apperr.Invalid) || !strings.Contains(apperr.MessageOf(err)+" "+strings.Join(mapValues(apperr.FieldsOf(err)), " "), c.msg) {
			t.Errorf("%s: got %v (%q), want Invalid %q", c.what, err, apperr.MessageOf(err), c.msg)
		}
		if rows, pending, objects := f.state(t, f.a.ID, f.lis.PersonID); rows+pending+objects != 0 {
			t.Fatalf("%s left rows %d, pending %d, objects %d", c.what, rows, pending, objects)
		}
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func TestOpenNeedsARelationAndIsAudited(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	d := f.upload(t, f.a.ID, f.lis, "kurs.pdf", pdf)
	if _, err := f.s.Open(ctx, f.a.ID, f.lis, d.ID, "lastet ned"); err != nil {
		t.Fatalf("owner: %v", err)
	}
	if _, err := f.s.Open(ctx, f.a.ID, f.sup, d.ID, "vist"); err != nil {
		t.Fatalf("supervisor: %v", err)
	}
	if _, err := f.s.Open(ctx, f.a.ID, f.stranger, d.ID, "vist"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("a supervisor of someone else: %v, want NotFound", err)
	}
	// The veileder, the leder and the leder's delegate see it too.
	veileder, leder, delegate := newPerson(t, f.db, "Vera"), newPerson(t, f.db, "Leif"), newPerson(t, f.db, "Dina")
	if _, err := f.s.Open(ctx, f.a.ID, delegate, d.ID, "vist"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("a delegate before the delegation: %v, want NotFound", err)
	}
	if err := tenants.WithTenantTx(ctx, f.db, tenants.Scope{TenantID: f.a.ID}, func(ctx context.Context, tx bun.Tx) error {
		adm := tenants.Actor{Name: "test"}
		if err := tenants.SetRelation(ctx, tx, f.a.ID, f.lis.PersonID, tenants.RelVeileder, veileder.PersonID, adm); err != nil {
			return err
		}
		if err := tenants.SetRelation(ctx, tx, f.a.ID, f.lis.PersonID, tenants.RelLeder, leder.PersonID, adm); err != nil {
			return err
		}
		if err := tenants.GrantRole(ctx, tx, f.a.ID, leder.PersonID, "leder", adm); err != nil {
			return err
		}
		return tenants.GrantRole(ctx, tx, f.a.ID, delegate.PersonID, "supervisor", adm)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := tenants.Delegate(ctx, f.db, f.a.ID, leder, delegate.PersonID, nil, "ferie", time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, who := range []tenants.Actor{veileder, leder, delegate} {
		if _, err := f.s.Open(ctx, f.a.ID, who, d.ID, "vist"); err != nil {
			t.Fatalf("%s: %v", who.Name, err)
		}
	}
	log, err := tenants.AuditLog(ctx, f.db, f.a.ID, 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	var downloads []tenants.AuditEntry
	for _, e := range log {
		if e.Action == AuditDownloaded {
			downloads = append(downloads, e)
		}
	}
	if len(downloads) != 4 || *downloads[3].ActorID != f.sup.PersonID || *downloads[3].SubjectID != f.lis.PersonID || !strings.Contains(downloads[3].Details, "kurs.pdf") {
		t.Fatalf("audit: %+v (the supervisor's, veileder's, leder's and delegate's openings, not the owner's)", downloads)
	}
	// The relation ends: so does the access.
	if err := tenants.WithTenantTx(ctx, f.db, tenants.Scope{TenantID: f.a.ID}, func(ctx context.Context, tx bun.Tx) error {
		return tenants.RemoveRelation(ctx, tx, f.a.ID, f.lis.PersonID, tenants.RelSupervisor, f.sup.PersonID, tenants.Actor{Name: "test"})
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Open(ctx, f.a.ID, f.sup, d.ID, "vist"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("former supervisor: %v, want NotFound", err)
	}
	// The presigned URL (the handler's) downloads the file as an attachment.
	u, err := f.o.PresignDownload(ctx, d.ObjectKey, d.Name, DownloadTTL)
	if err != nil || !strings.Contains(u.RawQuery, "X-Amz-Expires=300") {
		t.Fatalf("presign: %v %v", u, err)
	}
}

func TestDeleteOnlyWhatNothingSignedKeeps(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	keep, drop, linked := f.upload(t, f.a.ID, f.lis, "signert.pdf", pdf), f.upload(t, f.a.ID, f.lis, "feil.png", png), f.upload(t, f.a.ID, f.lis, "utkast.pdf", pdf)
	f.locked[keep.ID], f.referenced[linked.ID] = true, true
	if err := f.s.Delete(ctx, f.a.ID, f.lis, keep.ID); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("deleting a signed kursbevis: %v, want Conflict", err)
	}
	if err := f.s.Delete(ctx, f.a.ID, f.sup, drop.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("someone else deleting: %v, want NotFound", err)
	}
	for _, d := range []*Document{drop, linked} {
		if err := f.s.Delete(ctx, f.a.ID, f.lis, d.ID); err != nil {
			t.Fatalf("delete %s: %v", d.Name, err)
		}
		if n, err := f.o.Versions(ctx, d.ObjectKey); err != nil || n != 0 {
			t.Fatalf("%s: %d versions left (%v)", d.Name, n, err)
		}
	}
	if rows, pending, objects := f.state(t, f.a.ID, f.lis.PersonID); rows != 1 || pending != 0 || objects != 1 {
		t.Fatalf("after deletes: rows %d, pending %d, objects %d", rows, pending, objects)
	}
	list, _ := f.s.List(ctx, f.a.ID, f.lis.PersonID)
	if len(list) != 1 || list[0].ID != keep.ID || !list[0].Locked() || list[0].References[0].Label != "Kurs: Traumekurs" {
		t.Fatalf("archive after deletes: %+v", list)
	}
}

func TestCleanupRemovesObjectsLeftWithoutRow(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// An upload that died between its object and its row (the process was
	// killed): the note and the object, no row.
	key := ObjectKey(f.a.ID, f.lis.PersonID, uuid.New())
	if err := tenants.WithTenantTx(ctx, f.db, tenants.Scope{TenantID: f.a.ID}, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO document_objects_pending (tenant_id, object_key) VALUES (?, ?)", f.a.ID, key)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := f.o.Put(ctx, key, bytes.NewReader(pdf), int64(len(pdf)), storage.PutOptions{Encrypt: true}); err != nil {
		t.Fatal(err)
	}
	done := f.upload(t, f.a.ID, f.lis, "ferdig.pdf", pdf)
	if n, err := f.s.Cleanup(ctx, f.a.ID); err != nil || n != 0 {
		t.Fatalf("a fresh note is an upload in progress: removed %d (%v)", n, err)
	}
	f.s.now = func() time.Time { return time.Now().Add(PendingAge + time.Minute) }
	if n, err := f.s.Cleanup(ctx, f.a.ID); err != nil || n != 1 {
		t.Fatalf("cleanup a day later: removed %d (%v)", n, err)
	}
	if rows, pending, objects := f.state(t, f.a.ID, f.lis.PersonID); rows != 1 || pending != 0 || objects != 1 {
		t.Fatalf("after cleanup: rows %d, pending %d, objects %d", rows, pending, objects)
	}
	if _, err := f.o.Stat(ctx, done.ObjectKey); err != nil {
		t.Fatalf("the finished upload's object: %v", err)
	}
}

func TestIsolationDocuments(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	d := f.upload(t, f.a.ID, f.lis, "kurs.pdf", pdf)
	dB := f.upload(t, f.b.ID, f.lisB, "b.pdf", pdf)
	// Seen from tenant B (even by the owner's id), A's document does not exist.
	for _, who := range []tenants.Actor{f.lis, f.lisB} {
		if _, err := f.s.Open(ctx, f.b.ID, who, d.ID, "vist"); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("open A's document in B: %v", err)
		}
		if err := f.s.Delete(ctx, f.b.ID, who, d.ID); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("delete A's document in B: %v", err)
		}
	}
	if list, err := f.s.List(ctx, f.b.ID, f.lis.PersonID); err != nil || len(list) != 0 {
		t.Fatalf("A's LIS's archive in B: %d, %v", len(list), err)
	}
	if err := tenants.WithTenantTx(ctx, f.db, tenants.Scope{TenantID: f.b.ID}, func(ctx context.Context, tx bun.Tx) error {
		if refs, err := Refs(ctx, tx, f.a.ID, []uuid.UUID{d.ID}); err != nil || len(refs) != 0 {
			t.Errorf("Refs of A's document with B in force: %v %v", refs, err)
		}
		if _, err := Owned(ctx, tx, f.a.ID, f.lis.PersonID, d.ID); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("Owned across tenants: %v", err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Row-level security refuses a row for another tenant outright.
	if err := tenants.WithTenantTx(ctx, f.db, tenants.Scope{TenantID: f.b.ID}, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO documents (tenant_id, id, person_id, kind, name, content_type, size, object_key) VALUES (?, ?, ?, 'other', 'x.pdf', 'application/pdf', 1, ?)`,
			f.a.ID, uuid.Nil, f.lis.PersonID, ObjectKey(f.a.ID, f.lis.PersonID, uuid.Nil))
		return err
	}); err == nil {
		t.Errorf("inserted a document into A with B in force")
	}
	// A's document and B's are intact.
	if _, err := f.s.Open(ctx, f.a.ID, f.lis, d.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Open(ctx, f.b.ID, f.lisB, dB.ID, ""); err != nil {
		t.Fatal(err)
	}
}

func TestCleanupJobRunsInEveryTenant(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	env := testenv.Get(t)
	m := New(env.App, f.o, nil)
	keys := map[uuid.UUID]string{}
	for _, tn := range []struct {
		id     uuid.UUID
		person uuid.UUID
	}{{f.a.ID, f.lis.PersonID}, {f.b.ID, f.lisB.PersonID}} {
		key := ObjectKey(tn.id, tn.person, uuid.New())
		keys[tn.id] = key
		if err := tenants.WithTenantTx(ctx, env.App, tenants.Scope{TenantID: tn.id}, func(ctx context.Context, tx bun.Tx) error {
			_, err := tx.ExecContext(ctx, "INSERT INTO document_objects_pending (tenant_id, object_key, since) VALUES (?, ?, now() - interval '25 hours')", tn.id, key)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if err := f.o.Put(ctx, key, bytes.NewReader(pdf), int64(len(pdf)), storage.PutOptions{Encrypt: true}); err != nil {
			t.Fatal(err)
		}
	}
	mux := asynq.NewServeMux()
	m.Tasks(mux)
	if err := mux.ProcessTask(ctx, asynq.NewTask(TypeCleanup, nil)); err != nil {
		t.Fatal(err)
	}
	for tenantID, key := range keys {
		if n, err := f.o.Versions(ctx, key); err != nil || n != 0 {
			t.Fatalf("tenant %s: %d versions left (%v)", tenantID, n, err)
		}
	}
	if _, pending, _ := f.state(t, f.a.ID, f.lis.PersonID); pending != 0 {
		t.Fatalf("%d notes left", pending)
	}
	// The scheduler takes the module's entry (an hourly cron in Oslo time).
	s := m.Schedules()
	if len(s) != 1 || s[0].Task.Type() != TypeCleanup {
		t.Fatalf("schedules: %+v", s)
	}
	if _, err := workers.NewScheduler(asynq.RedisClientOpt{Addr: testenv.RedisAddr, DB: env.RedisDB}, slog.Default(), s); err != nil {
		t.Fatal(err)
	}
}

func TestSizeLabel(t *testing.T) {
	for n, want := range map[int64]string{264: "264 byte", 5000: "5 kB", 340 << 10: "340 kB", 25 << 20: "25 MB", 2516582: "2,4 MB", 1 << 20: "1 MB"} {
		if got := SizeLabel(n); got != want {
			t.Errorf("SizeLabel(%d) = %q, want %q", n, got, want)
		}
	}
}

// A document deleted while a form links it: the slot's foreign key refuses
// the link, and the form gets a message instead of a failure.
func TestVanishedDocumentIsAFormError(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	err := tenants.WithTenantTx(ctx, f.db, tenants.Scope{TenantID: f.a.ID}, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO activities (tenant_id, lis_id, kind, title, done_on, document_id) VALUES (?, ?, 'course', 'Kurs', now()::date, ?)`,
			f.a.ID, f.lis.PersonID, uuid.New())
		return Vanished(err)
	})
	if apperr.FieldsOf(err)["document"] != "Dokumentet finnes ikke lenger. Velg et annet." {
		t.Fatalf("%v", err)
	}
	if other := errors.New("x"); Vanished(other) != other {
		t.Fatal("other errors must pass through")
	}
}
