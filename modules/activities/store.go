package activities

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"kportal/modules/apperr"
	"kportal/modules/chain"
	"kportal/modules/documents"
	"kportal/modules/transfers/moved"
	"kportal/storage"
	"kportal/tenants"
)

// Casbin object and actions.
const (
	Object       = "activity"
	ActionCreate = "create" // a LIS registers, requests signing, withdraws
	ActionRead   = "read"   // a LIS reads their own activities and procedure list
	ActionSign   = "sign"   // a supervisor signs or rejects what was sent to them
)

// Statuses of an activity.
const (
	StatusRegistered = "registered" // no signature needed
	StatusRequested  = "requested"  // waiting for the supervisor
	StatusSigned     = "signed"
	StatusRejected   = "rejected"
	StatusWithdrawn  = "withdrawn"
)

// Decisions on a signature request.
const (
	DecisionSigned   = "signed"
	DecisionRejected = "rejected"
)

// Procedure roles.
const (
	RoleAssisted  = "assisted"
	RolePerformed = "performed"
)

// Outbox topics.
const (
	TopicSignatureRequested = "activity.signature_requested"
	TopicSigned             = "activity.signed"
	TopicRejected           = "activity.rejected"
)

// PreferenceSupervisor remembers the supervisor a LIS last sent procedures to.
const PreferenceSupervisor = "activities.supervisor"

// Kinds lists the activity kinds with their Norwegian names, in form order.
var Kinds = []struct{ Code, Label string }{
	{"procedure", "Prosedyre"}, {"course", "Kurs"}, {"elearning", "E-læring"}, {"veiledning", "Veiledning"},
	{"supervisjon", "Supervisjon"}, {"service", "Tjeneste i læringsarena"}, {"simulation", "Simulering"},
	{"selfstudy", "Selvstudium"}, {"other", "Annet"},
}

// KindLabel is a kind in Norwegian.
func KindLabel(k string) string {
	for _, x := range Kinds {
		if x.Code == k {
			return x.Label
		}
	}
	return k
}

// SelfRegistered reports whether a kind needs no signature.
func SelfRegistered(kind string) bool {
	return kind == "elearning" || kind == "selfstudy" || kind == "other"
}

// StatusLabel is a status in Norwegian.
func StatusLabel(s string) string {
	return map[string]string{StatusRegistered: "Registrert", StatusRequested: "Venter på signatur", StatusSigned: "Signert",
		StatusRejected: "Avvist", StatusWithdrawn: "Trukket tilbake"}[s]
}

// RoleLabel is a procedure role in Norwegian.
func RoleLabel(r string) string {
	return map[string]string{RoleAssisted: "assistert", RolePerformed: "utført"}[r]
}

// Activity is a læringsaktivitet a LIS registered.
type Activity struct {
	TenantID      uuid.UUID  `bun:"tenant_id"`
	ID            uuid.UUID  `bun:"id"`
	LisID         uuid.UUID  `bun:"lis_id"`
	AssignmentID  *uuid.UUID `bun:"assignment_id"`
	Kind          string     `bun:"kind"`
	Title         string     `bun:"title"`
	ProcedureID   *uuid.UUID `bun:"procedure_id"`
	LocalID       *uuid.UUID `bun:"local_id"`
	ProcedureRole string     `bun:"procedure_role,nullzero"`
	Count         int        `bun:"count"`
	DoneOn        time.Time  `bun:"done_on"`
	ArenaID       *uuid.UUID `bun:"arena_id"`
	GoalCodes     []string   `bun:"goal_codes,array"`
	Comment       string     `bun:"comment"`
	Status        string     `bun:"status"`
	SupervisorID  *uuid.UUID `bun:"supervisor_id"`
	RequestedAt   *time.Time `bun:"requested_at"`
	DocumentID    *uuid.UUID `bun:"document_id"` // the kursbevis of a course
	CreatedAt     time.Time  `bun:"created_at"`
	UpdatedAt     time.Time  `bun:"updated_at"`
	// Filled by the listing queries.
	LisName        string `bun:"lis_name"`
	SupervisorName string `bun:"supervisor_name"`
	ArenaName      string `bun:"arena_name"`
	// DecisionComment is the supervisor's comment on the latest decision.
	DecisionComment string `bun:"decision_comment"`
	// Signatures are the decisions on it, oldest first (ForGoal fills them).
	Signatures []Signature `bun:"-"`
	// Document is the kursbevis (List and Queue fill it).
	Document *documents.Ref `bun:"-"`
}

// KindLabel is the activity's kind in Norwegian.
func (a *Activity) KindLabel() string { return KindLabel(a.Kind) }

// StatusLabel is the activity's status in Norwegian.
func (a *Activity) StatusLabel() string { return StatusLabel(a.Status) }

// RoleLabel is the procedure role in Norwegian.
func (a *Activity) RoleLabel() string { return RoleLabel(a.ProcedureRole) }

