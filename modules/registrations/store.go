package registrations

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"

	"kportal/modules/apperr"
	"kportal/modules/hook"
	"kportal/modules/workflow"
	"kportal/tenants"
)

// State is where a registration is in its workflow.
type State = workflow.State

const (
	Draft            State = "draft"
	Submitted        State = "submitted"
	ChangesRequested State = "changes_requested"
	Approved         State = "approved"
	Rejected         State = "rejected"
)

// Transitions of the registration workflow.
const (
	TransitionSubmit         = "submit"
	TransitionRequestChanges = "request_changes"
	TransitionApprove        = "approve"
	TransitionReject         = "reject"
)

// Casbin object and actions.
const (
	Object       = "registration"
	ActionRead   = "read"   // the virksomhet reads its registration
	ActionEdit   = "edit"   // the virksomhet saves and sends it
	ActionReview = "review" // Helsedirektoratet reads every sent registration and decides
)

// StateLabel is a state in Norwegian.
func StateLabel(s State) string {
	switch s {
	case Draft:
		return "Utkast"
	case Submitted:
		return "Sendt til Helsedirektoratet"
	case ChangesRequested:
		return "Endringer ønsket"
	case Approved:
		return "Godkjent"
	case Rejected:
		return "Avslått"
	}
	return string(s)
}

// subject is a registration moving through the workflow, with what the
// transition's guards check: the content to send, or the reviewer's comment.
type subject struct {
	state   State
	content *Content
	comment string
}

func (s *subject) WorkflowState() State { return s.state }

// complete refuses to send a registration that lacks what Helsedirektoratet needs.
var complete workflow.Guard = func(_ context.Context, s workflow.Subject) error {
	if p := s.(*subject).content.checkComplete(); len(p) > 0 {
		return invalid(p, "Registreringen kan ikke sendes ennå. Rett opp det som er merket.")
	}
	return nil
}

// commented refuses a request for changes or a rejection without a comment.
var commented workflow.Guard = func(_ context.Context, s workflow.Subject) error {
	if strings.TrimSpace(s.(*subject).comment) == "" {
		var p Problems
		p.add("comment", "Skriv en kommentar til virksomheten: hva må endres, eller hvorfor registreringen avslås.")
		return invalid(p, "Skriv en kommentar.")
	}
	return nil
}

// Workflow is the registration's state machine: draft → submitted →
// changes_requested → submitted … → approved | rejected.
func Workflow() *workflow.Def {
	return &workflow.Def{
		Name: "registration", Object: Object, Initial: Draft, Final: []State{Approved, Rejected},
		Transitions: []workflow.Transition{
			{Name: TransitionSubmit, From: []State{Draft, ChangesRequested}, To: Submitted, Action: ActionEdit,
				Guards: []workflow.Guard{complete}, Emit: "registration.submitted"},
			{Name: TransitionRequestChanges, From: []State{Submitted}, To: ChangesRequested, Action: ActionReview,
				Guards: []workflow.Guard{commented}, Emit: "registration.changes_requested"},
			{Name: TransitionApprove, From: []State{Submitted}, To: Approved, Action: ActionReview, Emit: "registration.approved"},
			{Name: TransitionReject, From: []State{Submitted}, To: Rejected, Action: ActionReview,
				Guards: []workflow.Guard{commented}, Emit: "registration.rejected"},
		},
	}
}

// Registration is one application of a tenant to be an utdanningsvirksomhet.
type Registration struct {
	bun.BaseModel `bun:"table:registrations"`

	TenantID uuid.UUID `bun:"tenant_id,pk,type:uuid"`
	ID       uuid.UUID `bun:"id,pk,type:uuid"`
	State    State     `bun:"state"`
	Content
	// FirstSubmittedAt is the registration date: the first submission, kept
	// when the registration is sent again after changes were asked for.
	FirstSubmittedAt *time.Time `bun:"first_submitted_at"`
	LastSubmittedAt  *time.Time `bun:"last_submitted_at"`
	DecidedAt        *time.Time `bun:"decided_at"`
	CreatedAt        time.Time  `bun:"created_at,nullzero,default:now()"`
	UpdatedAt        time.Time  `bun:"updated_at,nullzero,default:now()"`
	UpdatedBy        *uuid.UUID `bun:"updated_by,type:uuid"`
}

