package goals

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"kportal/modules/activities"
	"kportal/modules/apperr"
	"kportal/modules/chain"
	"kportal/modules/documents"
	"kportal/modules/transfers/moved"
	"kportal/modules/web"
	"kportal/storage"
	"kportal/tenants"
)

// Progress statuses (goal_progress.status). No row at all: not started.
const (
	StatusOpen     = "open"
	StatusSent     = "sent"
	StatusApproved = "approved"
	StatusRejected = "rejected"
	StatusReturned = "returned"
)

// StatusText is a status in Norwegian.
func StatusText(s string) string {
	switch s {
	case StatusOpen:
		return "Påbegynt"
	case StatusSent:
		return "Sendt til godkjenning"
	case StatusApproved:
		return "Godkjent"
	case StatusRejected:
		return "Avvist"
	case StatusReturned:
		return "Returnert"
	}
	return "Ikke startet"
}

// StatusColor is the Designsystemet colour of a status tag.
func StatusColor(s string) string {
	switch s {
	case StatusSent:
		return "info"
	case StatusApproved:
		return "success"
	case StatusRejected:
		return "danger"
	case StatusReturned:
		return "warning"
	}
	return "neutral"
}

// Store holds goals, their progress and approval. Every method runs in a
// transaction with one tenant in force (row-level security).
type Store struct {
	db  bun.IDB
	now func() time.Time
}

// NewStore returns a store on db.
func NewStore(db bun.IDB) *Store { return &Store{db: db, now: time.Now} }

// today is now in Europe/Oslo: dates (completion, delegations' last day) are Norwegian dates.
func (s *Store) today() time.Time { return s.now().In(web.Oslo) }

func (s *Store) tx(ctx context.Context, tenantID, person uuid.UUID, fn func(ctx context.Context, tx bun.Tx) error) error {
	return tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID, PersonID: person}, fn)
}

// Goal is one goal of a LIS's active plan with the LIS's progress on it.
type Goal struct {
	AssignmentID   uuid.UUID  `bun:"assignment_id"`
	VersionID      int        `bun:"version_id"`
	Code           string     `bun:"goal_code"`
	Text           *string    `bun:"text"` // nil: the official text is not loaded
	CompetenceArea string     `bun:"competence_area"`
	ArenaIDs       []string   `bun:"arena_ids,array"`
	ProgressID     *uuid.UUID `bun:"progress_id"`
	Status         string     `bun:"status"`         // "" = not started
	PriorApproved  bool       `bun:"prior_approved"` // approved as etterregistrering
	CompletedOn    *time.Time `bun:"completed_on"`
	Comment        string     `bun:"comment"`
	SentToName     string     `bun:"sent_to_name"`
	DecidedByName  string     `bun:"decided_by_name"`
	DecidedAt      *time.Time `bun:"decided_at"`
	DecisionNote   string     `bun:"decision_note"`
	// OriginTenantID: approved at an earlier workplace and carried by a move
	// (OriginName is that tenant's name).
	OriginTenantID *uuid.UUID `bun:"origin_tenant_id"`
	OriginName     string     `bun:"-"`
}

// StatusText is the goal's status in Norwegian.
func (g *Goal) StatusText() string { return StatusText(g.Status) }

// StatusColor is the colour of the goal's status tag.
func (g *Goal) StatusColor() string { return StatusColor(g.Status) }

// Filter narrows a LIS's goals.
type Filter struct {
	Arena  string // an arena id; "" = all
	Search string // in code and text
	Code   string // exactly one goal
}

// goalsQuery lists the goals of a LIS's active plans with their progress,
// for tenant and LIS as its two arguments; Goals adds its filters and then
// goalsOrder. GoalsQuery is the whole of it, which kportal bench runs as its
// baseline.
const goalsQuery = `SELECT DISTINCT ON (ptg.goal_code) pa.id AS assignment_id, pa.version_id, ptg.goal_code, g.text,
				coalesce(g.competence_area, '') AS competence_area, ptg.arena_ids::text[] AS arena_ids,
				gp.id AS progress_id, pl.id IS NOT NULL AS prior_approved,
				CASE WHEN pl.id IS NOT NULL AND gp.status IS DISTINCT FROM 'approved' THEN 'approved' ELSE coalesce(gp.status, '') END AS status, gp.completed_on, coalesce(gp.comment, '') AS comment,
				coalesce(trim(st.given_name || ' ' || st.family_name), '') AS sent_to_name,
				coalesce(trim(db.given_name || ' ' || db.family_name), '') AS decided_by_name,
				gp.decided_at, coalesce(gp.decision_note, '') AS decision_note, gp.origin_tenant_id
			FROM plan_assignments pa
			JOIN plan_template_goals ptg ON ptg.tenant_id = pa.tenant_id AND ptg.template_id = pa.template_id
			LEFT JOIN goals g ON g.version_id = pa.version_id AND g.code = ptg.goal_code
			LEFT JOIN goal_progress gp ON gp.tenant_id = pa.tenant_id AND gp.lis_id = pa.lis_id AND gp.goal_code = ptg.goal_code AND NOT gp.prior_learning
			LEFT JOIN goal_progress pl ON pl.tenant_id = pa.tenant_id AND pl.lis_id = pa.lis_id AND pl.goal_code = ptg.goal_code AND pl.prior_learning AND pl.status = 'approved'
			LEFT JOIN people st ON st.id = gp.sent_to
			LEFT JOIN people db ON db.id = gp.decided_by
			WHERE pa.tenant_id = ? AND pa.lis_id = ? AND pa.archived_at IS NULL`

const goalsOrder = ` ORDER BY ptg.goal_code, pa.assigned_at DESC`

// GoalsQuery is the unfiltered goals list (arguments: tenant, LIS).
const GoalsQuery = goalsQuery + goalsOrder

// Goals lists the goals of the LIS's active plans, with the LIS's progress.
func (s *Store) Goals(ctx context.Context, tenantID, lisID uuid.UUID, f Filter) ([]Goal, error) {
	var out []Goal
	err := s.tx(ctx, tenantID, lisID, func(ctx context.Context, tx bun.Tx) error {
		q := goalsQuery
		args := []any{tenantID, lisID}
		if f.Arena != "" {
			q += ` AND ?::uuid = ANY (ptg.arena_ids)`
			args = append(args, f.Arena)
		}
		if f.Code != "" {
			q += ` AND ptg.goal_code = ?`
			args = append(args, f.Code)
		}
		if term := strings.TrimSpace(f.Search); term != "" {
			like := storage.Contains(term)
			q += ` AND (ptg.goal_code ILIKE ? OR g.text ILIKE ?)`
			args = append(args, like, like)
		}
		q += goalsOrder
		if err := storage.Select(ctx, tx, &out, q, args...); err != nil {
			return err
		}
		return originNames(ctx, tx, out)
	})
	return out, err
}