// Signature is a supervisor's decision with what exactly was decided on.
type Signature struct {
	TenantID       uuid.UUID       `bun:"tenant_id"`
	ID             uuid.UUID       `bun:"id"`
	ActivityID     uuid.UUID       `bun:"activity_id"`
	SupervisorID   uuid.UUID       `bun:"supervisor_id"`
	SupervisorName string          `bun:"supervisor_name"`
	Decision       string          `bun:"decision"`
	Comment        string          `bun:"comment"`
	SignedAt       time.Time       `bun:"signed_at"`
	Snapshot       json.RawMessage `bun:"snapshot,type:jsonb"`
}

// Signed is what the supervisor decided on, as stored with the decision.
func (g *Signature) Signed() Snapshot {
	var s Snapshot
	_ = json.Unmarshal(g.Snapshot, &s) // written by decide; an unreadable one shows empty
	return s
}

// DecisionLabel is the decision in Norwegian.
func (g *Signature) DecisionLabel() string { return StatusLabel(g.Decision) }

// DoneOnText is the snapshot's date as Norwegians write it.
func (s Snapshot) DoneOnText() string {
	if d, err := time.Parse("2006-01-02", s.DoneOn); err == nil {
		return d.Format("2.1.2006")
	}
	return s.DoneOn
}

// RoleLabel is the snapshot's procedure role in Norwegian.
func (s Snapshot) RoleLabel() string { return RoleLabel(s.Role) }

// Snapshot is what a supervisor signed, stored with the signature.
type Snapshot struct {
	ActivityID uuid.UUID `json:"activity_id"`
	Title      string    `json:"title"`
	Kind       string    `json:"kind"`
	Procedure  string    `json:"procedure,omitempty"`
	Role       string    `json:"role,omitempty"`
	Count      int       `json:"count"`
	DoneOn     string    `json:"done_on"`
	Goals      []string  `json:"goals"`
	Comment    string    `json:"comment"`
	LisID      uuid.UUID `json:"lis_id"`
	LisName    string    `json:"lis_name"`
	// Document is the kursbevis the supervisor saw (its id), if any.
	Document *uuid.UUID `json:"document,omitempty"`
}

// Store reads and writes activities; every call puts the tenant in force.
type Store struct {
	db  bun.IDB
	now func() time.Time
}

// NewStore returns a store on db (the application role).
func NewStore(db bun.IDB) *Store { return &Store{db: db, now: time.Now} }

func (s *Store) tx(ctx context.Context, tenantID, person uuid.UUID, fn func(ctx context.Context, tx bun.Tx) error) error {
	return tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID, PersonID: person}, fn)
}

const activityColumns = `a.tenant_id, a.id, a.lis_id, a.assignment_id, a.kind, a.title, a.procedure_id, a.local_id, a.procedure_role,
	a.count, a.done_on, a.arena_id, a.goal_codes, a.comment, a.status, a.supervisor_id, a.requested_at, a.document_id, a.created_at, a.updated_at,
	trim(l.given_name || ' ' || l.family_name) AS lis_name,
	coalesce(trim(s.given_name || ' ' || s.family_name), '') AS supervisor_name,
	coalesce(ar.name, '') AS arena_name,
	coalesce((SELECT g.comment FROM signatures g WHERE g.tenant_id = a.tenant_id AND g.activity_id = a.id ORDER BY g.signed_at DESC LIMIT 1), '') AS decision_comment`

const activityFrom = ` FROM activities a JOIN people l ON l.id = a.lis_id
	LEFT JOIN people s ON s.id = a.supervisor_id
	LEFT JOIN arenas ar ON ar.tenant_id = a.tenant_id AND ar.id = a.arena_id`

// Plan is a LIS's active plan: the newest assignment not archived.
type Plan struct {
	AssignmentID uuid.UUID `bun:"assignment_id"`
	TemplateID   uuid.UUID `bun:"template_id"`
	VersionID    int       `bun:"version_id"`
	Specialty    string    `bun:"specialty"`
	Name         string    `bun:"name"`
}

// ActivePlan returns the LIS's active plan, or nil when none is assigned yet.
func ActivePlan(ctx context.Context, tx bun.IDB, tenantID, lisID uuid.UUID) (*Plan, error) {
	var p []Plan
	err := storage.Select(ctx, tx, &p, `SELECT pa.id AS assignment_id, pa.template_id, pa.version_id, t.specialty, t.name
		FROM plan_assignments pa JOIN plan_templates t ON t.tenant_id = pa.tenant_id AND t.id = pa.template_id
		WHERE pa.tenant_id = ? AND pa.lis_id = ? AND pa.archived_at IS NULL ORDER BY pa.assigned_at DESC LIMIT 1`, tenantID, lisID)
	if err != nil || len(p) == 0 {
		return nil, err
	}
	return &p[0], nil
}