// WorkflowState makes a registration a workflow subject.
func (r *Registration) WorkflowState() State { return r.State }

// Event is one entry of a registration's history.
type Event struct {
	bun.BaseModel `bun:"table:registration_events"`

	TenantID       uuid.UUID  `bun:"tenant_id,pk,type:uuid"`
	RegistrationID uuid.UUID  `bun:"registration_id,pk,type:uuid"`
	ID             uuid.UUID  `bun:"id,pk,type:uuid"`
	Kind           State      `bun:"kind"` // the state it led to
	FromState      State      `bun:"from_state"`
	ToState        State      `bun:"to_state"`
	ActorID        *uuid.UUID `bun:"actor_id,type:uuid"`
	ActorName      string     `bun:"actor_name"`
	ActorRole      string     `bun:"actor_role"` // tenant_admin or hdir
	Comment        string     `bun:"comment"`
	CreatedAt      time.Time  `bun:"created_at"`
}

// Actor is who acts: their name is kept in the history; Can says which of the
// registration's actions they hold (the route guard's Casbin decision).
type Actor struct {
	PersonID uuid.UUID
	Name     string
	Role     string // tenants' tenant_admin or the platform's hdir
	Can      workflow.Can
}

func (a Actor) can(obj, act string) (bool, error) {
	if a.Can == nil {
		return false, nil
	}
	return a.Can(obj, act)
}

func (a Actor) person() *uuid.UUID {
	if a.PersonID == uuid.Nil {
		return nil
	}
	id := a.PersonID
	return &id
}

// Store keeps registrations and their history.
type Store struct {
	db  bun.IDB
	def *workflow.Def
	// Events fire inside the transaction of every transition (submitted,
	// changes_requested, approved, rejected); a handler's error rolls it back.
	Events hook.Hook[workflow.Event]
}

// NewStore returns the store on db (the application role, bound by RLS).
func NewStore(db bun.IDB) *Store { return &Store{db: db, def: Workflow()} }

func invalid(p Problems, msg string) error {
	return &apperr.Error{Code: apperr.Invalid, Message: msg, Cause: p, Fields: p.fields()}
}

// Error makes Problems the internal cause of an Invalid error.
func (p Problems) Error() string {
	var b strings.Builder
	for i, x := range p {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(x.Field + ": " + x.Message)
	}
	return b.String()
}

// ProblemsOf returns the field problems behind an Invalid error, in form order.
func ProblemsOf(err error) Problems {
	var p Problems
	if errors.As(err, &p) {
		return p
	}
	return nil
}

func editable(s State) bool { return s == Draft || s == ChangesRequested }

func notEditable(s State) error {
	switch s {
	case Approved:
		return apperr.New(apperr.Conflict, "Registreringen er godkjent og kan ikke endres.")
	default:
		return apperr.New(apperr.Conflict, "Registreringen er sendt til Helsedirektoratet og kan ikke endres mens den behandles.")
	}
}

// current is the tenant's registration: the one in progress or approved, or
// else the last rejected one. nil when the tenant has none.
func current(ctx context.Context, tx bun.Tx, tenantID uuid.UUID, lock bool) (*Registration, error) {
	r := new(Registration)
	q := tx.NewSelect().Model(r).Where("tenant_id = ?", tenantID).
		OrderExpr("state <> 'rejected' DESC, created_at DESC").Limit(1)
	if lock {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, err
	}
	return r, nil
}

