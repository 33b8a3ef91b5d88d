package transfers

import (
	"context"
	"encoding/json"

	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"

	"kportal/modules/apperr"
	"kportal/modules/plans"
	"kportal/modules/web"
	"kportal/tenants"
)

// Statuses of a move (transfers.status).
const (
	StatusAnnounced  = "announced"
	StatusRegistered = "registered"
	StatusDone       = "done"
	StatusCancelled  = "cancelled"
	StatusFailed     = "failed"
)

// StatusText is a status in Norwegian.
func StatusText(s string) string {
	switch s {
	case StatusAnnounced:
		return "Meldt av LIS, venter på bekreftelse"
	case StatusRegistered:
		return "Registrert"
	case StatusDone:
		return "Gjennomført"
	case StatusCancelled:
		return "Avlyst"
	case StatusFailed:
		return "Feilet"
	}
	return s
}

// DefaultInFlightDays is how long work in flight at a move stays decidable at
// the old workplace when the tenant has not chosen.
const DefaultInFlightDays = 30

// Transfer is one move of a LIS into a tenant.
type Transfer struct {
	TenantID     uuid.UUID  `bun:"tenant_id"`
	ID           uuid.UUID  `bun:"id"`
	LisID        uuid.UUID  `bun:"lis_id"`
	LisName      string     `bun:"lis_name"`
	LisEmail     string     `bun:"lis_email"`
	FromTenantID uuid.UUID  `bun:"from_tenant_id"`
	FromName     string     `bun:"from_name"`
	ToName       string     `bun:"to_name"`
	ToSlug       string     `bun:"to_slug"`
	StartsOn     time.Time  `bun:"starts_on"`
	TemplateID   *uuid.UUID `bun:"template_id"`
	TemplateName string     `bun:"template_name"`
	LederID      *uuid.UUID `bun:"leder_id"`
	RegisteredBy *uuid.UUID `bun:"registered_by"`
	SameRHF      bool       `bun:"same_rhf"`
	Status       string     `bun:"status"`
	RegisteredAt time.Time  `bun:"registered_at"`
	CancelledAt  *time.Time `bun:"cancelled_at"`
	SyncedAt     *time.Time `bun:"synced_at"`
	BatchID      *uuid.UUID `bun:"batch_id"`
	Report       Report     `bun:"report,type:jsonb"`
}

// StatusText is the move's status in Norwegian.
func (t *Transfer) StatusText() string { return StatusText(t.Status) }

// StartsOnText is the start date as shown.
func (t *Transfer) StartsOnText() string { return web.Date(t.StartsOn) }

// Cancellable: an announcement not confirmed (declined), or a registered move
// before its start date.
func (t *Transfer) Cancellable(today time.Time) bool {
	return t.Status == StatusAnnounced || (t.Status == StatusRegistered && t.StartsOn.Format("2006-01-02") > today.Format("2006-01-02"))
}

// Report is what a move carried over and what it refused, and why.
type Report struct {
	Reason       string         `json:"reason,omitempty"` // why a failed move was refused
	PlansEnded   int            `json:"plans_ended"`
	Carried      []string       `json:"carried,omitempty"` // goal codes approved before, approved in the new plan
	NotCarried   []NotCarried   `json:"not_carried,omitempty"`
	Veileder     string         `json:"veileder,omitempty"` // name of the veileder carried within the RHF
	Earlier      int            `json:"earlier"`            // earlier workplaces now readable here
	InFlight     map[string]int `json:"in_flight,omitempty"`
	Documents    bool           `json:"documents"` // the dokumentarkiv follows (same RHF)
	Conversation bool           `json:"samtaler"`  // the samtaler follow (same RHF)
}

// NotCarried is an approval that did not carry, and why.
type NotCarried struct {
	Goal   string `json:"goal"`
	Reason string `json:"reason"`
}

// Store holds moves. Every method runs in its own tenant transaction.
type Store struct {
	db  bun.IDB
	now func() time.Time
}

// NewStore returns a store on db.
func NewStore(db bun.IDB) *Store { return &Store{db: db, now: time.Now} }

func (s *Store) today() time.Time {
	n := s.now().In(web.Oslo)
	return time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, time.UTC)
}

