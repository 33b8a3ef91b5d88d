package transfers

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/labstack/echo/v4"
	"github.com/uptrace/bun"

	"kportal/modules"
	"kportal/modules/apperr"
	"kportal/modules/history/historytest"
	"kportal/modules/web"
	"kportal/storage/testenv"
	"kportal/tenants"
	"kportal/workers"
)

// queued is a task as Enqueue handed it to the queue.
type queued struct {
	task  *asynq.Task
	queue string
	at    time.Time // ProcessAt, zero for at once
}

// recorder is a queue that keeps what it is given, so a test runs the jobs.
type recorder struct {
	mu    sync.Mutex
	tasks []queued
}

func (r *recorder) EnqueueContext(_ context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	q := queued{task: t}
	for _, o := range opts {
		switch o.Type() {
		case asynq.QueueOpt:
			q.queue = o.Value().(string)
		case asynq.ProcessAtOpt:
			q.at = o.Value().(time.Time)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tasks = append(r.tasks, q)
	return &asynq.TaskInfo{}, nil
}

// runDue runs the queued tasks that are due through the module's job handlers,
// as the worker would.
func (r *recorder) runDue(t *testing.T, m *Module) {
	t.Helper()
	mux := asynq.NewServeMux()
	m.Tasks(mux)
	for _, q := range r.tasks {
		if q.at.After(time.Now()) {
			continue
		}
		if err := mux.ProcessTask(context.Background(), q.task); err != nil {
			t.Fatal(err)
		}
	}
}

// as calls a handler of m as person with roles in tn.
func as(t *testing.T, h echo.HandlerFunc, tn *tenants.Tenant, person uuid.UUID, roles []string, req *http.Request, id string) (*httptest.ResponseRecorder, error) {
	t.Helper()
	v := &modules.Viewer{PersonID: person, GivenName: "Test", FamilyName: "Person", Tenant: tn,
		Memberships: []tenants.Membership{{Tenant: *tn, Roles: roles}}}
	req = req.WithContext(modules.WithViewer(req.Context(), v))
	rec := httptest.NewRecorder()
	c := echo.New().NewContext(req, rec)
	c.SetParamNames("tenant", "id")
	c.SetParamValues(tn.Slug, id)
	return rec, h(c)
}

func upload(t *testing.T, name string, data []byte) *http.Request {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("fil", name)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(data)
	_ = mw.Close()
	req := httptest.NewRequest(http.MethodPost, "/", &body)
	req.Header.Set(echo.HeaderContentType, mw.FormDataContentType())
	return req
}

func getReq() *http.Request { return httptest.NewRequest(http.MethodGet, "/", nil) }

// lisAt makes a LIS of tn with an e-mail address and an HPR number.
func (w *world) lisAt(t *testing.T, tn *tenants.Tenant, given string) (id uuid.UUID, email, hpr string) {
	t.Helper()
	id = testenv.NewPerson(t, w.db, given, "Lis")
	hpr = fmt.Sprintf("7%07d", rand.IntN(10_000_000))
	if err := w.db.NewRaw("UPDATE people SET hpr_number = ? WHERE id = ? RETURNING email", hpr, id).Scan(context.Background(), &email); err != nil {
		t.Fatal(err)
	}
	if err := tenants.AddMembership(context.Background(), w.db, tn.ID, id, "lis"); err != nil {
		t.Fatal(err)
	}
	return id, email, hpr
}

func (w *world) emailOf(t *testing.T, id uuid.UUID) string {
	t.Helper()
	var email string
	if err := w.db.NewRaw("SELECT email FROM people WHERE id = ?", id).Scan(context.Background(), &email); err != nil {
		t.Fatal(err)
	}
	return email
}

func (w *world) module(q Enqueuer) *Module {
	return New(w.db, nil, q, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// A file of the yearly rotation with good and bad lines: the good ones are
// registered, queued on the bulk queue and synced; each bad one is listed with
// its line, who and why, and nothing of it is moved; the progress counts a
// move dated later as waiting, and the report says what carried over and what
// failed in the job.
func TestTransferBatchRegistersGoodRowsAndRefusesBad(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	q := &recorder{}
	m := w.module(q)
	admin := testenv.NewPerson(t, w.db, "Astrid", "Admin")
	roles := []string{"tenant_admin"}
	today := w.s.today()
	iso := today.Format("2006-01-02")

	lis2, _, hpr2 := w.lisAt(t, w.bergen, "Lise")
	historytest.Write(t, w.db, w.bergen.ID, lis2, w.per, w.ola, "L2")
	_, email3, _ := w.lisAt(t, w.bergen, "Later")
	lis4, email4, _ := w.lisAt(t, w.bergen, "Failing")
	waiting, waitingEmail, _ := w.lisAt(t, w.bergen, "Waiting")
	badDate, badDateEmail, _ := w.lisAt(t, w.bergen, "Baddate")
	badPlan, _, badPlanHPR := w.lisAt(t, w.bergen, "Badplan")
	if _, err := w.s.Register(ctx, w.ous.ID, tenants.Actor{PersonID: w.leders[w.ous.ID]}, Arrival{Who: waitingEmail,
		StartsOn: today.AddDate(0, 0, 10).Format("2006-01-02"), TemplateID: w.templates[w.ous.ID].String()}, nil); err != nil {
		t.Fatal(err)
	}
	plan := w.templates[w.forde.ID].String()
	file := "\ufefflis;navn;startdato;plan;leder\r\n" +
		w.email + ";;" + iso + ";Ortopedi;" + strings.ToUpper(w.emailOf(t, w.leders[w.forde.ID])) + "\r\n" + // 2: done, veileder and goal carried
		hpr2 + ";Lise Lis;" + web.Date(today) + ";ORTOPEDI;\r\n" + // 3: done, by HPR, Norwegian date
		email3 + ";;" + today.AddDate(0, 1, 0).Format("2006-01-02") + ";" + plan + ";\r\n" + // 4: waits for its start date, plan by id
		email4 + ";;" + iso + ";ortopedi;\r\n" + // 5: registered, fails in the job
		";;;;\r\n" +
		"999999999;Ukjent Lege;" + iso + ";Ortopedi;\r\n" + // 7: unknown HPR
		badDateEmail + ";;31.2.2027;Ortopedi;\r\n" + // 8: no such date
		badPlanHPR + ";;" + iso + ";Kardiologi;\r\n" + // 9: unknown plan
		strings.ToUpper(w.email) + ";;" + iso + ";Ortopedi;\r\n" + // 10: Kari again
		waitingEmail + ";;" + iso + ";Ortopedi;\r\n" // 11: already waiting for a move to OUS

	rec, err := as(t, m.upload, w.forde, admin, roles, upload(t, "lis1-mars.csv", []byte(file)), "")
	if err != nil || rec.Code != http.StatusSeeOther {
		t.Fatalf("upload: %d %v\n%s", rec.Code, err, rec.Body)
	}
	loc := rec.Header().Get("Location")
	prefix := "/t/" + w.forde.Slug + "/arbeidsstedsbytte/csv/"
	if !strings.HasPrefix(loc, prefix) {
		t.Fatalf("redirected to %q", loc)
	}
	batchID := strings.TrimPrefix(loc, prefix)
	id := uuid.MustParse(batchID)

	b, err := w.s.Batch(ctx, w.forde.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	if b.Filename != "lis1-mars.csv" || b.Rows != 9 || b.Registered != 4 {
		t.Fatalf("batch: %+v", b)
	}
	want := []struct {
		line   int
		reason string
	}{
		{7, "Fant ingen lege med HPR-nummer 999999999"},
		{8, "«31.2.2027» er ikke en dato"},
		{9, "Fant ingen plan som heter «Kardiologi» her. Planene her: «Ortopedi»"},
		{10, "står også på linje 2"},
		{11, "har allerede et arbeidsstedsbytte som venter"},
	}
	if len(b.Refused) != len(want) {
		t.Fatalf("refused: %+v", b.Refused)
	}
	for i, r := range b.Refused {
		if r.Line != want[i].line || !strings.Contains(r.Reason, want[i].reason) || r.Who == "" {
			t.Errorf("refused %d: %+v, want line %d with %q", i, r, want[i].line, want[i].reason)
		}
	}
	if !strings.Contains(b.Refused[0].Who, "Ukjent Lege (999999999)") {
		t.Errorf("who of an unknown HPR: %q", b.Refused[0].Who)
	}
	// Nothing registered for a refused line; the one waiting keeps its move to OUS.
	for _, p := range []uuid.UUID{badDate, badPlan, waiting} {
		if n := w.count(t, w.forde.ID, uuid.Nil, "SELECT count(*) FROM transfers WHERE tenant_id = ? AND lis_id = ?", w.forde.ID, p); n != 0 {
			t.Fatalf("a refused line registered %d moves", n)
		}
	}
	if n := w.count(t, w.ous.ID, uuid.Nil, "SELECT count(*) FROM transfers WHERE tenant_id = ? AND lis_id = ? AND status = 'registered'", w.ous.ID, waiting); n != 1 {
		t.Fatal("the move already waiting was changed")
	}
	// Each registered move is queued once, on the bulk queue; the later one on its date.
	if len(q.tasks) != 4 {
		t.Fatalf("%d tasks queued", len(q.tasks))
	}
	later := 0
	for _, task := range q.tasks {
		if task.queue != workers.QueueBulk || task.task.Type() != TypeSync {
			t.Fatalf("queued %s on %q", task.task.Type(), task.queue)
		}
		if !task.at.IsZero() {
			later++
		}
	}
	if later != 1 {
		t.Fatalf("%d tasks queued for later", later)
	}

	// Before the jobs: only the move dated later counts, as waiting.
	status := func() string {
		t.Helper()
		req := getReq()
		req.Header.Set("HX-Request", "true")
		rec, err := as(t, m.batchStatus, w.forde, admin, roles, req, batchID)
		if err != nil || rec.Code != http.StatusOK {
			t.Fatalf("progress: %d %v", rec.Code, err)
		}
		return rec.Body.String()
	}
	before := status()
	for _, s := range []string{`<progress max="4" value="1"`, "1 av 4 gjennomført", "1 venter på startdato", `hx-trigger="every 2s"`, `hx-get="` + loc + `/fremdrift"`} {
		if !strings.Contains(before, s) {
			t.Fatalf("progress before the jobs lacks %q:\n%s", s, before)
		}
	}
	if strings.Contains(before, "<html") {
		t.Fatal("the progress fragment is a whole page")
	}

	// Line 5 gets an active plan of the same specialty before its job runs.
	err = tenants.WithTenantTx(ctx, w.db, tenants.Scope{TenantID: w.forde.ID}, func(ctx context.Context, tx bun.Tx) error {
		var tpl uuid.UUID
		if err := tx.NewRaw(`INSERT INTO plan_templates (tenant_id, name, specialty, version_id) VALUES (?, 'Ortopedi B', 'ORT', (SELECT max(id) FROM catalog_versions)) RETURNING id`,
			w.forde.ID).Scan(ctx, &tpl); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO plan_assignments (tenant_id, lis_id, template_id, version_id) VALUES (?, ?, ?, (SELECT max(id) FROM catalog_versions))", w.forde.ID, lis4, tpl)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	q.runDue(t, m)
	q.runDue(t, m) // a second run changes nothing

	after := status()
	for _, s := range []string{`<progress max="4" value="4"`, "4 av 4 gjennomført", "1 venter på startdato", "1 feilet", `data-complete="true"`,
		`data-testid="done-move"`, "1 godkjent læringsmål overført", "veileder følger med: Ola Veileder", "Lise Lis",
		`data-testid="failed-move"`, "har fått en annen aktiv plan i samme spesialitet", `data-testid="waiting-move"`} {
		if !strings.Contains(after, s) {
			t.Errorf("progress after the jobs lacks %q", s)
		}
	}
	if strings.Contains(after, "hx-trigger") {
		t.Error("the page keeps polling after the jobs are done")
	}
	if strings.Count(after, `data-testid="done-move"`) != 2 {
		t.Errorf("done moves:\n%s", after)
	}
	// Synced: Kari's and Lise's old plans ended, new ones active; the failed one's record as it was.
	for _, p := range []uuid.UUID{w.kari, lis2} {
		if n := w.count(t, w.forde.ID, uuid.Nil, "SELECT count(*) FROM plan_assignments WHERE tenant_id = ? AND lis_id = ? AND archived_at IS NULL", w.forde.ID, p); n != 1 {
			t.Fatalf("%d active plans at Førde after the sync", n)
		}
	}
	if n := w.count(t, w.bergen.ID, uuid.Nil, "SELECT count(*) FROM plan_assignments WHERE tenant_id = ? AND lis_id = ? AND archived_at IS NULL", w.bergen.ID, lis2); n != 0 {
		t.Fatal("Lise's old plan is still active")
	}
	if n := w.count(t, w.forde.ID, uuid.Nil, "SELECT count(*) FROM relations WHERE tenant_id = ? AND lis_id = ? AND kind = 'leder' AND person_id = ?", w.forde.ID, w.kari, w.leders[w.forde.ID]); n != 1 {
		t.Fatal("the leder named in the file is not Kari's leder")
	}
	if n := w.count(t, w.forde.ID, uuid.Nil, "SELECT count(*) FROM earlier_workplaces WHERE tenant_id = ? AND lis_id = ?", w.forde.ID, lis4); n != 0 {
		t.Fatal("the failed move left a record")
	}

	// The page: the summary, the refused lines, and the report.
	rec, err = as(t, m.batch, w.forde, admin, roles, getReq(), batchID)
	if err != nil || rec.Code != http.StatusOK {
		t.Fatalf("batch page: %d %v", rec.Code, err)
	}
	page := rec.Body.String()
	for _, s := range []string{"lis1-mars.csv", "4 registrert", "5 avvist", "Linje 7: Ukjent Lege (999999999)", "Linje 11:", "4 av 4 gjennomført", "Feilet"} {
		if !strings.Contains(page, s) {
			t.Errorf("batch page lacks %q", s)
		}
	}
	// The Arbeidsstedsbytte page links it.
	rec, err = as(t, m.list, w.forde, admin, roles, getReq(), "")
	if err != nil || !strings.Contains(rec.Body.String(), `href="`+loc+`"`) || !strings.Contains(rec.Body.String(), `data-testid="batch-form"`) {
		t.Fatalf("list page does not link the file: %v", err)
	}
}

// A file that is not a CSV, too big, without a header kportal knows or
// without rows is refused whole with why, and nothing is registered.
func TestTransferBatchRefusesWholeFile(t *testing.T) {
	w := newWorld(t)
	m := w.module(&recorder{})
	admin := testenv.NewPerson(t, w.db, "Astrid", "Admin")
	row := w.email + ";" + w.s.today().Format("2006-01-02") + ";Ortopedi\n"
	many := "lis;startdato;plan\n" + strings.Repeat(row, MaxBatchRows+1)
	for _, c := range []struct {
		name, data, want string
	}{
		{"a PDF", "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "ikke en CSV-fil"},
		{"an Excel workbook", "PK\x03\x04\x14\x00\x06\x00", "ikke en CSV-fil"},
		{"binary", "\x00\x01\x02lis;startdato;plan", "ikke en CSV-fil"},
		{"Latin-1", "lis;startdato;plan\nkari@x.no;1.3.2027;Ortop\xe6di\n", "ikke lagret som UTF-8"},
		{"no header", row + row, "Fant ingen overskriftsrad som kportal kjenner igjen"},
		{"no plan column", "lis;startdato\n" + w.email + ";1.3.2027\n", "mangler kolonnen «plan»"},
		{"an unknown column", "lis;startdato;plan;avdeling\n" + row, "Ukjent kolonne «avdeling»"},
		{"a header only", "\ufefflis;startdato;plan\r\n;;\r\n", "ingen LIS under overskriftsraden"},
		{"empty", "", "Filen er tom"},
		{"too many rows", many, "mer enn 5000 LIS"},
		{"too big", "lis;startdato;plan\n" + strings.Repeat("x", MaxBatchBytes), "for stor"},
		{"a broken quote", "lis;startdato;plan\n\"" + w.email + ";1.3.2027;Ortopedi\n", "anførselstegn"},
	} {
		rec, err := as(t, m.upload, w.forde, admin, []string{"tenant_admin"}, upload(t, c.name+".csv", []byte(c.data)), "")
		if err != nil || rec.Code != http.StatusUnprocessableEntity {
			t.Fatalf("%s: %d %v", c.name, rec.Code, err)
		}
		if body := rec.Body.String(); !strings.Contains(body, `data-testid="error-file"`) || !strings.Contains(body, c.want) {
			t.Fatalf("%s: the page does not say %q", c.name, c.want)
		}
	}
	// Not a file upload at all.
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("fil=x"))
	req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationForm)
	if rec, err := as(t, m.upload, w.forde, admin, []string{"tenant_admin"}, req, ""); err != nil || rec.Code != http.StatusUnprocessableEntity ||
		!strings.Contains(rec.Body.String(), "Velg en CSV-fil") {
		t.Fatalf("no file: %d %v", rec.Code, err)
	}
	for _, q := range []string{"SELECT count(*) FROM transfers", "SELECT count(*) FROM transfer_batches"} {
		if n := w.count(t, w.forde.ID, uuid.Nil, q); n != 0 {
			t.Fatalf("%s = %d after refused files", q, n)
		}
	}
}

// The format: a byte order mark, commas, quotes, blank lines, separate e-post
// and hpr columns, headers written as people write them; line numbers are the
// file's.
func TestTransferBatchParse(t *testing.T) {
	rows, err := ParseBatch([]byte("\ufeffE-post,HPR, Start dato ,Plan,Leder,Fra,Navn\r\n" +
		"kari@x.no,,1.3.2027,\"Ortopedi, LIS2\",per@x.no,helse-bergen,Kari\r\n" +
		",,,,,,\r\n" +
		",1234567,2027-03-01,Ortopedi,,,\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []BatchRow{
		{Line: 2, Who: "kari@x.no", Name: "Kari", StartsOn: "1.3.2027", Plan: "Ortopedi, LIS2", Leder: "per@x.no", From: "helse-bergen"},
		{Line: 4, Who: "1234567", StartsOn: "2027-03-01", Plan: "Ortopedi"},
	}
	if len(rows) != len(want) {
		t.Fatalf("rows: %+v", rows)
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Errorf("row %d: %+v, want %+v", i, rows[i], want[i])
		}
	}
	for in, out := range map[string]string{"1.3.2027": "2027-03-01", "01.03.2027": "2027-03-01", "2027-03-01": "2027-03-01", "1/3/2027": "2027-03-01"} {
		if got, ok := batchDate(in); !ok || got != out {
			t.Errorf("date %q: %q %v", in, got, ok)
		}
	}
	if _, ok := batchDate("31.2.2027"); ok {
		t.Error("31.2.2027 read as a date")
	}
	if d := nextRotation(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)); d.Format("2006-01-02") != "2027-03-01" {
		t.Errorf("next rotation after 7.12.2026: %s", d)
	}
	if d := nextRotation(time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)); d.Format("2006-01-02") != "2027-09-01" {
		t.Errorf("next rotation after 1.3.2027: %s", d)
	}
}

// The example file reads back as a file of two arrivals on this workplace's
// plan and the next rotation date.
func TestTransferBatchExampleFile(t *testing.T) {
	w := newWorld(t)
	m := w.module(&recorder{})
	rec, err := as(t, m.batchTemplate, w.forde, w.leders[w.forde.ID], []string{"leder"}, getReq(), "")
	if err != nil || rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get(echo.HeaderContentType), "text/csv") {
		t.Fatalf("example: %d %v", rec.Code, err)
	}
	rows, err := ParseBatch(rec.Body.Bytes())
	if err != nil || len(rows) != 2 {
		t.Fatalf("example: %v %+v", err, rows)
	}
	if rows[0].Plan != "Ortopedi" || rows[0].StartsOn != web.Date(nextRotation(w.s.today())) {
		t.Fatalf("example row: %+v", rows[0])
	}
}

// Another tenant (a third one, and the workplace the LIS left, which reads
// the move itself) finds neither the file's page, nor its progress and
// report, nor its moves; the file's own tenant does.
func TestTransferIsolationBatch(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	q := &recorder{}
	m := w.module(q)
	admin := testenv.NewPerson(t, w.db, "Astrid", "Admin")
	file := "lis;startdato;plan\n" + w.email + ";" + w.s.today().Format("2006-01-02") + ";Ortopedi\n999999999;1.3.2027;Ortopedi\n"
	rec, err := as(t, m.upload, w.forde, admin, []string{"tenant_admin"}, upload(t, "hemmelig-fil.csv", []byte(file)), "")
	if err != nil || rec.Code != http.StatusSeeOther {
		t.Fatalf("upload: %d %v", rec.Code, err)
	}
	batchID := rec.Header().Get("Location")[strings.LastIndex(rec.Header().Get("Location"), "/")+1:]
	q.runDue(t, m)
	for _, h := range []echo.HandlerFunc{m.batch, m.batchStatus} {
		if rec, err := as(t, h, w.forde, admin, []string{"tenant_admin"}, getReq(), batchID); err != nil || !strings.Contains(rec.Body.String(), "Kari Nordmann") {
			t.Fatalf("the file's own tenant: %v", err)
		}
	}
	for _, other := range []struct {
		tn     *tenants.Tenant
		person uuid.UUID
		role   string
	}{{w.ous, w.leders[w.ous.ID], "leder"}, {w.bergen, w.per, "leder"}, {w.bergen, admin, "tenant_admin"}} {
		for _, h := range []echo.HandlerFunc{m.batch, m.batchStatus} {
			rec, err := as(t, h, other.tn, other.person, []string{other.role}, getReq(), batchID)
			if !apperr.Is(err, apperr.NotFound) || strings.Contains(rec.Body.String(), "Kari") {
				t.Fatalf("%s at %s reads the file: %v", other.role, other.tn.Name, err)
			}
		}
		rec, err := as(t, m.list, other.tn, other.person, []string{other.role}, getReq(), "")
		if err != nil || strings.Contains(rec.Body.String(), "hemmelig-fil.csv") || strings.Contains(rec.Body.String(), batchID) {
			t.Fatalf("%s at %s sees the file in the list: %v", other.role, other.tn.Name, err)
		}
		id := uuid.MustParse(batchID)
		if _, err := w.s.Batch(ctx, other.tn.ID, id); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("Batch from %s: %v", other.tn.Name, err)
		}
		if moves, err := w.s.BatchMoves(ctx, other.tn.ID, id); err != nil || len(moves) != 0 {
			t.Fatalf("BatchMoves from %s: %d %v", other.tn.Name, len(moves), err)
		}
		if p, err := w.s.BatchProgress(ctx, other.tn.ID, id); err != nil || p.Total != 0 {
			t.Fatalf("BatchProgress from %s: %+v %v", other.tn.Name, p, err)
		}
		if n := w.count(t, other.tn.ID, other.person, "SELECT count(*) FROM transfer_batches"); n != 0 {
			t.Fatalf("%s reads %d files", other.tn.Name, n)
		}
	}
	// A bad id is not found either.
	if _, err := as(t, m.batch, w.forde, admin, []string{"tenant_admin"}, getReq(), "ikke-en-id"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("a bad id: %v", err)
	}
}