func history(ctx context.Context, tx bun.Tx, r *Registration) ([]Event, error) {
	var out []Event
	err := tx.NewSelect().Model(&out).Where("tenant_id = ? AND registration_id = ?", r.TenantID, r.ID).
		OrderExpr("created_at, id").Scan(ctx)
	return out, err
}

// Current returns a tenant's registration and its history (nil when none).
func (s *Store) Current(ctx context.Context, tenantID uuid.UUID) (*Registration, []Event, error) {
	var reg *Registration
	var evs []Event
	err := tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if reg, err = current(ctx, tx, tenantID, false); err != nil || reg == nil {
			return err
		}
		evs, err = history(ctx, tx, reg)
		return err
	})
	return reg, evs, err
}

var contentColumns = []string{"specialties", "arenas", "supervision", "partner_agreements", "contact_name", "contact_email", "contact_phone", "updated_by"}

func txNow(ctx context.Context, tx bun.Tx) (time.Time, error) {
	var now time.Time
	err := tx.NewRaw("SELECT now()").Scan(ctx, &now)
	return now, err
}

// SaveDraft keeps what the virksomhet has filled in, complete or not. A
// registration that is sent or approved cannot be changed (conflict); after a
// rejection, saving starts a new registration.
func (s *Store) SaveDraft(ctx context.Context, a Actor, tenantID uuid.UUID, c Content) (*Registration, error) {
	c.normalize()
	if p := c.checkLimits(); len(p) > 0 {
		return nil, invalid(p, "Noe i skjemaet må rettes før utkastet kan lagres.")
	}
	var out *Registration
	err := tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID, PersonID: a.PersonID}, func(ctx context.Context, tx bun.Tx) error {
		r, err := current(ctx, tx, tenantID, true)
		if err != nil {
			return err
		}
		now, err := txNow(ctx, tx)
		if err != nil {
			return err
		}
		if r == nil || r.State == Rejected {
			out = &Registration{TenantID: tenantID, ID: uuid.New(), State: Draft, Content: c, UpdatedBy: a.person(), CreatedAt: now, UpdatedAt: now}
			_, err := tx.NewInsert().Model(out).Exec(ctx)
			return raced(err)
		}
		if !editable(r.State) {
			return notEditable(r.State)
		}
		r.Content, r.UpdatedBy, r.UpdatedAt = c, a.person(), now
		_, err = tx.NewUpdate().Model(r).Column(contentColumns...).Column("updated_at").WherePK().Exec(ctx)
		out = r
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// raced turns the unique-index violation of two first saves at once into a
// conflict the user can retry.
func raced(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return apperr.Wrap(err, apperr.Conflict, "Registreringen ble endret samtidig av noen andre. Last siden på nytt og prøv igjen.")
	}
	return err
}

// Submit saves c and sends the registration to Helsedirektoratet. When c is
// not complete it returns Invalid with the problems and changes nothing: the
// draft stays as it was last saved. The first submission is the registration
// date; sending again after changes were asked for keeps it.
func (s *Store) Submit(ctx context.Context, a Actor, tenantID uuid.UUID, c Content) (*Registration, error) {
	c.normalize()
	var out *Registration
	err := tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID, PersonID: a.PersonID}, func(ctx context.Context, tx bun.Tx) error {
		r, err := current(ctx, tx, tenantID, true)
		if err != nil {
			return err
		}
		isNew := r == nil || r.State == Rejected
		if isNew {
			r = &Registration{TenantID: tenantID, ID: uuid.New(), State: Draft}
		} else if !editable(r.State) {
			return notEditable(r.State)
		}
		to, ev, err := s.def.Fire(ctx, &subject{state: r.State, content: &c}, TransitionSubmit, a.can)
		if err != nil {
			return err
		}
		now, err := txNow(ctx, tx)
		if err != nil {
			return err
		}
		from := r.State
		r.Content, r.State, r.UpdatedBy, r.UpdatedAt, r.LastSubmittedAt = c, to, a.person(), now, &now
		if r.FirstSubmittedAt == nil {
			r.FirstSubmittedAt = &now
		}
		if isNew {
			r.CreatedAt = now
			if _, err := tx.NewInsert().Model(r).Exec(ctx); err != nil {
				return raced(err)
			}
		} else if _, err := tx.NewUpdate().Model(r).Column(contentColumns...).
			Column("state", "first_submitted_at", "last_submitted_at", "updated_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		if err := s.record(ctx, tx, r, from, a, "", now); err != nil {
			return err
		}
		out = r
		return s.emit(ctx, ev, r)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Store) record(ctx context.Context, tx bun.Tx, r *Registration, from State, a Actor, comment string, at time.Time) error {
	e := &Event{TenantID: r.TenantID, RegistrationID: r.ID, ID: uuid.New(), Kind: r.State, FromState: from, ToState: r.State,
		ActorID: a.person(), ActorName: a.Name, ActorRole: a.Role, Comment: comment, CreatedAt: at}
	_, err := tx.NewInsert().Model(e).Exec(ctx)
	return err
}