const transferColumns = `x.tenant_id, x.id, x.lis_id, trim(l.given_name || ' ' || l.family_name) AS lis_name, l.email AS lis_email,
	x.from_tenant_id, f.name AS from_name, n.name AS to_name, n.slug AS to_slug, x.starts_on, x.template_id, coalesce(t.name, '') AS template_name,
	x.leder_id, x.registered_by, x.same_rhf, x.status, x.registered_at, x.cancelled_at, x.synced_at, x.batch_id, x.report
	FROM transfers x JOIN people l ON l.id = x.lis_id JOIN tenants f ON f.id = x.from_tenant_id JOIN tenants n ON n.id = x.tenant_id
	LEFT JOIN plan_templates t ON t.tenant_id = x.tenant_id AND t.id = x.template_id`

// Arrival is what the new workplace registers: who starts, when, on which plan.
type Arrival struct {
	Who        string // e-mail address or HPR number
	StartsOn   string // YYYY-MM-DD
	TemplateID string // the new workplace's plan template
	LederID    string // optional: the LIS's leder here
	From       string // optional: the tenant left, when the LIS has several
}

var hprNumber = regexp.MustCompile(`^[0-9]{6,9}$`)

type person struct {
	ID    uuid.UUID `bun:"id"`
	Name  string    `bun:"name"`
	Email string    `bun:"email"`
}

// findPerson finds the LIS by e-mail or HPR number (people is global).
func findPerson(ctx context.Context, tx bun.IDB, who string) (*person, error) {
	who = strings.TrimSpace(who)
	var ps []person
	q := `SELECT id, trim(given_name || ' ' || family_name) AS name, email FROM people WHERE `
	switch {
	case who == "":
		return nil, apperr.InvalidFields(map[string]string{"who": "Skriv e-postadressen eller HPR-nummeret til LIS-en."})
	case hprNumber.MatchString(who):
		if err := tx.NewRaw(q+"hpr_number = ?", who).Scan(ctx, &ps); err != nil {
			return nil, err
		}
		if len(ps) == 0 {
			return nil, apperr.InvalidFields(map[string]string{"who": fmt.Sprintf("Fant ingen lege med HPR-nummer %s i kportal.", who)})
		}
	case strings.Contains(who, "@"):
		if err := tx.NewRaw(q+"lower(email) = lower(?)", who).Scan(ctx, &ps); err != nil {
			return nil, err
		}
		if len(ps) == 0 {
			return nil, apperr.InvalidFields(map[string]string{"who": fmt.Sprintf("Fant ingen lege med e-postadressen %s i kportal. En lege som ikke har vært LIS i kportal før, inviteres som ny LIS.", who)})
		}
	default:
		return nil, apperr.InvalidFields(map[string]string{"who": "Skriv en e-postadresse eller et HPR-nummer (6–9 sifre)."})
	}
	if ps[0].Name == "" {
		ps[0].Name = ps[0].Email
	}
	return &ps[0], nil
}

// workplacesOf lists the tenants (other than here) where the person is LIS.
func workplacesOf(ctx context.Context, db bun.IDB, lisID, here uuid.UUID) ([]tenants.Tenant, error) {
	ms, err := tenants.ForPerson(ctx, db, lisID)
	if err != nil {
		return nil, err
	}
	var out []tenants.Tenant
	for _, m := range ms {
		if m.Tenant.ID == here {
			continue
		}
		for _, r := range m.Roles {
			if r == "lis" {
				out = append(out, m.Tenant)
			}
		}
	}
	return out, nil
}

// sameRHF: both helseforetak of one RHF. Kommuner belong to no RHF, so a move
// between hospital and kommune counts as one to another RHF.
func sameRHF(ctx context.Context, tx bun.IDB, a, b uuid.UUID) (bool, error) {
	var same bool
	err := tx.NewRaw(`SELECT EXISTS (SELECT 1 FROM tenants x JOIN tenants y ON y.rhf_code = x.rhf_code WHERE x.id = ? AND y.id = ? AND x.rhf_code IS NOT NULL)`, a, b).Scan(ctx, &same)
	return same, err
}

// Register records that a LIS starts here (tenantID) on a date, moving from
// their workplace elsewhere, and returns the move; the sync job does the rest
// on the start date. batchID ties it to a CSV of arrivals.
func (s *Store) Register(ctx context.Context, tenantID uuid.UUID, by tenants.Actor, in Arrival, batchID *uuid.UUID) (*Transfer, error) {
	var out *Transfer
	err := tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID, PersonID: by.PersonID}, func(ctx context.Context, tx bun.Tx) error {
		t, err := s.register(ctx, tx, tenantID, by, in, batchID, StatusRegistered)
		out = t
		return err
	})
	return out, err
}