// PlanGoals returns the goal codes of the LIS's active plan (none without a plan).
func PlanGoals(ctx context.Context, tx bun.IDB, tenantID, lisID uuid.UUID) ([]string, error) {
	var codes []string
	err := tx.NewRaw(`SELECT g.goal_code FROM plan_template_goals g JOIN plan_assignments pa ON pa.tenant_id = g.tenant_id AND pa.template_id = g.template_id
		WHERE g.tenant_id = ? AND pa.lis_id = ? AND pa.archived_at IS NULL GROUP BY g.goal_code ORDER BY g.goal_code`, tenantID, lisID).Scan(ctx, &codes)
	return codes, err
}

// Option is a choice in a form.
type Option struct {
	ID   uuid.UUID `bun:"id"`
	Name string    `bun:"name"`
}

// Supervisors returns the LIS's supervisors in the tenant.
func Supervisors(ctx context.Context, tx bun.IDB, tenantID, lisID uuid.UUID) ([]Option, error) {
	var out []Option
	err := tx.NewRaw(`SELECT p.id, trim(p.given_name || ' ' || p.family_name) AS name FROM relations r JOIN people p ON p.id = r.person_id
		WHERE r.tenant_id = ? AND r.lis_id = ? AND r.kind = 'supervisor' ORDER BY name`, tenantID, lisID).Scan(ctx, &out)
	return out, err
}

// Arenas returns the tenant's læringsarenaer in use.
func Arenas(ctx context.Context, tx bun.IDB, tenantID uuid.UUID) ([]Option, error) {
	var out []Option
	err := tx.NewRaw(`SELECT id, name FROM arenas WHERE tenant_id = ? AND archived_at IS NULL ORDER BY name`, tenantID).Scan(ctx, &out)
	return out, err
}

// FormData is what the LIS's forms offer: goals of the plan, arenas, supervisors.
type FormData struct {
	Plan        *Plan
	Goals       []string
	Arenas      []Option
	Supervisors []Option
	Remembered  string          // the supervisor last chosen (a uuid, or "")
	Documents   []documents.Ref // the LIS's documents, to attach as kursbevis
	MaxBytes    int64           // the largest upload, for the kursbevis field
}

// MaxLabel is the largest upload for people.
func (f *FormData) MaxLabel() string { return documents.SizeLabel(f.MaxBytes) }

// Form returns the choices for a LIS's activity forms.
func (s *Store) Form(ctx context.Context, tenantID, lisID uuid.UUID) (*FormData, error) {
	f := &FormData{}
	err := s.tx(ctx, tenantID, lisID, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if f.Plan, err = ActivePlan(ctx, tx, tenantID, lisID); err != nil {
			return err
		}
		if f.Goals, err = PlanGoals(ctx, tx, tenantID, lisID); err != nil {
			return err
		}
		if f.Arenas, err = Arenas(ctx, tx, tenantID); err != nil {
			return err
		}
		if f.Supervisors, err = Supervisors(ctx, tx, tenantID, lisID); err != nil {
			return err
		}
		if f.Documents, err = documents.Choices(ctx, tx, tenantID, lisID); err != nil {
			return err
		}
		if f.MaxBytes, err = documents.MaxBytes(ctx, tx, tenantID); err != nil {
			return err
		}
		var pref []string
		if err := tx.NewRaw("SELECT value FROM preferences WHERE tenant_id = ? AND person_id = ? AND key = ?", tenantID, lisID, PreferenceSupervisor).Scan(ctx, &pref); err != nil {
			return err
		}
		if len(pref) == 1 {
			f.Remembered = pref[0]
		}
		return nil
	})
	return f, err
}

// Input is a new activity as the LIS entered it.
type Input struct {
	Kind          string
	Title         string
	DoneOn        string // åååå-mm-dd
	ArenaID       string
	GoalCodes     []string
	Comment       string
	SupervisorID  string // empty: self-registered (only for kinds that need no signature)
	ProcedureID   *uuid.UUID
	LocalID       *uuid.UUID
	ProcedureRole string
	Count         int
	DocumentID    string // the LIS's own document, as kursbevis of a course
}

// Create registers an activity for the LIS: self-registered, or sent to one of
// their supervisors for signing (one request however many repetitions).
func (s *Store) Create(ctx context.Context, tenantID uuid.UUID, lis tenants.Actor, in Input) (*Activity, error) {
	var out *Activity
	err := s.tx(ctx, tenantID, lis.PersonID, func(ctx context.Context, tx bun.Tx) error {
		var err error
		out, err = s.create(ctx, tx, tenantID, lis, in)
		return err
	})
	return out, err
}