func (s *Store) emit(ctx context.Context, ev *workflow.Event, r *Registration) error {
	if ev == nil {
		return nil
	}
	ev.Subject = r
	return s.Events.Trigger(ctx, *ev)
}

// Decisions Helsedirektoratet can make on a sent registration.
var Decisions = []string{TransitionRequestChanges, TransitionApprove, TransitionReject}

// Decide records Helsedirektoratet's decision on a sent registration: ask for
// changes (comment required), approve, or reject (comment required). Anything
// but a sent registration is refused as a conflict; a draft is not found.
//
// It runs with the registration's own tenant in force, so the update and the
// history row pass the tenant policy's WITH CHECK; the review flag alone can
// only read. Callers find the registration through Review first (the hdir
// routes, after the route guard checked the hdir role).
func (s *Store) Decide(ctx context.Context, a Actor, tenantID, id uuid.UUID, decision, comment string) (*Registration, error) {
	known := false
	for _, d := range Decisions {
		known = known || d == decision
	}
	if !known {
		return nil, apperr.New(apperr.Invalid, "Velg om registreringen skal sendes tilbake for endringer, godkjennes eller avslås.")
	}
	comment = strings.TrimSpace(comment)
	if tooLong(comment, maxLongText) {
		var p Problems
		p.add("comment", "Kommentaren kan ha høyst %d tegn.", maxLongText)
		return nil, invalid(p, "Kommentaren er for lang.")
	}
	var out *Registration
	err := tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID, PersonID: a.PersonID}, func(ctx context.Context, tx bun.Tx) error {
		r := new(Registration)
		err := tx.NewSelect().Model(r).Where("tenant_id = ? AND id = ? AND state <> ?", tenantID, id, Draft).For("UPDATE").Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.New(apperr.NotFound, "Fant ikke registreringen.")
		}
		if err != nil {
			return err
		}
		if r.State != Submitted {
			return apperr.New(apperr.Conflict, "Registreringen har status «%s» og kan ikke behandles nå. Bare registreringer som er sendt til Helsedirektoratet kan behandles.", StateLabel(r.State))
		}
		to, ev, err := s.def.Fire(ctx, &subject{state: r.State, comment: comment}, decision, a.can)
		if err != nil {
			return err
		}
		now, err := txNow(ctx, tx)
		if err != nil {
			return err
		}
		from := r.State
		r.State, r.UpdatedAt = to, now
		cols := []string{"state", "updated_at"}
		if to == Approved || to == Rejected {
			r.DecidedAt = &now
			cols = append(cols, "decided_at")
		}
		if _, err := tx.NewUpdate().Model(r).Column(cols...).WherePK().Exec(ctx); err != nil {
			return err
		}
		if err := s.record(ctx, tx, r, from, a, comment, now); err != nil {
			return err
		}
		// Whoever sent it is told the outcome (notifications).
		var sender []uuid.UUID
		if err := tx.NewRaw(`SELECT actor_id FROM registration_events WHERE tenant_id = ? AND registration_id = ? AND to_state = ? AND actor_id IS NOT NULL
			ORDER BY created_at DESC LIMIT 1`, tenantID, r.ID, Submitted).Scan(ctx, &sender); err != nil {
			return err
		}
		if len(sender) == 1 {
			if err := tenants.Emit(ctx, tx, tenants.Event{TenantID: tenantID, Topic: "registration.reviewed", Recipient: sender[0],
				Payload: map[string]any{"registration_id": r.ID, "state": string(to), "outcome_text": StateLabel(to), "comment": comment}}); err != nil {
				return err
			}
		}
		out = r
		return s.emit(ctx, ev, r)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// withReviewTx runs fn in a transaction where Helsedirektoratet's review