// originNames names the tenants where carried approvals were made.
func originNames(ctx context.Context, tx bun.IDB, gs []Goal) error {
	var ids []uuid.UUID
	for _, g := range gs {
		if g.OriginTenantID != nil && !slices.Contains(ids, *g.OriginTenantID) {
			ids = append(ids, *g.OriginTenantID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	ts, err := tenants.ByIDs(ctx, tx, ids)
	if err != nil {
		return err
	}
	for i := range gs {
		for _, t := range ts {
			if gs[i].OriginTenantID != nil && *gs[i].OriginTenantID == t.ID {
				gs[i].OriginName = t.Name
			}
		}
	}
	return nil
}

// Arena is a læringsarena of the tenant.
type Arena struct {
	ID   uuid.UUID `bun:"id"`
	Name string    `bun:"name"`
}

// Arenas lists the tenant's læringsarenaer that are not archived.
func (s *Store) Arenas(ctx context.Context, tenantID uuid.UUID) ([]Arena, error) {
	var out []Arena
	err := s.tx(ctx, tenantID, uuid.Nil, func(ctx context.Context, tx bun.Tx) error {
		return storage.Select(ctx, tx, &out, "SELECT id, name FROM arenas WHERE tenant_id = ? AND archived_at IS NULL ORDER BY name", tenantID)
	})
	return out, err
}

// PrefArena is the preferences key of the remembered læringsarena filter.
const PrefArena = "goals.arena"

// Preference returns a person's remembered choice ("" when none).
func (s *Store) Preference(ctx context.Context, tenantID, person uuid.UUID, key string) (string, error) {
	var v string
	err := s.tx(ctx, tenantID, person, func(ctx context.Context, tx bun.Tx) error {
		err := storage.Select(ctx, tx, &v, "SELECT value FROM preferences WHERE tenant_id = ? AND person_id = ? AND key = ?", tenantID, person, key)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return err
	})
	return v, err
}

// SetPreference remembers a choice; an empty value forgets it.
func (s *Store) SetPreference(ctx context.Context, tenantID, person uuid.UUID, key, value string) error {
	return s.tx(ctx, tenantID, person, func(ctx context.Context, tx bun.Tx) error {
		if value == "" {
			_, err := tx.ExecContext(ctx, "DELETE FROM preferences WHERE tenant_id = ? AND person_id = ? AND key = ?", tenantID, person, key)
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO preferences (tenant_id, person_id, key, value) VALUES (?, ?, ?, ?)
			ON CONFLICT (tenant_id, person_id, key) DO UPDATE SET value = EXCLUDED.value`, tenantID, person, key, value)
		return err
	})
}

// Person is someone a LIS can send to or ask for input.
type Person struct {
	ID   uuid.UUID `bun:"id"`
	Name string    `bun:"name"`
	Kind string    `bun:"kind"` // leder, delegate, veileder, supervisor
}

// People lists who a LIS can send a goal to (their leder and the leder's
// delegates with an open delegation today) and ask for input (veileder,
// supervisors).
func (s *Store) People(ctx context.Context, tenantID, lisID uuid.UUID) (approvers, advisers []Person, err error) {
	today := s.today().Format("2006-01-02")
	err = s.tx(ctx, tenantID, lisID, func(ctx context.Context, tx bun.Tx) error {
		if err := tx.NewRaw(`SELECT p.id, trim(p.given_name || ' ' || p.family_name) AS name, 'leder' AS kind
				FROM relations r JOIN people p ON p.id = r.person_id WHERE r.tenant_id = ? AND r.lis_id = ? AND r.kind = 'leder'
			UNION ALL
			SELECT DISTINCT p.id, trim(p.given_name || ' ' || p.family_name) AS name, 'delegate' AS kind
				FROM relations r JOIN delegations d ON d.tenant_id = r.tenant_id AND d.leder_id = r.person_id
				JOIN people p ON p.id = d.delegate_id
				WHERE r.tenant_id = ? AND r.lis_id = ? AND r.kind = 'leder' AND d.revoked_at IS NULL
				AND (d.valid_until IS NULL OR d.valid_until >= ?::date) AND d.delegate_id <> r.person_id
			ORDER BY kind DESC, name`, tenantID, lisID, tenantID, lisID, today).Scan(ctx, &approvers); err != nil {
			return err
		}
		return tx.NewRaw(`SELECT p.id, trim(p.given_name || ' ' || p.family_name) AS name, r.kind
			FROM relations r JOIN people p ON p.id = r.person_id
			WHERE r.tenant_id = ? AND r.lis_id = ? AND r.kind IN ('veileder', 'supervisor') ORDER BY r.kind DESC, name`, tenantID, lisID).Scan(ctx, &advisers)
	})
	return approvers, advisers, err
}

// Progress is a goal_progress row.
type Progress struct {
	bun.BaseModel `bun:"table:goal_progress,alias:gp"`

	TenantID      uuid.UUID       `bun:"tenant_id,pk,type:uuid"`
	ID            uuid.UUID       `bun:"id,pk,type:uuid"`
	LisID         uuid.UUID       `bun:"lis_id,type:uuid"`
	AssignmentID  *uuid.UUID      `bun:"assignment_id,type:uuid"`
	GoalCode      string          `bun:"goal_code"`
	VersionID     int             `bun:"version_id"`
	Status        string          `bun:"status"`
	PriorLearning bool            `bun:"prior_learning"`
	CompletedOn   *time.Time      `bun:"completed_on,type:date"`
	Comment       string          `bun:"comment"`
	DocumentID    *uuid.UUID      `bun:"document_id,type:uuid"`
	SentTo        *uuid.UUID      `bun:"sent_to,type:uuid"`
	SentAt        *time.Time      `bun:"sent_at"`
	DecidedBy     *uuid.UUID      `bun:"decided_by,type:uuid"`
	DecidedAt     *time.Time      `bun:"decided_at"`
	DecisionNote  string          `bun:"decision_note"`
	Basis         json.RawMessage `bun:"basis,type:jsonb"`
	// Where an approval carried by a move was made (the row it came from);
	// nil for the tenant's own.
	OriginTenantID *uuid.UUID `bun:"origin_tenant_id,type:uuid"`
	OriginID       *uuid.UUID `bun:"origin_id,type:uuid"`
	OriginName     string     `bun:"-"` // filled by Detail

	LisName       string  `bun:"lis_name,scanonly"`
	SentToName    string  `bun:"sent_to_name,scanonly"`
	DecidedByName string  `bun:"decided_by_name,scanonly"`
	GoalText      *string `bun:"goal_text,scanonly"`
}

// StatusText is the status in Norwegian.
func (p *Progress) StatusText() string { return StatusText(p.Status) }

// StatusColor is the colour of the status tag.
func (p *Progress) StatusColor() string { return StatusColor(p.Status) }

const progressColumns = `gp.*` + progressNames

// progressWithoutBasis is progressColumns but the frozen basis, which is most
// of a decided row's bytes, for lists that do not show it.
const progressWithoutBasis = `gp.tenant_id, gp.id, gp.lis_id, gp.assignment_id, gp.goal_code, gp.version_id, gp.status,
	gp.prior_learning, gp.completed_on, gp.comment, gp.document_id, gp.sent_to, gp.sent_at, gp.decided_by, gp.decided_at,
	gp.decision_note, gp.origin_tenant_id, gp.origin_id` + progressNames

const progressNames = `, trim(l.given_name || ' ' || l.family_name) AS lis_name,
	coalesce(trim(st.given_name || ' ' || st.family_name), '') AS sent_to_name,
	coalesce(trim(db.given_name || ' ' || db.family_name), '') AS decided_by_name,
	(SELECT g.text FROM goals g WHERE g.version_id = gp.version_id AND g.code = gp.goal_code) AS goal_text`

const progressFrom = ` FROM goal_progress gp JOIN people l ON l.id = gp.lis_id
	LEFT JOIN people st ON st.id = gp.sent_to LEFT JOIN people db ON db.id = gp.decided_by `

func loadProgress(ctx context.Context, tx bun.IDB, tenantID, id uuid.UUID) (*Progress, error) {
	p := new(Progress)
	err := tx.NewRaw(`SELECT `+progressColumns+progressFrom+`WHERE gp.tenant_id = ? AND gp.id = ?`, tenantID, id).Scan(ctx, p)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "Fant ikke læringsmålet.")
	}
	p.inOslo()
	return p, err
}

// inOslo shows the row's moments in Norwegian time.
func (p *Progress) inOslo() {
	p.SentAt, p.DecidedAt = oslo(p.SentAt), oslo(p.DecidedAt)
}

func oslo(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	o := t.In(web.Oslo)
	return &o
}

// Send is what a LIS sends with a goal.
type Send struct {
	Code        string
	CompletedOn string // åååå-mm-dd
	Comment     string
	Approver    string   // the leder or a delegate
	Inputs      []string // veileder and supervisors asked for input
	DocumentID  string   // the LIS's own document as documentation (optional)
}

// SendGoal marks a goal of the LIS's active plan complete and sends it to
// their leder or a delegate, asking the chosen veileder and supervisors for
// input. A LIS with a veileder must ask them and at least one supervisor when
// they have any.
func (s *Store) SendGoal(ctx context.Context, tenantID uuid.UUID, lis tenants.Actor, in Send) (*Progress, error) {
	return s.send(ctx, tenantID, lis, in, false)
}

// PriorLearning registers a goal the LIS achieved earlier (etterregistrering,
// e.g. abroad): a catalogue goal, a date and a comment, sent to the leder and
// approved the same way. No activities; no input is asked for.
func (s *Store) PriorLearning(ctx context.Context, tenantID uuid.UUID, lis tenants.Actor, in Send) (*Progress, error) {
	in.Inputs = nil
	return s.send(ctx, tenantID, lis, in, true)
}

func (s *Store) send(ctx context.Context, tenantID uuid.UUID, lis tenants.Actor, in Send, prior bool) (*Progress, error) {
	today := s.today()
	bad := map[string]string{}
	in.Code = strings.ToUpper(strings.TrimSpace(in.Code))
	in.Comment = strings.TrimSpace(in.Comment)
	if in.Code == "" {
		bad["code"] = "Skriv koden til læringsmålet."
	}
	var done time.Time
	if d, err := time.Parse("2006-01-02", strings.TrimSpace(in.CompletedOn)); err != nil {
		bad["completed_on"] = "Skriv datoen som åååå-mm-dd."
	} else if y, m, dd := today.Date(); d.After(time.Date(y, m, dd, 0, 0, 0, 0, time.UTC)) {
		bad["completed_on"] = "Datoen kan ikke være fram i tid."
	} else {
		done = d
	}
	if len(in.Comment) > 2000 {
		bad["comment"] = "Kommentaren kan ha høyst 2000 tegn."
	}
	if prior && in.Comment == "" {
		bad["comment"] = "Skriv hvor og hvordan målet ble nådd."
	}
	approver, err := uuid.Parse(in.Approver)
	if err != nil {
		bad["approver"] = "Velg lederen din eller en som har fått delegert godkjenning."
	}
	var p *Progress
	err = s.tx(ctx, tenantID, lis.PersonID, func(ctx context.Context, tx bun.Tx) error {
		if err := activities.EndedByMove(ctx, tx, tenantID, lis.PersonID); err != nil {
			return err
		}
		// Which catalogue goal: in the LIS's active plan, or (etterregistrering)
		// in the catalogue, preferring the plan's version.
		var assignment *uuid.UUID
		var version int
		if _, ok := bad["code"]; !ok {
			var row struct {
				AssignmentID *uuid.UUID `bun:"assignment_id"`
				VersionID    int        `bun:"version_id"`
			}
			err := tx.NewRaw(`SELECT pa.id AS assignment_id, pa.version_id FROM plan_assignments pa
				JOIN plan_template_goals ptg ON ptg.tenant_id = pa.tenant_id AND ptg.template_id = pa.template_id AND ptg.goal_code = ?
				WHERE pa.tenant_id = ? AND pa.lis_id = ? AND pa.archived_at IS NULL ORDER BY pa.assigned_at DESC LIMIT 1`, in.Code, tenantID, lis.PersonID).Scan(ctx, &row)
			switch {
			case err == nil && !prior:
				assignment, version = row.AssignmentID, row.VersionID
			case errors.Is(err, sql.ErrNoRows) && !prior:
				bad["code"] = "Læringsmålet er ikke i planen din."
			case err != nil && !errors.Is(err, sql.ErrNoRows):
				return err
			default: // prior learning: the catalogue
				err := tx.NewRaw(`SELECT g.version_id FROM goals g JOIN catalog_versions v ON v.id = g.version_id
					WHERE g.code = ? AND v.published_at IS NOT NULL
					ORDER BY (g.version_id = ?) DESC, v.published_at DESC LIMIT 1`, in.Code, row.VersionID).Scan(ctx, &version)
				if errors.Is(err, sql.ErrNoRows) {
					bad["code"] = "Fant ikke læringsmålet i katalogen. Sjekk koden."
				} else if err != nil {
					return err
				}
			}
		}
		if _, ok := bad["approver"]; !ok {
			ok, err := isApproverFor(ctx, tx, tenantID, approver, lis.PersonID, today)
			if err != nil {
				return err
			}
			if !ok {
				bad["approver"] = "Velg lederen din eller en som har fått delegert godkjenning."
			}
		}
		var inputs []Person
		if !prior {
			var advisers []Person
			if err := tx.NewRaw(`SELECT p.id, trim(p.given_name || ' ' || p.family_name) AS name, r.kind FROM relations r JOIN people p ON p.id = r.person_id
				WHERE r.tenant_id = ? AND r.lis_id = ? AND r.kind IN ('veileder', 'supervisor')`, tenantID, lis.PersonID).Scan(ctx, &advisers); err != nil {
				return err
			}
			asked := map[string]bool{}
			for _, id := range in.Inputs {
				asked[id] = true
			}
			hasVeileder, hasSupervisor, supervisorAsked := false, false, false
			for _, a := range advisers {
				if a.Kind == tenants.RelVeileder {
					hasVeileder = true
					if !asked[a.ID.String()] {
						bad["inputs"] = "Be veilederen din om innspill."
					}
				} else {
					hasSupervisor = true
					supervisorAsked = supervisorAsked || asked[a.ID.String()]
				}
				if asked[a.ID.String()] {
					inputs = append(inputs, a)
				}
			}
			if hasSupervisor && !supervisorAsked && bad["inputs"] == "" {
				bad["inputs"] = "Be minst én supervisør om innspill."
			}
			_ = hasVeileder // without a veileder or supervisors, the approver is warned that input is missing
		}
		var doc *uuid.UUID
		if id := strings.TrimSpace(in.DocumentID); id != "" {
			did, perr := uuid.Parse(id)
			var err error
			if perr == nil {
				_, err = documents.Owned(ctx, tx, tenantID, lis.PersonID, did)
			}
			switch {
			case perr != nil || apperr.Is(err, apperr.NotFound):
				bad["document"] = "Velg et av dine egne dokumenter."
			case err != nil:
				return err
			default:
				doc = &did
			}
		}
		if err := apperr.InvalidFields(bad); err != nil {
			return err
		}
		existing := new(Progress)
		err := tx.NewSelect().Model(existing).Where("gp.tenant_id = ? AND gp.lis_id = ? AND gp.goal_code = ? AND gp.prior_learning = ?", tenantID, lis.PersonID, in.Code, prior).For("UPDATE").Scan(ctx)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			existing = nil
		case err != nil:
			return err
		case existing.Status == StatusSent:
			return apperr.New(apperr.Conflict, "Læringsmålet er allerede sendt til godkjenning.")
		case existing.Status == StatusApproved:
			return apperr.New(apperr.Conflict, "Læringsmålet er allerede godkjent.")
		}
		var id uuid.UUID
		if existing == nil {
			err = tx.NewRaw(`INSERT INTO goal_progress (tenant_id, lis_id, assignment_id, goal_code, version_id, status, prior_learning, completed_on, comment, sent_to, sent_at, document_id)
				VALUES (?, ?, ?, ?, ?, 'sent', ?, ?, ?, ?, now(), ?) RETURNING id`,
				tenantID, lis.PersonID, assignment, in.Code, version, prior, done.Format("2006-01-02"), in.Comment, approver, doc).Scan(ctx, &id)
		} else {
			id = existing.ID
			_, err = tx.ExecContext(ctx, `UPDATE goal_progress SET status = 'sent', assignment_id = ?, version_id = ?, completed_on = ?, comment = ?, sent_to = ?, sent_at = now(),
				decided_by = NULL, decided_at = NULL, decision_note = '', basis = NULL, document_id = ? WHERE tenant_id = ? AND id = ?`,
				assignment, version, done.Format("2006-01-02"), in.Comment, approver, doc, tenantID, id)
		}
		if err != nil {
			return documents.Vanished(err)
		}
		payload := map[string]any{"progress_id": id, "goal_code": in.Code, "lis_id": lis.PersonID, "lis_name": lis.Name, "prior_learning": prior}
		for _, a := range inputs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO goal_inputs (tenant_id, progress_id, person_id, kind)
				SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM goal_inputs WHERE tenant_id = ? AND progress_id = ? AND person_id = ? AND answered_at IS NULL)`,
				tenantID, id, a.ID, a.Kind, tenantID, id, a.ID); err != nil {
				return err
			}
			if err := tenants.Emit(ctx, tx, tenants.Event{TenantID: tenantID, Topic: "goal.input_requested", Recipient: a.ID, Payload: payload}); err != nil {
				return err
			}
		}
		if err := tenants.Emit(ctx, tx, tenants.Event{TenantID: tenantID, Topic: "goal.sent", Recipient: approver, Payload: payload}); err != nil {
			return err
		}
		p, err = loadProgress(ctx, tx, tenantID, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// isApproverFor: person is the LIS's leder or a delegate of that leder today.
func isApproverFor(ctx context.Context, tx bun.IDB, tenantID, person, lis uuid.UUID, today time.Time) (bool, error) {
	return tenants.MayApprove(ctx, tx, tenantID, person, lis, today)
}

// Recall takes back one of the LIS's own goals still waiting for a decision:
// it is open again and unanswered input requests are withdrawn.
func (s *Store) Recall(ctx context.Context, tenantID uuid.UUID, lis tenants.Actor, id uuid.UUID) error {
	return s.tx(ctx, tenantID, lis.PersonID, func(ctx context.Context, tx bun.Tx) error {
		p, err := loadProgress(ctx, tx, tenantID, id)
		if err != nil {
			return err
		}
		if p.LisID != lis.PersonID {
			return apperr.New(apperr.NotFound, "Fant ikke læringsmålet.")
		}
		res, err := tx.ExecContext(ctx, `UPDATE goal_progress SET status = 'open', sent_to = NULL, sent_at = NULL
			WHERE tenant_id = ? AND id = ? AND lis_id = ? AND status = 'sent'`, tenantID, id, lis.PersonID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return decidedConflict(p, "kan ikke trekkes tilbake")
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM goal_inputs WHERE tenant_id = ? AND progress_id = ? AND answered_at IS NULL", tenantID, id); err != nil {
			return err
		}
		if p.SentTo != nil {
			return tenants.Emit(ctx, tx, tenants.Event{TenantID: tenantID, Topic: "goal.recalled", Recipient: *p.SentTo,
				Payload: map[string]any{"progress_id": id, "goal_code": p.GoalCode, "lis_id": lis.PersonID, "lis_name": lis.Name}})
		}
		return nil
	})
}

func decidedConflict(p *Progress, what string) error {
	switch p.Status {
	case StatusApproved, StatusRejected, StatusReturned:
		when := ""
		if p.DecidedAt != nil {
			when = " " + p.DecidedAt.In(web.Oslo).Format("2.1.2006")
		}
		by := ""
		if p.DecidedByName != "" {
			by = " av " + p.DecidedByName
		}
		return apperr.New(apperr.Conflict, "Læringsmålet %s er allerede %s%s%s og %s.", p.GoalCode, strings.ToLower(StatusText(p.Status)), by, when, what)
	}
	return apperr.New(apperr.Conflict, "Læringsmålet %s venter ikke på godkjenning og %s.", p.GoalCode, what)
}

// MyProgress lists the LIS's own progress rows (prior learning only when prior).
func (s *Store) MyProgress(ctx context.Context, tenantID, lisID uuid.UUID, prior bool) ([]Progress, error) {
	var out []Progress
	err := s.tx(ctx, tenantID, lisID, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw(`SELECT `+progressColumns+progressFrom+`WHERE gp.tenant_id = ? AND gp.lis_id = ? AND gp.prior_learning = ?
			ORDER BY gp.goal_code`, tenantID, lisID, prior).Scan(ctx, &out)
	})
	for i := range out {
		out[i].inOslo()
	}
	return out, err
}

// Input is an input request to a veileder or supervisor, and its answer.
type Input struct {
	ID          uuid.UUID  `bun:"id" json:"id"`
	ProgressID  uuid.UUID  `bun:"progress_id" json:"-"`
	PersonID    uuid.UUID  `bun:"person_id" json:"person_id"`
	PersonName  string     `bun:"person_name" json:"person_name"`
	Kind        string     `bun:"kind" json:"kind"`
	RequestedAt time.Time  `bun:"requested_at" json:"requested_at"`
	AnsweredAt  *time.Time `bun:"answered_at" json:"answered_at,omitempty"`
	Text        string     `bun:"text" json:"text"`
	// For the person asked: the goal and the LIS.
	GoalCode string  `bun:"goal_code" json:"-"`
	GoalText *string `bun:"goal_text" json:"-"`
	LisName  string  `bun:"lis_name" json:"-"`
	Comment  string  `bun:"comment" json:"-"`
}

func (i *Input) inOslo() {
	i.RequestedAt = i.RequestedAt.In(web.Oslo)
	i.AnsweredAt = oslo(i.AnsweredAt)
}

// KindText is the kind in Norwegian.
func (i *Input) KindText() string {
	if i.Kind == tenants.RelVeileder {
		return "Veileder"
	}
	return "Supervisør"
}

const inputColumns = `i.id, i.progress_id, i.person_id, trim(p.given_name || ' ' || p.family_name) AS person_name, i.kind,
	i.requested_at, i.answered_at, i.text, gp.goal_code, gp.comment, trim(l.given_name || ' ' || l.family_name) AS lis_name,
	(SELECT g.text FROM goals g WHERE g.version_id = gp.version_id AND g.code = gp.goal_code) AS goal_text
	FROM goal_inputs i JOIN people p ON p.id = i.person_id
	JOIN goal_progress gp ON gp.tenant_id = i.tenant_id AND gp.id = i.progress_id JOIN people l ON l.id = gp.lis_id`

// InputsFor lists what a veileder or supervisor has been asked for on goals
// still waiting for a decision (unanswered first), and their answers.
func (s *Store) InputsFor(ctx context.Context, tenantID, person uuid.UUID) ([]Input, error) {
	var out []Input
	err := s.tx(ctx, tenantID, person, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw(`SELECT `+inputColumns+` WHERE i.tenant_id = ? AND i.person_id = ? AND gp.status = 'sent'
			ORDER BY i.answered_at IS NOT NULL, i.requested_at`, tenantID, person).Scan(ctx, &out)
	})
	for i := range out {
		out[i].inOslo()
	}
	return out, err
}

// AnswerInput records a veileder's or supervisor's input on a goal still
// waiting for a decision.
func (s *Store) AnswerInput(ctx context.Context, tenantID uuid.UUID, person tenants.Actor, id uuid.UUID, text string) error {
	text = strings.TrimSpace(text)
	if text == "" {
		return apperr.InvalidFields(map[string]string{"text": "Skriv innspillet ditt."})
	}
	if len(text) > 4000 {
		return apperr.InvalidFields(map[string]string{"text": "Innspillet kan ha høyst 4000 tegn."})
	}
	return s.tx(ctx, tenantID, person.PersonID, func(ctx context.Context, tx bun.Tx) error {
		var in Input
		err := tx.NewRaw(`SELECT `+inputColumns+` WHERE i.tenant_id = ? AND i.id = ? AND i.person_id = ?`, tenantID, id, person.PersonID).Scan(ctx, &in)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.New(apperr.NotFound, "Fant ikke forespørselen om innspill.")
		}
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE goal_inputs SET text = ?, answered_at = now() WHERE tenant_id = ? AND id = ? AND answered_at IS NULL
			AND EXISTS (SELECT 1 FROM goal_progress gp WHERE gp.tenant_id = goal_inputs.tenant_id AND gp.id = goal_inputs.progress_id AND gp.status = 'sent')`,
			text, tenantID, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if in.AnsweredAt != nil {
				return apperr.New(apperr.Conflict, "Du har allerede gitt innspill på %s.", in.GoalCode)
			}
			return apperr.New(apperr.Conflict, "Læringsmålet %s venter ikke lenger på godkjenning.", in.GoalCode)
		}
		return nil
	})
}

// Basis is the godkjenningsgrunnlag of a goal: the supporting activities with
// their signatures and the inputs. At a decision it is frozen into
// goal_progress.basis and never changes afterwards.
type Basis struct {
	FrozenAt   *time.Time `json:"frozen_at,omitempty"`
	Activities []Activity `json:"activities"`
	// Earlier are the completed supporting activities at the LIS's earlier
	// workplaces, each with Where (read-only there; absent in bases frozen
	// before moves existed).
	Earlier []Activity `json:"earlier,omitempty"`
	Inputs  []Input    `json:"inputs"`
	// Document is the LIS's documentation sent with the goal, if any.
	Document *Document `json:"document,omitempty"`
}

// Document is a document in the basis.
type Document struct {
	ID   uuid.UUID `json:"id"`
	Name string    `json:"name"`
	Type string    `json:"type"` // PDF, PNG, JPEG, HEIC
}

// DocumentReferrer tells the documents module which goals a document
// documents; one sent for or holding an approval keeps it.
func DocumentReferrer(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, ids []uuid.UUID) (map[uuid.UUID][]documents.Reference, error) {
	var rows []Progress
	if err := tx.NewRaw(`SELECT gp.* FROM goal_progress gp WHERE gp.tenant_id = ? AND gp.document_id = ANY(?) ORDER BY gp.goal_code`,
		tenantID, pgdialect.Array(ids)).Scan(ctx, &rows); err != nil {
		return nil, err
	}
	out := map[uuid.UUID][]documents.Reference{}
	for _, p := range rows {
		what := "Læringsmål "
		if p.PriorLearning {
			what = "Etterregistrering "
		}
		out[*p.DocumentID] = append(out[*p.DocumentID], documents.Reference{
			Label:  what + p.GoalCode + " (" + strings.ToLower(StatusText(p.Status)) + ")",
			Locked: p.Status == StatusSent || p.Status == StatusApproved,
		})
	}
	return out, nil
}

// Activity is a supporting activity in the basis.
type Activity struct {
	ID            uuid.UUID   `bun:"id" json:"id"`
	Kind          string      `bun:"kind" json:"kind"`
	Title         string      `bun:"title" json:"title"`
	DoneOn        time.Time   `bun:"done_on" json:"done_on"`
	Count         int         `bun:"count" json:"count"`
	ProcedureRole *string     `bun:"procedure_role" json:"procedure_role,omitempty"`
	Status        string      `bun:"status" json:"status"`
	Comment       string      `bun:"comment" json:"comment"`
	Signatures    []Signature `bun:"-" json:"signatures"`
	// Where is the name of the earlier workplace it was done at ("" = here).
	Where string `bun:"-" json:"where,omitempty"`
}

// StatusLabel is the activity's status in Norwegian.
func (a *Activity) StatusLabel() string { return activities.StatusLabel(a.Status) }

// RoleLabel is the procedure role in Norwegian ("" for other kinds).
func (a *Activity) RoleLabel() string {
	if a.ProcedureRole == nil {
		return ""
	}
	return activities.RoleLabel(*a.ProcedureRole)
}

// Signature is a supervisor's decision on an activity.
type Signature struct {
	ActivityID     uuid.UUID `bun:"activity_id" json:"-"`
	SupervisorName string    `bun:"supervisor_name" json:"supervisor_name"`
	Decision       string    `bun:"decision" json:"decision"`
	Comment        string    `bun:"comment" json:"comment"`
	SignedAt       time.Time `bun:"signed_at" json:"signed_at"`
}

// VeilederInput reports whether the veileder has answered.
func (b *Basis) VeilederInput() bool { return b.answered(tenants.RelVeileder) }

// SupervisorInput reports whether at least one supervisor has answered.
func (b *Basis) SupervisorInput() bool { return b.answered(tenants.RelSupervisor) }

func (b *Basis) answered(kind string) bool {
	for _, i := range b.Inputs {
		if i.Kind == kind && i.AnsweredAt != nil {
			return true
		}
	}
	return false
}

// Support is what the LIS has done for a goal: the supporting activities here
// and, for a LIS who moved, the completed ones at their earlier workplaces.
type Support struct {
	Here    []Activity
	Earlier []Activity
	Places  []moved.Workplace // the earlier workplaces; none: never moved here
}

// support reads a goal's supporting activities (activities.ForGoal and
// ForGoalEarlier), copied into the basis's own shape so a frozen basis does
// not depend on the activities module's types.
func support(ctx context.Context, tx bun.IDB, tenantID, lisID uuid.UUID, code string) (*Support, error) {
	here, err := activities.ForGoal(ctx, tx, tenantID, lisID, code)
	if err != nil {
		return nil, err
	}
	out := &Support{Here: basisActivities(here, nil)}
	if out.Places, err = moved.Earlier(ctx, tx, tenantID, lisID); err != nil || len(out.Places) == 0 {
		return out, err
	}
	ids := make([]uuid.UUID, len(out.Places))
	where := map[uuid.UUID]string{}
	for i, w := range out.Places {
		ids[i], where[w.TenantID] = w.TenantID, w.Name
	}
	earlier, err := activities.ForGoalEarlier(ctx, tx, ids, lisID, code)
	if err != nil {
		return nil, err
	}
	out.Earlier = basisActivities(earlier, where)
	return out, nil
}

// basisActivities copies activities into the basis; where names the tenants
// of earlier workplaces.
func basisActivities(acts []activities.Activity, where map[uuid.UUID]string) []Activity {
	out := make([]Activity, 0, len(acts))
	for _, a := range acts {
		b := Activity{ID: a.ID, Kind: a.Kind, Title: a.Title, DoneOn: a.DoneOn, Count: a.Count, Status: a.Status, Comment: a.Comment, Where: where[a.TenantID]}
		if a.ProcedureRole != "" {
			role := a.ProcedureRole
			b.ProcedureRole = &role
		}
		for _, g := range a.Signatures {
			b.Signatures = append(b.Signatures, Signature{ActivityID: g.ActivityID, SupervisorName: g.SupervisorName, Decision: g.Decision, Comment: g.Comment, SignedAt: g.SignedAt.In(web.Oslo)})
		}
		out = append(out, b)
	}
	return out
}

func liveBasis(ctx context.Context, tx bun.IDB, p *Progress) (*Basis, error) {
	b := &Basis{Activities: []Activity{}, Inputs: []Input{}}
	if !p.PriorLearning {
		sup, err := support(ctx, tx, p.TenantID, p.LisID, p.GoalCode)
		if err != nil {
			return nil, err
		}
		b.Activities, b.Earlier = sup.Here, sup.Earlier
	}
	if err := tx.NewRaw(`SELECT `+inputColumns+` WHERE i.tenant_id = ? AND i.progress_id = ? ORDER BY i.kind DESC, i.requested_at`, p.TenantID, p.ID).Scan(ctx, &b.Inputs); err != nil {
		return nil, err
	}
	if b.Inputs == nil {
		b.Inputs = []Input{}
	}
	if p.DocumentID != nil {
		refs, err := documents.Refs(ctx, tx, p.TenantID, []uuid.UUID{*p.DocumentID})
		if err != nil {
			return nil, err
		}
		if r := refs[*p.DocumentID]; r != nil {
			b.Document = &Document{ID: r.ID, Name: r.Name, Type: r.TypeLabel()}
		}
	}
	for i := range b.Inputs {
		b.Inputs[i].inOslo()
	}
	return b, nil
}

// BasisOf is the frozen basis of a decided goal, or today's for one waiting.
func BasisOf(ctx context.Context, tx bun.IDB, p *Progress) (*Basis, error) {
	if len(p.Basis) > 0 && p.Status != StatusSent {
		b := new(Basis)
		if err := json.Unmarshal(p.Basis, b); err != nil {
			return nil, err
		}
		return b, nil
	}
	return liveBasis(ctx, tx, p)
}

// Detail is a goal's page for the LIS: its progress row and basis (frozen
// once decided), and what the LIS has done for it here and before, live.
type Detail struct {
	Progress *Progress
	Basis    *Basis
	Support  *Support
}

// Detail reads one of the LIS's goals (g from Goals) for its page.
func (s *Store) Detail(ctx context.Context, tenantID, lisID uuid.UUID, g *Goal) (*Detail, error) {
	d := &Detail{}
	err := s.tx(ctx, tenantID, lisID, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if d.Support, err = support(ctx, tx, tenantID, lisID, g.Code); err != nil {
			return err
		}
		if g.ProgressID == nil {
			return nil
		}
		if d.Progress, err = loadProgress(ctx, tx, tenantID, *g.ProgressID); err != nil {
			return err
		}
		d.Progress.OriginName = g.OriginName
		d.Basis, err = BasisOf(ctx, tx, d.Progress)
		return err
	})
	return d, err
}

// Case is one goal in an approver's queue, with its basis.
type Case struct {
	Progress
	Basis *Basis
}

// MissingInput says which input is missing before approval ("" = none).
// Etterregistrering asks for none.
func (c *Case) MissingInput() string {
	if c.PriorLearning {
		return ""
	}
	v, s := c.Basis.VeilederInput(), c.Basis.SupervisorInput()
	switch {
	case !v && !s:
		return "Det mangler innspill fra veileder og fra supervisør."
	case !v:
		return "Det mangler innspill fra veileder."
	case !s:
		return "Det mangler innspill fra minst én supervisør."
	}
	return ""
}

// mayDecide: the goal was sent to person or to a leder who delegated to
// person, and person may approve for the LIS today (tenants.MayApprove).
func mayDecide(ctx context.Context, tx bun.IDB, p *Progress, person uuid.UUID, today time.Time) (bool, error) {
	if p.SentTo == nil {
		return false, nil
	}
	if *p.SentTo != person {
		var ok bool
		if err := tx.NewRaw(`SELECT EXISTS (SELECT 1 FROM delegations d WHERE d.tenant_id = ? AND d.leder_id = ? AND d.delegate_id = ?
			AND d.revoked_at IS NULL AND (d.valid_until IS NULL OR d.valid_until >= ?::date))`,
			p.TenantID, *p.SentTo, person, today.Format("2006-01-02")).Scan(ctx, &ok); err != nil || !ok {
			return false, err
		}
	}
	return tenants.MayApprove(ctx, tx, p.TenantID, person, p.LisID, today)
}

// queueWhere selects the goals waiting for person's decision (?0 tenant,
// ?1 person, ?2 today): sent to them, or to a leder who delegated approval to
// them, for a LIS they may approve for — tenants.MayApprove as SQL, so the
// queue is one query however long it is.
const queueWhere = `WHERE gp.tenant_id = ?0 AND gp.status = 'sent'
	AND (gp.sent_to = ?1 OR gp.sent_to IN (SELECT d.leder_id FROM delegations d WHERE d.tenant_id = gp.tenant_id AND d.delegate_id = ?1
		AND d.revoked_at IS NULL AND (d.valid_until IS NULL OR d.valid_until >= ?2::date)))
	AND EXISTS (SELECT 1 FROM relations r WHERE r.tenant_id = gp.tenant_id AND r.lis_id = gp.lis_id AND r.kind = 'leder' AND (r.person_id = ?1
		OR EXISTS (SELECT 1 FROM delegations d WHERE d.tenant_id = r.tenant_id AND d.leder_id = r.person_id AND d.delegate_id = ?1
			AND d.revoked_at IS NULL AND (d.valid_until IS NULL OR d.valid_until >= ?2::date))))`

// Queue lists the goals waiting for person's decision, each with its live basis.
func (s *Store) Queue(ctx context.Context, tenantID, person uuid.UUID) ([]Case, error) {
	today := s.today().Format("2006-01-02")
	var out []Case
	err := s.tx(ctx, tenantID, person, func(ctx context.Context, tx bun.Tx) error {
		var ps []Progress
		if err := tx.NewRaw(`SELECT `+progressColumns+progressFrom+queueWhere+` ORDER BY gp.sent_at`, tenantID, person, today).Scan(ctx, &ps); err != nil {
			return err
		}
		for i := range ps {
			ps[i].inOslo()
			b, err := liveBasis(ctx, tx, &ps[i])
			if err != nil {
				return err
			}
			out = append(out, Case{Progress: ps[i], Basis: b})
		}
		return nil
	})
	return out, err
}

// DocumentChoices lists the LIS's documents for the forms.
func (s *Store) DocumentChoices(ctx context.Context, tenantID, lisID uuid.UUID) ([]documents.Ref, error) {
	var out []documents.Ref
	err := s.tx(ctx, tenantID, lisID, func(ctx context.Context, tx bun.Tx) error {
		var err error
		out, err = documents.Choices(ctx, tx, tenantID, lisID)
		return err
	})
	return out, err
}

// QueueCount is how many goals wait for person's decision (the home page).
func (s *Store) QueueCount(ctx context.Context, tenantID, person uuid.UUID) (int, error) {
	var n int
	err := s.tx(ctx, tenantID, person, func(ctx context.Context, tx bun.Tx) error {
		return storage.Select(ctx, tx, &n, `SELECT count(*) FROM goal_progress gp `+queueWhere, tenantID, person, s.today().Format("2006-01-02"))
	})
	return n, err
}

// CaseFor is one goal for its approver: waiting, or already decided (with the
// frozen basis). Anyone else gets NotFound.
func (s *Store) CaseFor(ctx context.Context, tenantID, person, id uuid.UUID) (*Case, error) {
	var c *Case
	err := s.tx(ctx, tenantID, person, func(ctx context.Context, tx bun.Tx) error {
		p, err := loadProgress(ctx, tx, tenantID, id)
		if err != nil {
			return err
		}
		if ok, err := s.visible(ctx, tx, p, person); err != nil || !ok {
			if err != nil {
				return err
			}
			return apperr.New(apperr.NotFound, "Fant ikke læringsmålet.")
		}
		b, err := BasisOf(ctx, tx, p)
		if err != nil {
			return err
		}
		c = &Case{Progress: *p, Basis: b}
		return nil
	})
	return c, err
}

// visible: waiting goals for whoever may decide them; decided ones also for
// the one who decided.
func (s *Store) visible(ctx context.Context, tx bun.IDB, p *Progress, person uuid.UUID) (bool, error) {
	if p.Status != StatusSent && p.DecidedBy != nil && *p.DecidedBy == person {
		return true, nil
	}
	return mayDecide(ctx, tx, p, person, s.today())
}

// Decision outcomes.
const (
	Approve = StatusApproved
	Reject  = StatusRejected
	Return  = StatusReturned
)

// Decision is an approver's decision on a goal.
type Decision struct {
	Outcome string // approved, rejected, returned
	Note    string // needed to reject or return
	// ConfirmMissing: the approver approves although input from the veileder
	// or any supervisor is missing, and says so explicitly.
	ConfirmMissing bool
}

// Decide approves, rejects or returns a goal waiting for person. The basis is
// frozen into the row; a second decision is a Conflict.
func (s *Store) Decide(ctx context.Context, tenantID uuid.UUID, approver tenants.Actor, id uuid.UUID, d Decision) (*Case, error) {
	d.Note = strings.TrimSpace(d.Note)
	bad := map[string]string{}
	switch d.Outcome {
	case Approve:
	case Reject, Return:
		if d.Note == "" {
			bad["note"] = "Skriv en kommentar til LIS når du avviser eller returnerer."
		}
	default:
		bad["outcome"] = "Velg godkjenn, avvis eller returner."
	}
	if len(d.Note) > 2000 {
		bad["note"] = "Kommentaren kan ha høyst 2000 tegn."
	}
	var c *Case
	err := s.tx(ctx, tenantID, approver.PersonID, func(ctx context.Context, tx bun.Tx) error {
		p, err := loadProgress(ctx, tx, tenantID, id)
		if err != nil {
			return err
		}
		if ok, err := s.visible(ctx, tx, p, approver.PersonID); err != nil || !ok {
			if err != nil {
				return err
			}
			return apperr.New(apperr.NotFound, "Fant ikke læringsmålet.")
		}
		if p.Status != StatusSent {
			return decidedConflict(p, "kan ikke behandles på nytt")
		}
		b, err := liveBasis(ctx, tx, p)
		if err != nil {
			return err
		}
		c = &Case{Progress: *p, Basis: b}
		if d.Outcome == Approve && !d.ConfirmMissing {
			if m := c.MissingInput(); m != "" {
				bad["confirm"] = m + " Kryss av for at du godkjenner likevel."
			}
		}
		if err := apperr.InvalidFields(bad); err != nil {
			return err
		}
		frozen := s.today()
		b.FrozenAt = &frozen
		raw, err := json.Marshal(b)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE goal_progress SET status = ?, decided_by = ?, decided_at = now(), decision_note = ?, basis = ?::jsonb
			WHERE tenant_id = ? AND id = ? AND status = 'sent'`, d.Outcome, approver.PersonID, d.Note, string(raw), tenantID, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			p, _ := loadProgress(ctx, tx, tenantID, id)
			if p == nil {
				return apperr.New(apperr.Conflict, "Læringsmålet er allerede behandlet.")
			}
			return decidedConflict(p, "kan ikke behandles på nytt")
		}
		if err := chain.Append(ctx, tx, chain.KindGoal, tenantID, id); err != nil {
			return err
		}
		if err := tenants.Emit(ctx, tx, tenants.Event{TenantID: tenantID, Topic: "goal." + d.Outcome, Recipient: p.LisID,
			Payload: map[string]any{"progress_id": id, "goal_code": p.GoalCode, "decided_by": approver.PersonID, "decided_by_name": approver.Name,
				"note": d.Note, "prior_learning": p.PriorLearning}}); err != nil {
			return err
		}
		if p, err = loadProgress(ctx, tx, tenantID, id); err != nil {
			return err
		}
		c = &Case{Progress: *p, Basis: b}
		return nil
	})
	if err != nil {
		return c, err
	}
	return c, nil
}

// OwnApproved lists the LIS's approved goals in every tenant, newest decision
// first, with who approved them, and their frozen basis when withBasis. tx is
// a tenants.OwnRecordTx of that LIS: the own_record policies decide what is
// seen.
func OwnApproved(ctx context.Context, tx bun.IDB, lisID uuid.UUID, withBasis bool) ([]Progress, error) {
	var out []Progress
	cols := `gp.*`
	if !withBasis {
		cols = strings.TrimSuffix(progressWithoutBasis, progressNames)
	}
	// Names by primary key per row, not joined: the planner, guessing a
	// LIS's rows by the hundred, hashed the whole people table twice.
	err := tx.NewRaw(`SELECT `+cols+`, (SELECT trim(l.given_name || ' ' || l.family_name) FROM people l WHERE l.id = gp.lis_id) AS lis_name,
			coalesce((SELECT trim(st.given_name || ' ' || st.family_name) FROM people st WHERE st.id = gp.sent_to), '') AS sent_to_name,
			coalesce((SELECT trim(db.given_name || ' ' || db.family_name) FROM people db WHERE db.id = gp.decided_by), '') AS decided_by_name,
			(SELECT g.text FROM goals g WHERE g.version_id = gp.version_id AND g.code = gp.goal_code) AS goal_text
		FROM goal_progress gp WHERE gp.lis_id = ? AND gp.status = 'approved'
		ORDER BY gp.decided_at DESC NULLS LAST, gp.goal_code`, lisID).Scan(ctx, &out)
	for i := range out {
		out[i].inOslo()
	}
	return out, err
}