func (s *Store) create(ctx context.Context, tx bun.Tx, tenantID uuid.UUID, lis tenants.Actor, in Input) (*Activity, error) {
	bad := map[string]string{}
	a := &Activity{TenantID: tenantID, LisID: lis.PersonID, Kind: in.Kind, Title: strings.TrimSpace(in.Title), Comment: strings.TrimSpace(in.Comment),
		ProcedureID: in.ProcedureID, LocalID: in.LocalID, Count: in.Count, Status: StatusRegistered}
	if KindLabel(a.Kind) == a.Kind {
		bad["kind"] = "Velg hva slags aktivitet det er."
	}
	if a.Title == "" {
		bad["title"] = "Skriv hva du gjorde."
	} else if len([]rune(a.Title)) > 300 {
		bad["title"] = "Tittelen kan ha høyst 300 tegn."
	}
	if d, err := time.Parse("2006-01-02", strings.TrimSpace(in.DoneOn)); err != nil {
		bad["done_on"] = "Skriv datoen som åååå-mm-dd."
	} else if d.After(s.now().AddDate(0, 0, 1)) {
		bad["done_on"] = "Datoen kan ikke være fram i tid."
	} else {
		a.DoneOn = d
	}
	if a.Count == 0 {
		a.Count = 1
	}
	if a.Count < 1 || a.Count > 1000 {
		bad["count"] = "Antallet må være mellom 1 og 1000."
	}
	if a.Kind == "procedure" {
		if in.ProcedureRole != RoleAssisted && in.ProcedureRole != RolePerformed {
			bad["role"] = "Velg assistert eller utført."
		}
		a.ProcedureRole = in.ProcedureRole
	} else {
		a.ProcedureID, a.LocalID = nil, nil
	}
	if id := strings.TrimSpace(in.ArenaID); id != "" {
		aid, err := uuid.Parse(id)
		ok := err == nil
		if ok {
			if ok, err = storage.Exists(ctx, tx, "SELECT 1 FROM arenas WHERE tenant_id = ? AND id = ? AND archived_at IS NULL", tenantID, aid); err != nil {
				return nil, err
			}
		}
		if !ok {
			bad["arena"] = "Velg en læringsarena fra listen."
		} else {
			a.ArenaID = &aid
		}
	}
	plan, err := ActivePlan(ctx, tx, tenantID, lis.PersonID)
	if err != nil {
		return nil, err
	}
	if plan != nil {
		a.AssignmentID = &plan.AssignmentID
	} else if err := EndedByMove(ctx, tx, tenantID, lis.PersonID); err != nil {
		return nil, err
	}
	a.GoalCodes = []string{}
	if len(in.GoalCodes) > 0 {
		known, err := PlanGoals(ctx, tx, tenantID, lis.PersonID)
		if err != nil {
			return nil, err
		}
		set := map[string]bool{}
		for _, c := range known {
			set[c] = true
		}
		seen := map[string]bool{}
		for _, c := range in.GoalCodes {
			c = strings.TrimSpace(c)
			if c == "" || seen[c] {
				continue
			}
			if !set[c] {
				bad["goals"] = "Velg læringsmål fra planen din."
				break
			}
			seen[c] = true
			a.GoalCodes = append(a.GoalCodes, c)
		}
	}
	if id := strings.TrimSpace(in.SupervisorID); id != "" {
		sid, err := uuid.Parse(id)
		ok := err == nil
		if ok {
			if ok, err = tenants.Supervises(ctx, tx, tenantID, sid, lis.PersonID); err != nil {
				return nil, err
			}
		}
		if !ok {
			bad["supervisor"] = "Velg en av supervisørene dine."
		} else {
			a.SupervisorID, a.Status = &sid, StatusRequested
			now := s.now()
			a.RequestedAt = &now
		}
	} else if !SelfRegistered(a.Kind) && bad["kind"] == "" {
		bad["supervisor"] = "Denne aktiviteten må signeres: velg en supervisør."
	}
	if id := strings.TrimSpace(in.DocumentID); id != "" {
		did, perr := uuid.Parse(id)
		var err error
		if perr == nil {
			_, err = documents.Owned(ctx, tx, tenantID, lis.PersonID, did)
		}
		switch {
		case a.Kind != "course":
			bad["document"] = "Kursbevis legges ved kurs. Velg «Kurs» som type, eller fjern dokumentet."
		case perr != nil || apperr.Is(err, apperr.NotFound):
			bad["document"] = "Velg et av dine egne dokumenter."
		case err != nil:
			return nil, err
		default:
			a.DocumentID = &did
		}
	}
	if err := apperr.InvalidFields(bad); err != nil {
		return nil, err
	}
	err = tx.NewRaw(`INSERT INTO activities (tenant_id, lis_id, assignment_id, kind, title, procedure_id, local_id, procedure_role, count,
			done_on, arena_id, goal_codes, comment, status, supervisor_id, requested_at, document_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, NULLIF(?, ''), ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id, created_at, updated_at`,
		tenantID, a.LisID, a.AssignmentID, a.Kind, a.Title, a.ProcedureID, a.LocalID, a.ProcedureRole, a.Count,
		a.DoneOn.Format("2006-01-02"), a.ArenaID, pgdialect.Array(a.GoalCodes), a.Comment, a.Status, a.SupervisorID, a.RequestedAt, a.DocumentID).
		Scan(ctx, &a.ID, &a.CreatedAt, &a.UpdatedAt)
	if err != nil {
		return nil, documents.Vanished(err)
	}
	if a.Status == StatusRequested {
		err = tenants.Emit(ctx, tx, tenants.Event{TenantID: tenantID, Topic: TopicSignatureRequested, Recipient: *a.SupervisorID,
			Payload: map[string]any{"activity_id": a.ID, "lis_id": a.LisID, "lis_name": lis.Name, "title": a.Title, "count": a.Count}})
	}
	return a, err
}