func (s *Store) register(ctx context.Context, tx bun.Tx, tenantID uuid.UUID, by tenants.Actor, in Arrival, batchID *uuid.UUID, status string) (*Transfer, error) {
	p, err := findPerson(ctx, tx, in.Who)
	if err != nil {
		return nil, err
	}
	bad := map[string]string{}
	starts, err := s.startDate(in.StartsOn)
	if err != nil {
		bad["starts_on"] = apperr.MessageOf(err)
	}
	template, leder, err := checkPlan(ctx, tx, tenantID, p.ID, p.Name, in.TemplateID, in.LederID)
	if err != nil && apperr.FieldsOf(err) == nil {
		return nil, err
	}
	for k, v := range apperr.FieldsOf(err) {
		bad[k] = v
	}
	// Where from: a LIS elsewhere; with several workplaces, the one named.
	places, err := workplacesOf(ctx, s.db, p.ID, tenantID)
	if err != nil {
		return nil, err
	}
	if len(places) > 1 && in.From == "" {
		// A workplace the LIS has left (no active plan) is not one to leave.
		var active []tenants.Tenant
		for _, pl := range places {
			var as []plans.Assignment
			if err := inScope(ctx, tx, pl.ID, func() error {
				var err error
				as, err = plans.Assignments(ctx, tx, pl.ID, []uuid.UUID{p.ID})
				return err
			}); err != nil {
				return nil, err
			}
			if len(as) > 0 && as[0].ArchivedAt == nil { // Assignments lists active ones first
				active = append(active, pl)
			}
		}
		if len(active) > 0 {
			places = active
		}
	}
	var from *tenants.Tenant
	for i := range places {
		if in.From != "" && (places[i].ID.String() == in.From || places[i].Slug == in.From) {
			from = &places[i]
		}
	}
	switch {
	case len(places) == 0:
		bad["who"] = fmt.Sprintf("%s er ikke LIS ved noen annen virksomhet i kportal, så det er ikke noe arbeidssted å flytte fra. Inviter LIS-en som ny i stedet.", p.Name)
	case from == nil && in.From != "":
		bad["from"] = fmt.Sprintf("%s er ikke LIS ved den virksomheten.", p.Name)
	case from == nil && len(places) == 1:
		from = &places[0]
	case from == nil:
		names := make([]string, len(places))
		for i, t := range places {
			names[i] = t.Name
		}
		bad["from"] = fmt.Sprintf("%s er LIS ved flere virksomheter (%s): velg hvilken LIS-en slutter ved.", p.Name, strings.Join(names, ", "))
	}
	if err := apperr.InvalidFields(bad); err != nil {
		return nil, err
	}
	// The start must come after the LIS's previous move (into the old workplace).
	prev, err := previousStart(ctx, tx, from.ID, p.ID)
	if err != nil {
		return nil, err
	}
	if prev != nil && !starts.After(*prev) {
		return nil, apperr.InvalidFields(map[string]string{"starts_on": fmt.Sprintf("Startdatoen må være etter %s, da %s begynte ved %s.", web.Date(*prev), p.Name, from.Name)})
	}
	same, err := sameRHF(ctx, tx, from.ID, tenantID)
	if err != nil {
		return nil, err
	}
	var id uuid.UUID
	err = tx.NewRaw(`INSERT INTO transfers (tenant_id, lis_id, from_tenant_id, starts_on, template_id, leder_id, same_rhf, status, registered_by, batch_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, tenantID, p.ID, from.ID, starts.Format("2006-01-02"), template, leder, same, status,
		actorID(by), batchID).Scan(ctx, &id)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return nil, apperr.InvalidFields(map[string]string{"who": fmt.Sprintf("%s har allerede et arbeidsstedsbytte som venter. Det må avlyses av virksomheten det er registrert ved før et nytt kan registreres.", p.Name)})
	}
	if err != nil {
		return nil, err
	}
	if err := tenants.Audit(ctx, tx, &tenants.AuditEntry{TenantID: tenantID, ActorID: actorID(by), ActorName: by.Name, Action: tenants.AuditTransferRegistered,
		SubjectID: &p.ID, SubjectName: p.Name, Details: fmt.Sprintf("fra %s, start %s", from.Name, starts.Format("2006-01-02"))}); err != nil {
		return nil, err
	}
	return get(ctx, tx, tenantID, id)
}

// previousStart is the start date of the LIS's move into tenant, if any.
func previousStart(ctx context.Context, tx bun.Tx, tenant, lis uuid.UUID) (*time.Time, error) {
	var out []time.Time
	err := inScope(ctx, tx, tenant, func() error {
		return tx.NewRaw(`SELECT starts_on FROM transfers WHERE tenant_id = ? AND lis_id = ? AND status = 'done' ORDER BY starts_on DESC LIMIT 1`, tenant, lis).Scan(ctx, &out)
	})
	if err != nil || len(out) == 0 {
		return nil, err
	}
	return &out[0], nil
}

// inScope runs fn with tenant in force in tx, then puts back the scope that
// was in force.
func inScope(ctx context.Context, tx bun.Tx, tenant uuid.UUID, fn func() error) error {
	var before, person string
	if err := tx.NewRaw("SELECT coalesce(current_setting('app.tenant_id', true), ''), coalesce(current_setting('app.person_id', true), '')").Scan(ctx, &before, &person); err != nil {
		return err
	}
	p, _ := uuid.Parse(person)
	if err := tenants.SwitchScope(ctx, tx, tenants.Scope{TenantID: tenant, PersonID: p}); err != nil {
		return err
	}
	ferr := fn()
	b, _ := uuid.Parse(before)
	if err := tenants.SwitchScope(ctx, tx, tenants.Scope{TenantID: b, PersonID: p}); err != nil && ferr == nil {
		ferr = err
	}
	return ferr
}

func actorID(a tenants.Actor) *uuid.UUID {
	if a.PersonID == uuid.Nil {
		return nil
	}
	id := a.PersonID
	return &id
}

func get(ctx context.Context, tx bun.IDB, tenantID, id uuid.UUID) (*Transfer, error) {
	var out []Transfer
	if err := tx.NewRaw("SELECT "+transferColumns+" WHERE x.tenant_id = ? AND x.id = ?", tenantID, id).Scan(ctx, &out); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, apperr.New(apperr.NotFound, "Fant ikke arbeidsstedsbyttet.")
	}
	return &out[0], nil
}

// Get returns a move registered here.
func (s *Store) Get(ctx context.Context, tenantID, id uuid.UUID) (*Transfer, error) {
	var out *Transfer
	err := tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		var err error
		out, err = get(ctx, tx, tenantID, id)
		return err
	})
	return out, err
}

// Lists is what a workplace sees: who arrives or has arrived, and who left.
type Lists struct {
	Arriving []Transfer // announced or registered, not done
	Arrived  []Transfer // done, failed, cancelled
	Left     []Transfer // moves from here (done or waiting)
}

// List returns the tenant's moves in and out.
func (s *Store) List(ctx context.Context, tenantID uuid.UUID) (*Lists, error) {
	out := &Lists{}
	err := tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		var in []Transfer
		if err := tx.NewRaw("SELECT "+transferColumns+" WHERE x.tenant_id = ? ORDER BY x.starts_on DESC, lis_name LIMIT 500", tenantID).Scan(ctx, &in); err != nil {
			return err
		}
		for _, t := range in {
			if t.Status == StatusAnnounced || t.Status == StatusRegistered {
				out.Arriving = append(out.Arriving, t)
			} else {
				out.Arrived = append(out.Arrived, t)
			}
		}
		// The left_from policy: moves from here, read-only.
		return tx.NewRaw("SELECT "+transferColumns+" WHERE x.from_tenant_id = ? AND x.status IN ('registered', 'done') ORDER BY x.starts_on DESC, lis_name LIMIT 500", tenantID).Scan(ctx, &out.Left)
	})
	return out, err
}

// Cancel cancels a move registered by mistake, before its start date.
func (s *Store) Cancel(ctx context.Context, tenantID uuid.UUID, by tenants.Actor, id uuid.UUID) error {
	return tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID, PersonID: by.PersonID}, func(ctx context.Context, tx bun.Tx) error {
		t, err := get(ctx, tx, tenantID, id)
		if err != nil {
			return err
		}
		if !t.Cancellable(s.today()) {
			if t.Status == StatusDone || t.Status == StatusRegistered {
				return apperr.New(apperr.Conflict, "Arbeidsstedsbyttet har startdato %s og kan ikke avlyses lenger.", t.StartsOnText())
			}
			return apperr.New(apperr.Conflict, "Arbeidsstedsbyttet er %s og kan ikke avlyses.", strings.ToLower(t.StatusText()))
		}
		res, err := tx.ExecContext(ctx, `UPDATE transfers SET status = 'cancelled', cancelled_at = now(), cancelled_by = ?
			WHERE tenant_id = ? AND id = ? AND status IN ('announced', 'registered')`, actorID(by), tenantID, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.Conflict, "Arbeidsstedsbyttet er allerede behandlet.")
		}
		if err := tenants.Audit(ctx, tx, &tenants.AuditEntry{TenantID: tenantID, ActorID: actorID(by), ActorName: by.Name, Action: tenants.AuditTransferCancelled,
			SubjectID: &t.LisID, SubjectName: t.LisName, Details: "start " + t.StartsOn.Format("2006-01-02")}); err != nil {
			return err
		}
		// The LIS is told where they are a member: the old workplace.
		return inScope(ctx, tx, t.FromTenantID, func() error {
			return tenants.Emit(ctx, tx, tenants.Event{TenantID: t.FromTenantID, Topic: "transfer.cancelled", Recipient: t.LisID,
				Payload: map[string]any{"to_name": t.ToName, "starts_on": t.StartsOnText()}})
		})
	})
}

// InFlightDays is the tenant's setting (DefaultInFlightDays when unset).
func (s *Store) InFlightDays(ctx context.Context, tenantID uuid.UUID) (int, error) {
	var n int
	err := tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		var err error
		n, err = inFlightDays(ctx, tx, tenantID)
		return err
	})
	return n, err
}

func inFlightDays(ctx context.Context, tx bun.IDB, tenantID uuid.UUID) (int, error) {
	var rows []int
	if err := tx.NewRaw("SELECT in_flight_days FROM transfer_settings WHERE tenant_id = ?", tenantID).Scan(ctx, &rows); err != nil || len(rows) == 0 {
		return DefaultInFlightDays, err
	}
	return rows[0], nil
}

// inEveryTenant runs fn for each tenant in its own transaction, the tenant in
// force: the sweeps read each tenant's rows under its own policies only.
func (s *Store) inEveryTenant(ctx context.Context, fn func(ctx context.Context, tx bun.Tx, tenantID uuid.UUID) error) error {
	var ts []uuid.UUID
	if err := s.db.NewRaw("SELECT id FROM tenants ORDER BY id").Scan(ctx, &ts); err != nil {
		return err
	}
	for _, tid := range ts {
		if err := tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tid}, func(ctx context.Context, tx bun.Tx) error {
			return fn(ctx, tx, tid)
		}); err != nil {
			return err
		}
	}
	return nil
}

// SetInFlightDays saves the tenant's setting.
func (s *Store) SetInFlightDays(ctx context.Context, tenantID uuid.UUID, days string) error {
	var n int
	if _, err := fmt.Sscanf(strings.TrimSpace(days), "%d", &n); err != nil || n < 0 || n > 365 {
		return apperr.InvalidFields(map[string]string{"days": "Skriv et antall dager fra 0 til 365."})
	}
	return tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO transfer_settings (tenant_id, in_flight_days) VALUES (?, ?)
			ON CONFLICT (tenant_id) DO UPDATE SET in_flight_days = excluded.in_flight_days`, tenantID, n)
		return err
	})
}