// policy applies: app.national_review is 'on' (set_config(..., true), so it
// ends with the transaction) and no tenant is set, so fn reads the
// registrations of every tenant that are not drafts, and their history, and
// can change nothing. Call it only from the hdir routes, after the route guard
// checked the hdir platform role (NeedPlatform(Object, ActionReview)); the flag
// is defence in depth, not the authorization itself.
func withReviewTx(ctx context.Context, db bun.IDB, personID uuid.UUID, fn func(ctx context.Context, tx bun.Tx) error) error {
	return tenants.WithTenantTx(ctx, db, tenants.Scope{PersonID: personID}, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, "SELECT set_config('app.national_review', 'on', true)"); err != nil {
			return err
		}
		return fn(ctx, tx)
	})
}

// Summary is a registration in Helsedirektoratet's lists.
type Summary struct {
	TenantID         uuid.UUID    `bun:"tenant_id"`
	ID               uuid.UUID    `bun:"id"`
	State            State        `bun:"state"`
	TenantName       string       `bun:"tenant_name"`
	TenantSlug       string       `bun:"tenant_slug"`
	TenantKind       tenants.Kind `bun:"tenant_kind"`
	FirstSubmittedAt *time.Time   `bun:"first_submitted_at"`
	LastSubmittedAt  *time.Time   `bun:"last_submitted_at"`
	DecidedAt        *time.Time   `bun:"decided_at"`
}

// Queue lists every tenant's registrations that are not drafts, oldest
// registration date first, for a person holding the hdir role.
func (s *Store) Queue(ctx context.Context, reviewer uuid.UUID) ([]Summary, error) {
	var out []Summary
	err := withReviewTx(ctx, s.db, reviewer, func(ctx context.Context, tx bun.Tx) error {
		// The state filter repeats the review policy, which already hides drafts.
		return tx.NewRaw(`SELECT r.tenant_id, r.id, r.state, r.first_submitted_at, r.last_submitted_at, r.decided_at,
				t.name AS tenant_name, t.slug AS tenant_slug, t.kind AS tenant_kind
			FROM registrations r JOIN tenants t ON t.id = r.tenant_id
			WHERE r.state <> ?
			ORDER BY r.first_submitted_at, t.name, r.id`, Draft).Scan(ctx, &out)
	})
	return out, err
}

// Review returns one sent registration and its history for a person holding
// the hdir role; a draft, or an id of another tenant, is not found.
func (s *Store) Review(ctx context.Context, reviewer, tenantID, id uuid.UUID) (*Registration, []Event, error) {
	r := new(Registration)
	var evs []Event
	err := withReviewTx(ctx, s.db, reviewer, func(ctx context.Context, tx bun.Tx) error {
		err := tx.NewSelect().Model(r).Where("tenant_id = ? AND id = ? AND state <> ?", tenantID, id, Draft).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.New(apperr.NotFound, "Fant ikke registreringen.")
		}
		if err != nil {
			return err
		}
		evs, err = history(ctx, tx, r)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return r, evs, nil
}