// List returns the LIS's own activities, newest first, optionally narrowed by
// a search in the title and a status.
func (s *Store) List(ctx context.Context, tenantID, lisID uuid.UUID, q, status string) ([]Activity, error) {
	var out []Activity
	err := s.tx(ctx, tenantID, lisID, func(ctx context.Context, tx bun.Tx) error {
		query := `SELECT ` + activityColumns + activityFrom + ` WHERE a.tenant_id = ? AND a.lis_id = ?`
		args := []any{tenantID, lisID}
		if q = strings.TrimSpace(q); q != "" {
			query += ` AND a.title ILIKE ?`
			args = append(args, storage.Contains(q))
		}
		if StatusLabel(status) != "" {
			query += ` AND a.status = ?`
			args = append(args, status)
		}
		if err := tx.NewRaw(query+` ORDER BY a.done_on DESC, a.created_at DESC LIMIT 500`, args...).Scan(ctx, &out); err != nil {
			return err
		}
		return attachDocuments(ctx, tx, tenantID, out)
	})
	return out, err
}

// Get returns one of the LIS's own activities with its signatures (NotFound
// for anyone else's).
func (s *Store) Get(ctx context.Context, tenantID, lisID, id uuid.UUID) (*Activity, error) {
	var out []Activity
	err := s.tx(ctx, tenantID, lisID, func(ctx context.Context, tx bun.Tx) error {
		if err := tx.NewRaw(`SELECT `+activityColumns+activityFrom+` WHERE a.tenant_id = ? AND a.lis_id = ? AND a.id = ?`, tenantID, lisID, id).Scan(ctx, &out); err != nil {
			return err
		}
		return withSignatures(ctx, tx, out)
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, apperr.Default(apperr.NotFound)
	}
	return &out[0], nil
}

// Withdraw takes back a signature request the supervisor has not decided on.
func (s *Store) Withdraw(ctx context.Context, tenantID uuid.UUID, lis tenants.Actor, id uuid.UUID) error {
	return s.tx(ctx, tenantID, lis.PersonID, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE activities SET status = 'withdrawn', updated_at = now()
			WHERE tenant_id = ? AND id = ? AND lis_id = ? AND status = 'requested'`, tenantID, id, lis.PersonID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		var status []string
		if err := tx.NewRaw("SELECT status FROM activities WHERE tenant_id = ? AND id = ? AND lis_id = ?", tenantID, id, lis.PersonID).Scan(ctx, &status); err != nil {
			return err
		}
		if len(status) == 0 {
			return apperr.Default(apperr.NotFound)
		}
		return refusal(status[0])
	})
}

// refusal says why a request in status can no longer be withdrawn or decided.
func refusal(status string) error {
	switch status {
	case StatusSigned:
		return apperr.New(apperr.Conflict, "Aktiviteten er allerede signert.")
	case StatusRejected:
		return apperr.New(apperr.Conflict, "Aktiviteten er allerede avvist.")
	case StatusWithdrawn:
		return apperr.New(apperr.Conflict, "Aktiviteten er trukket tilbake av LIS-en.")
	default:
		return apperr.New(apperr.Conflict, "Aktiviteten venter ikke på signatur.")
	}
}

// Queue returns the requests sent to the supervisor, oldest first, of LIS
// they supervise.
func (s *Store) Queue(ctx context.Context, tenantID, supervisorID uuid.UUID) ([]Activity, error) {
	var out []Activity
	err := s.tx(ctx, tenantID, supervisorID, func(ctx context.Context, tx bun.Tx) error {
		if err := storage.Select(ctx, tx, &out, `SELECT `+activityColumns+activityFrom+queueWhere+` ORDER BY a.requested_at, a.created_at`, tenantID, supervisorID); err != nil {
			return err
		}
		return attachDocuments(ctx, tx, tenantID, out)
	})
	return out, err
}

// CountQueue is how many activities wait for the supervisor (the home page).
func (s *Store) CountQueue(ctx context.Context, tenantID, supervisorID uuid.UUID) (int, error) {
	var n int
	err := s.tx(ctx, tenantID, supervisorID, func(ctx context.Context, tx bun.Tx) error {
		return storage.Select(ctx, tx, &n, `SELECT count(*) FROM activities a`+queueWhere, tenantID, supervisorID)
	})
	return n, err
}

// queueWhere is a supervisor's queue: requests to them from LIS they still
// supervise (for ? tenant, ? supervisor).
const queueWhere = ` WHERE a.tenant_id = ? AND a.supervisor_id = ? AND a.status = 'requested'
	AND EXISTS (SELECT 1 FROM relations r WHERE r.tenant_id = a.tenant_id AND r.lis_id = a.lis_id AND r.person_id = a.supervisor_id AND r.kind = 'supervisor')`

// attachDocuments fills each activity's kursbevis.
func attachDocuments(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, list []Activity) error {
	var ids []uuid.UUID
	for _, a := range list {
		if a.DocumentID != nil {
			ids = append(ids, *a.DocumentID)
		}
	}
	refs, err := documents.Refs(ctx, tx, tenantID, ids)
	if err != nil {
		return err
	}
	for i := range list {
		if list[i].DocumentID != nil {
			list[i].Document = refs[*list[i].DocumentID]
		}
	}
	return nil
}

// DocumentReferrer tells the documents module which activities a document is
// the kursbevis of; one waiting for or holding a signature keeps it.
func DocumentReferrer(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, ids []uuid.UUID) (map[uuid.UUID][]documents.Reference, error) {
	var rows []Activity
	if err := tx.NewRaw(`SELECT a.id, a.kind, a.title, a.status, a.document_id FROM activities a
		WHERE a.tenant_id = ? AND a.document_id = ANY(?) ORDER BY a.done_on`, tenantID, pgdialect.Array(ids)).Scan(ctx, &rows); err != nil {
		return nil, err
	}
	out := map[uuid.UUID][]documents.Reference{}
	for _, a := range rows {
		out[*a.DocumentID] = append(out[*a.DocumentID], documents.Reference{
			Label:  KindLabel(a.Kind) + ": " + a.Title + " (" + strings.ToLower(StatusLabel(a.Status)) + ")",
			Locked: a.Status == StatusRequested || a.Status == StatusSigned,
		})
	}
	return out, nil
}

// Decision is a supervisor's answer on one request.
type Decision struct {
	ActivityID uuid.UUID
	Comment    string
}

// Decide signs or rejects requests sent to the supervisor, all in one
// transaction: each writes a signature with a snapshot of what was decided on
// and moves the activity on. A request not sent to them, or of a LIS they do
// not supervise, is NotFound; one already decided or withdrawn is a Conflict,
// and then nothing is decided.
func (s *Store) Decide(ctx context.Context, tenantID uuid.UUID, sup tenants.Actor, decision string, ds []Decision) error {
	if decision != DecisionSigned && decision != DecisionRejected {
		return apperr.New(apperr.Invalid, "Velg signer eller avvis.")
	}
	if len(ds) == 0 {
		return apperr.New(apperr.Invalid, "Velg minst én aktivitet.")
	}
	return s.tx(ctx, tenantID, sup.PersonID, func(ctx context.Context, tx bun.Tx) error {
		for _, d := range ds {
			if err := s.decide(ctx, tx, tenantID, sup, decision, d); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) decide(ctx context.Context, tx bun.Tx, tenantID uuid.UUID, sup tenants.Actor, decision string, d Decision) error {
	var rows []Activity
	// FOR UPDATE: a second decision (a double click) waits here and then finds
	// the status changed; the snapshot is what the row holds when decided.
	if err := tx.NewRaw(`SELECT `+activityColumns+activityFrom+` WHERE a.tenant_id = ? AND a.id = ? AND a.supervisor_id = ? FOR UPDATE OF a`,
		tenantID, d.ActivityID, sup.PersonID).Scan(ctx, &rows); err != nil {
		return err
	}
	if len(rows) == 0 {
		return apperr.Default(apperr.NotFound)
	}
	a := rows[0]
	ok, err := tenants.Supervises(ctx, tx, tenantID, sup.PersonID, a.LisID)
	if err != nil {
		return err
	}
	if !ok {
		return apperr.Default(apperr.NotFound)
	}
	res, err := tx.ExecContext(ctx, `UPDATE activities SET status = ?, updated_at = now()
		WHERE tenant_id = ? AND id = ? AND status = 'requested' AND supervisor_id = ?`, decision, tenantID, a.ID, sup.PersonID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		var status string
		if err := tx.NewRaw("SELECT status FROM activities WHERE tenant_id = ? AND id = ?", tenantID, a.ID).Scan(ctx, &status); err != nil {
			return err
		}
		return refusal(status)
	}
	snap := Snapshot{ActivityID: a.ID, Title: a.Title, Kind: a.Kind, Role: a.ProcedureRole, Count: a.Count, DoneOn: a.DoneOn.Format("2006-01-02"),
		Goals: a.GoalCodes, Comment: a.Comment, LisID: a.LisID, LisName: a.LisName, Document: a.DocumentID}
	if snap.Goals == nil {
		snap.Goals = []string{}
	}
	if a.ProcedureID != nil {
		if err := tx.NewRaw("SELECT name FROM national_procedures WHERE id = ?", *a.ProcedureID).Scan(ctx, &snap.Procedure); err != nil {
			return err
		}
	} else if a.LocalID != nil {
		var names []string
		if err := tx.NewRaw("SELECT name FROM local_activities WHERE tenant_id = ? AND id = ?", tenantID, *a.LocalID).Scan(ctx, &names); err != nil {
			return err
		}
		if len(names) == 1 {
			snap.Procedure = names[0]
		}
	}
	raw, err := json.Marshal(snap)
	if err != nil {
		return err
	}
	comment := strings.TrimSpace(d.Comment)
	var sigID uuid.UUID
	if err := tx.NewRaw(`INSERT INTO signatures (tenant_id, activity_id, supervisor_id, decision, comment, snapshot) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		tenantID, a.ID, sup.PersonID, decision, comment, string(raw)).Scan(ctx, &sigID); err != nil {
		return err
	}
	if err := chain.Append(ctx, tx, chain.KindSignature, tenantID, sigID); err != nil {
		return err
	}
	topic := TopicSigned
	if decision == DecisionRejected {
		topic = TopicRejected
	}
	return tenants.Emit(ctx, tx, tenants.Event{TenantID: tenantID, Topic: topic, Recipient: a.LisID,
		Payload: map[string]any{"activity_id": a.ID, "title": a.Title, "count": a.Count, "supervisor_id": sup.PersonID, "supervisor_name": sup.Name, "comment": comment}})
}

// ForGoal returns the LIS's activities that support a goal (every status but
// withdrawn), oldest first, each with its signatures. tx must have the tenant
// in force (tenants.WithTenantTx); the goals module builds the
// godkjenningsgrunnlag from it.
func ForGoal(ctx context.Context, tx bun.IDB, tenantID, lisID uuid.UUID, goalCode string) ([]Activity, error) {
	var out []Activity
	if err := tx.NewRaw(`SELECT `+activityColumns+activityFrom+` WHERE a.tenant_id = ? AND a.lis_id = ? AND ? = ANY(a.goal_codes) AND a.status <> 'withdrawn'
		ORDER BY a.done_on, a.created_at`, tenantID, lisID, goalCode).Scan(ctx, &out); err != nil {
		return nil, err
	}
	return out, withSignatures(ctx, tx, out)
}

// ForGoalEarlier returns the LIS's completed activities (signed or
// self-registered) supporting a goal in the given tenants, oldest first, each
// with its signatures as stored. The goals module passes the LIS's earlier
// workplaces (moved.Earlier); tx has the new workplace in force, and the
// earlier_record policies decide what is read, so any other tenant reads
// nothing.
func ForGoalEarlier(ctx context.Context, tx bun.IDB, tenantIDs []uuid.UUID, lisID uuid.UUID, goalCode string) ([]Activity, error) {
	if len(tenantIDs) == 0 {
		return nil, nil
	}
	var out []Activity
	if err := tx.NewRaw(`SELECT `+activityColumns+activityFrom+` WHERE a.tenant_id = ANY(?) AND a.lis_id = ? AND ? = ANY(a.goal_codes)
		AND a.status IN ('signed', 'registered') ORDER BY a.done_on, a.created_at`, pgdialect.Array(tenantIDs), lisID, goalCode).Scan(ctx, &out); err != nil {
		return nil, err
	}
	return out, withSignatures(ctx, tx, out)
}

// withSignatures fills each activity's decisions, oldest first, from the
// activity's own tenant.
func withSignatures(ctx context.Context, tx bun.IDB, out []Activity) error {
	if len(out) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(out))
	var tenantIDs []uuid.UUID
	at := map[uuid.UUID]int{}
	for i, a := range out {
		ids[i] = a.ID
		at[a.ID] = i
		if !slices.Contains(tenantIDs, a.TenantID) {
			tenantIDs = append(tenantIDs, a.TenantID)
		}
	}
	var sigs []Signature
	if err := tx.NewRaw(`SELECT g.tenant_id, g.id, g.activity_id, g.supervisor_id, trim(p.given_name || ' ' || p.family_name) AS supervisor_name,
			g.decision, g.comment, g.signed_at, g.snapshot
		FROM signatures g JOIN people p ON p.id = g.supervisor_id WHERE g.tenant_id = ANY(?) AND g.activity_id = ANY(?) ORDER BY g.signed_at`,
		pgdialect.Array(tenantIDs), pgdialect.Array(ids)).Scan(ctx, &sigs); err != nil {
		return err
	}
	for _, g := range sigs {
		if i, ok := at[g.ActivityID]; ok && out[i].TenantID == g.TenantID {
			out[i].Signatures = append(out[i].Signatures, g)
		}
	}
	return nil
}