// Seen returns a move registered here, or one away from here (the old
// workplace reads it through the left_from policy).
func (s *Store) Seen(ctx context.Context, tenantID, id uuid.UUID) (*Transfer, error) {
	var out []Transfer
	err := tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw("SELECT "+transferColumns+" WHERE x.id = ? AND (x.tenant_id = ? OR (x.from_tenant_id = ? AND x.status IN ('registered', 'done')))",
			id, tenantID, tenantID).Scan(ctx, &out)
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, apperr.New(apperr.NotFound, "Fant ikke arbeidsstedsbyttet.")
	}
	return &out[0], nil
}

// Retry puts a failed move back to registered, for the sync job to try again
// (after the cause, e.g. a second plan, is put right).
func (s *Store) Retry(ctx context.Context, tenantID uuid.UUID, by tenants.Actor, id uuid.UUID) (*Transfer, error) {
	var out *Transfer
	err := tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID, PersonID: by.PersonID}, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE transfers SET status = 'registered', report = '{}' WHERE tenant_id = ? AND id = ? AND status = 'failed'", tenantID, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			if _, err := get(ctx, tx, tenantID, id); err != nil {
				return err
			}
			return apperr.New(apperr.Conflict, "Bare et arbeidsstedsbytte som har feilet, kan prøves igjen.")
		}
		out, err = get(ctx, tx, tenantID, id)
		return err
	})
	return out, err
}

// Fail marks a registered move failed with a reason (the sync job's last
// try failed); Retry puts it back.
func (s *Store) Fail(ctx context.Context, tenantID, id uuid.UUID, reason string) error {
	raw, err := json.Marshal(Report{Reason: reason})
	if err != nil {
		return err
	}
	return tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE transfers SET status = 'failed', report = ? WHERE tenant_id = ? AND id = ? AND status = 'registered'", string(raw), tenantID, id)
		return err
	})
}