// CountRequestedQuery counts a LIS's activities waiting for a signature, for
// ?0 tenant and ?1 LIS (kportal bench runs the same text as its baseline).
const CountRequestedQuery = `SELECT count(*) FROM activities WHERE tenant_id = ?0 AND lis_id = ?1 AND status = 'requested'`

// CountRequested is how many of the LIS's activities wait for a signature.
func (s *Store) CountRequested(ctx context.Context, tenantID, lisID uuid.UUID) (int, error) {
	var n int
	err := s.tx(ctx, tenantID, lisID, func(ctx context.Context, tx bun.Tx) error {
		return storage.Select(ctx, tx, &n, CountRequestedQuery, tenantID, lisID)
	})
	return n, err
}

// OwnActivities lists the LIS's activities in every tenant, newest first (at
// most limit). tx is a tenants.OwnRecordTx of that LIS: the own_record
// policies decide what is seen (arenas stay in their tenant: no names).
func OwnActivities(ctx context.Context, tx bun.IDB, lisID uuid.UUID, limit int) ([]Activity, error) {
	var out []Activity
	err := tx.NewRaw(`SELECT `+activityColumns+activityFrom+` WHERE a.lis_id = ? AND a.status <> 'withdrawn'
		ORDER BY a.done_on DESC, a.created_at DESC LIMIT ?`, lisID, limit).Scan(ctx, &out)
	return out, err
}

// OwnCourses lists every course of the LIS in every tenant, newest first, in
// a tenants.OwnRecordTx as OwnActivities: for readers who want the courses
// and not the activities (the API's record), without reading the rest.
func OwnCourses(ctx context.Context, tx bun.IDB, lisID uuid.UUID) ([]Activity, error) {
	var out []Activity
	err := tx.NewRaw(`SELECT `+activityColumns+activityFrom+` WHERE a.lis_id = ? AND a.kind = 'course' AND a.status <> 'withdrawn'
		ORDER BY a.done_on DESC, a.created_at DESC`, lisID).Scan(ctx, &out)
	return out, err
}

// ProcedureCount is how many repetitions of one procedure a LIS registered
// in one tenant, by role; signed ones apart.
type ProcedureCount struct {
	TenantID        uuid.UUID `bun:"tenant_id"`
	Name            string    `bun:"name"`
	Assisted        int       `bun:"assisted"`
	Performed       int       `bun:"performed"`
	AssistedSigned  int       `bun:"assisted_signed"`
	PerformedSigned int       `bun:"performed_signed"`
	// The national requirement (0: none, or not a national procedure).
	RequiredAssisted  int `bun:"required_assisted"`
	RequiredPerformed int `bun:"required_performed"`
	RequiredEither    int `bun:"required_either"` // assisted or performed
}

// OwnProcedureCounts sums the LIS's procedures per tenant and procedure
// (withdrawn and rejected ones not counted), in a tenants.OwnRecordTx.
func OwnProcedureCounts(ctx context.Context, tx bun.IDB, lisID uuid.UUID) ([]ProcedureCount, error) {
	var out []ProcedureCount
	err := tx.NewRaw(`SELECT a.tenant_id, coalesce(np.name, a.title) AS name,
		coalesce(sum(a.count) FILTER (WHERE a.procedure_role = 'assisted'), 0) AS assisted,
		coalesce(sum(a.count) FILTER (WHERE a.procedure_role = 'performed'), 0) AS performed,
		coalesce(sum(a.count) FILTER (WHERE a.procedure_role = 'assisted' AND a.status = 'signed'), 0) AS assisted_signed,
		coalesce(sum(a.count) FILTER (WHERE a.procedure_role = 'performed' AND a.status = 'signed'), 0) AS performed_signed,
		coalesce(max(np.assisted), 0) AS required_assisted, coalesce(max(np.performed), 0) AS required_performed,
		coalesce(max(np.assisted_or_performed), 0) AS required_either
		FROM activities a LEFT JOIN national_procedures np ON np.id = a.procedure_id
		WHERE a.lis_id = ? AND a.kind = 'procedure' AND a.status NOT IN ('withdrawn', 'rejected')
		GROUP BY a.tenant_id, coalesce(np.name, a.title) ORDER BY name`, lisID).Scan(ctx, &out)
	return out, err
}

// EndedByMove refuses new work of a LIS at a workplace they have moved away
// from (and have no active plan at again): the old record is ended there.
// tx has tenantID in force.
func EndedByMove(ctx context.Context, tx bun.IDB, tenantID, lisID uuid.UUID) error {
	if plan, err := ActivePlan(ctx, tx, tenantID, lisID); err != nil || plan != nil {
		return err
	}
	d, err := moved.LeftFrom(ctx, tx, tenantID, lisID)
	if err != nil || d == nil {
		return err
	}
	return d.Refusal()
}
