package transfers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"kportal/modules/apperr"
	"kportal/modules/catalog"
	"kportal/modules/plans"
	"kportal/tenants"
	"kportal/workers"
)

// Job types.
const (
	// TypeSync does one move's bookkeeping on its start date.
	TypeSync = "transfer:sync"
	// TypeDue finds moves whose start date has come and queues their sync
	// (a move registered while Redis was away, or one whose task was lost).
	TypeDue = "transfer:due"
	// TypeReturnInFlight returns work still waiting at an old workplace after
	// the tenant's period (daily).
	TypeReturnInFlight = "transfer:return_in_flight"
)

// SyncPayload is TypeSync's payload: the new workplace and the move.
type SyncPayload struct {
	workers.TenantPayload
	TransferID uuid.UUID `json:"transfer_id"`
}

// SyncTaskID is the deterministic task id of a move's sync: two enqueues of
// one move while one is queued give one task.
func SyncTaskID(id uuid.UUID) string { return "transfer:" + id.String() }

// Enqueuer puts a job on the queue (an *asynq.Client).
type Enqueuer interface {
	EnqueueContext(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Enqueue queues a move's sync for its start date (at once when it has come;
// the queue is the bulk queue for a CSV's moves). A task already queued for
// the move is left as it is.
func Enqueue(ctx context.Context, q Enqueuer, t *Transfer) error {
	b, err := json.Marshal(SyncPayload{TenantPayload: workers.TenantPayload{TenantID: t.TenantID}, TransferID: t.ID})
	if err != nil {
		return err
	}
	queue := workers.QueueDefault
	if t.BatchID != nil {
		queue = workers.QueueBulk
	}
	opts := []asynq.Option{asynq.Queue(queue), asynq.MaxRetry(10), asynq.TaskID(SyncTaskID(t.ID)), asynq.Timeout(2 * time.Minute)}
	start := time.Date(t.StartsOn.Year(), t.StartsOn.Month(), t.StartsOn.Day(), 0, 0, 0, 0, workers.Oslo)
	if start.After(time.Now()) {
		opts = append(opts, asynq.ProcessAt(start))
	}
	_, err = q.EnqueueContext(ctx, asynq.NewTask(TypeSync, b), opts...)
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	return err
}

// Sync does a move's bookkeeping in one transaction across the two tenants,
// so the LIS's record is moved wholly or not at all (a killed worker's
// transaction rolls back, and the retry starts again): the old plans ended,
// the new plan assigned, approvals carried, the earlier workplaces recorded,
// the veileder carried within an RHF, everyone told, both sides audited.
// The move's row is locked first and must still be registered, so a retry or
// a second run at the same time changes nothing. A move refused on its start
// date (the new workplace gave the LIS a plan of the same specialty
// meanwhile) is marked failed with the reason, and nothing else changes.
// It returns the move as it stands afterwards.
func (s *Store) Sync(ctx context.Context, tenantID, id uuid.UUID) (*Transfer, error) {
	var out *Transfer
	err := tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		var err error
		out, err = s.syncTx(ctx, tx, tenantID, id)
		return err
	})
	return out, err
}

// syncTx is Sync in tx, which has the new workplace (tenantID) in force.
func (s *Store) syncTx(ctx context.Context, tx bun.Tx, tenantID, id uuid.UUID) (*Transfer, error) {
	var status string
	var starts time.Time
	err := tx.NewRaw("SELECT status, starts_on FROM transfers WHERE tenant_id = ? AND id = ? FOR UPDATE", tenantID, id).Scan(ctx, &status, &starts)
	if err != nil {
		return nil, err
	}
	if status != StatusRegistered || starts.After(s.today()) {
		return get(ctx, tx, tenantID, id)
	}
	t, err := get(ctx, tx, tenantID, id)
	if err != nil {
		return nil, err
	}
	rep, err := s.move(ctx, tx, t)
	var ae *apperr.Error
	if errors.As(err, &ae) {
		// Refused: the savepoint rolled back whatever the move did.
		rep = &Report{Reason: apperr.MessageOf(err)}
		raw, _ := json.Marshal(rep)
		if _, err := tx.ExecContext(ctx, "UPDATE transfers SET status = 'failed', report = ? WHERE tenant_id = ? AND id = ?", string(raw), tenantID, id); err != nil {
			return nil, err
		}
		return get(ctx, tx, tenantID, id)
	}
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(rep)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE transfers SET status = 'done', synced_at = now(), report = ? WHERE tenant_id = ? AND id = ?", string(raw), tenantID, id); err != nil {
		return nil, err
	}
	return get(ctx, tx, tenantID, id)
}

type approval struct {
	ID             uuid.UUID  `bun:"id"`
	Code           string     `bun:"goal_code"`
	VersionID      int        `bun:"version_id"`
	PriorLearning  bool       `bun:"prior_learning"`
	CompletedOn    *time.Time `bun:"completed_on"`
	Comment        string     `bun:"comment"`
	DecidedBy      *uuid.UUID `bun:"decided_by"`
	DecidedAt      *time.Time `bun:"decided_at"`
	DecisionNote   string     `bun:"decision_note"`
	Basis          []byte     `bun:"basis"`
	OriginTenantID uuid.UUID  `bun:"origin_tenant_id"`
	OriginID       uuid.UUID  `bun:"origin_id"`
}

type earlier struct {
	TenantID uuid.UUID `bun:"earlier_tenant_id"`
	LeftOn   time.Time `bun:"left_on"`
}

// move is Sync's work inside a savepoint: a refusal (apperr) rolls back to it.
func (s *Store) move(ctx context.Context, tx bun.Tx, t *Transfer) (rep *Report, err error) {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT transfer_move"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT transfer_move"); rerr != nil {
				err = rerr
			}
		}
	}()
	rep = &Report{InFlight: map[string]int{}, Documents: t.SameRHF, Conversation: t.SameRHF}
	kportal := tenants.Actor{Name: "kportal (arbeidsstedsbytte)"}
	var (
		approvals []approval
		veileder  []uuid.UUID
		before    []earlier
		oldLeders []uuid.UUID
	)
	// The old workplace: end the plans, read what carries.
	err = inScope(ctx, tx, t.FromTenantID, func() error {
		var err error
		if rep.PlansEnded, err = plans.EndActive(ctx, tx, t.FromTenantID, t.LisID); err != nil {
			return err
		}
		if err := tx.NewRaw(`SELECT id, goal_code, version_id, prior_learning, completed_on, comment, decided_by, decided_at, decision_note, basis,
				coalesce(origin_tenant_id, tenant_id) AS origin_tenant_id, coalesce(origin_id, id) AS origin_id
			FROM goal_progress WHERE tenant_id = ? AND lis_id = ? AND status = 'approved' ORDER BY goal_code`, t.FromTenantID, t.LisID).Scan(ctx, &approvals); err != nil {
			return err
		}
		if err := tx.NewRaw("SELECT person_id FROM relations WHERE tenant_id = ? AND lis_id = ? AND kind = 'veileder'", t.FromTenantID, t.LisID).Scan(ctx, &veileder); err != nil {
			return err
		}
		if err := tx.NewRaw("SELECT person_id FROM relations WHERE tenant_id = ? AND lis_id = ? AND kind = 'leder'", t.FromTenantID, t.LisID).Scan(ctx, &oldLeders); err != nil {
			return err
		}
		if err := tx.NewRaw("SELECT earlier_tenant_id, left_on FROM earlier_workplaces WHERE tenant_id = ? AND lis_id = ?", t.FromTenantID, t.LisID).Scan(ctx, &before); err != nil {
			return err
		}
		var inFlight []struct {
			What string `bun:"what"`
			N    int    `bun:"n"`
		}
		if err := tx.NewRaw(`SELECT 'activities' AS what, count(*) AS n FROM activities WHERE tenant_id = ?0 AND lis_id = ?1 AND status = 'requested'
			UNION ALL SELECT 'goals', count(*) FROM goal_progress WHERE tenant_id = ?0 AND lis_id = ?1 AND status = 'sent'`, t.FromTenantID, t.LisID).Scan(ctx, &inFlight); err != nil {
			return err
		}
		for _, f := range inFlight {
			if f.N > 0 {
				rep.InFlight[f.What] = f.N
			}
		}
		if err := tenants.Audit(ctx, tx, &tenants.AuditEntry{TenantID: t.FromTenantID, ActorName: kportal.Name, Action: tenants.AuditTransferLeft,
			SubjectID: &t.LisID, SubjectName: t.LisName, Details: fmt.Sprintf("til %s fra %s", t.ToName, t.StartsOn.Format("2006-01-02"))}); err != nil {
			return err
		}
		payload := map[string]any{"lis_name": t.LisName, "to_name": t.ToName, "starts_on": t.StartsOnText()}
		if len(oldLeders) == 0 { // nobody leads the LIS there: tell the administrators
			if err := tx.NewRaw("SELECT person_id FROM memberships WHERE tenant_id = ? AND role = 'tenant_admin'", t.FromTenantID).Scan(ctx, &oldLeders); err != nil {
				return err
			}
		}
		for _, l := range oldLeders {
			if err := tenants.Emit(ctx, tx, tenants.Event{TenantID: t.FromTenantID, Topic: "transfer.left", Recipient: l, Payload: payload}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	// The new workplace.
	if t.TemplateID == nil {
		return nil, apperr.New(apperr.Invalid, "Byttet har ingen plan.")
	}
	tpl, err := plans.TemplateByID(ctx, tx, t.TenantID, *t.TemplateID)
	if err != nil {
		return nil, err
	}
	if dup, err := plans.ActiveOfSpecialty(ctx, tx, t.TenantID, t.LisID, tpl.Specialty, tpl.ID); err != nil || dup {
		if err != nil {
			return nil, err
		}
		return nil, apperr.New(apperr.Conflict, "%s har fått en annen aktiv plan i samme spesialitet her etter at byttet ble registrert.", t.LisName)
	}
	if err := tenants.GrantRole(ctx, tx, t.TenantID, t.LisID, "lis", kportal); err != nil {
		return nil, err
	}
	plan, err := plans.AssignInTx(ctx, tx, t.TenantID, t.LisID, *t.TemplateID, nil)
	if err != nil {
		return nil, err
	}
	if t.LederID != nil {
		if err := tenants.SetRelation(ctx, tx, t.TenantID, t.LisID, tenants.RelLeder, *t.LederID, kportal); err != nil {
			return nil, err
		}
	}
	if err := s.carry(ctx, tx, t, plan, approvals, rep); err != nil {
		return nil, err
	}
	// Every earlier workplace, as seen from here.
	places := append([]earlier{{TenantID: t.FromTenantID, LeftOn: t.StartsOn}}, before...)
	for _, e := range places {
		if e.TenantID == t.TenantID {
			continue
		}
		same, err := sameRHF(ctx, tx, e.TenantID, t.TenantID)
		if err != nil {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO earlier_workplaces (tenant_id, lis_id, earlier_tenant_id, same_rhf, transfer_id, left_on)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, lis_id, earlier_tenant_id) DO UPDATE SET transfer_id = excluded.transfer_id, left_on = excluded.left_on`,
			t.TenantID, t.LisID, e.TenantID, same, t.ID, e.LeftOn.Format("2006-01-02")); err != nil {
			return nil, err
		}
		rep.Earlier++
	}
	// The veileder follows within the RHF, unless the LIS has one here already.
	var newVeileder *uuid.UUID
	if t.SameRHF && len(veileder) == 1 {
		var has bool
		if err := tx.NewRaw("SELECT EXISTS (SELECT 1 FROM relations WHERE tenant_id = ? AND lis_id = ? AND kind = 'veileder')", t.TenantID, t.LisID).Scan(ctx, &has); err != nil {
			return nil, err
		}
		if !has && veileder[0] != t.LisID {
			if err := tenants.SetRelation(ctx, tx, t.TenantID, t.LisID, tenants.RelVeileder, veileder[0], kportal); err != nil {
				return nil, err
			}
			newVeileder = &veileder[0]
			if err := tx.NewRaw("SELECT trim(given_name || ' ' || family_name) FROM people WHERE id = ?", veileder[0]).Scan(ctx, &rep.Veileder); err != nil {
				return nil, err
			}
		}
	}
	if err := tenants.Audit(ctx, tx, &tenants.AuditEntry{TenantID: t.TenantID, ActorName: kportal.Name, Action: tenants.AuditTransferDone,
		SubjectID: &t.LisID, SubjectName: t.LisName, Details: fmt.Sprintf("fra %s: %d godkjente læringsmål overført, %d ikke", t.FromName, len(rep.Carried), len(rep.NotCarried))}); err != nil {
		return nil, err
	}
	payload := map[string]any{"lis_name": t.LisName, "from_name": t.FromName, "to_name": t.ToName, "starts_on": t.StartsOnText(),
		"carried": len(rep.Carried), "path": "/arbeidsstedsbytte/" + t.ID.String()}
	tell := []struct {
		topic string
		who   *uuid.UUID
	}{{"transfer.started", &t.LisID}, {"transfer.arrived", t.LederID}, {"transfer.veileder", newVeileder}}
	// Who registered it (an administrator, often) hears that it is done too.
	if r := t.RegisteredBy; r != nil && *r != t.LisID && (t.LederID == nil || *r != *t.LederID) {
		tell = append(tell, struct {
			topic string
			who   *uuid.UUID
		}{"transfer.arrived", r})
	}
	for _, e := range tell {
		if e.who == nil {
			continue
		}
		if err := tenants.Emit(ctx, tx, tenants.Event{TenantID: t.TenantID, Topic: e.topic, Recipient: *e.who, Payload: payload}); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// carry approves in the new plan the goals approved before, keeping who
// approved, where and when (origin_*), unless the catalogue made the goal
// stricter since, or it is under way here already. All in one statement: a
// LIS brings 20–100 approvals, and a round trip each was half of a move's
// time (kportal bench transfer).
func (s *Store) carry(ctx context.Context, tx bun.Tx, t *Transfer, plan *plans.Assignment, approvals []approval, rep *Report) error {
	under := map[string]int{}
	for _, a := range approvals {
		under[a.Code] = a.VersionID
	}
	stricter, err := catalog.StricterSince(ctx, tx, plan.VersionID, under)
	if err != nil {
		return err
	}
	type row struct {
		Code           string          `json:"goal_code"`
		PriorLearning  bool            `json:"prior_learning"`
		CompletedOn    *time.Time      `json:"completed_on"`
		Comment        string          `json:"comment"`
		DecidedBy      *uuid.UUID      `json:"decided_by"`
		DecidedAt      *time.Time      `json:"decided_at"`
		DecisionNote   string          `json:"decision_note"`
		Basis          json.RawMessage `json:"basis"`
		OriginTenantID uuid.UUID       `json:"origin_tenant_id"`
		OriginID       uuid.UUID       `json:"origin_id"`
	}
	var rows []row
	for _, a := range approvals {
		if !stricter[a.Code] {
			rows = append(rows, row{a.Code, a.PriorLearning, a.CompletedOn, a.Comment, a.DecidedBy, a.DecidedAt, a.DecisionNote, a.Basis, a.OriginTenantID, a.OriginID})
		}
	}
	type key struct {
		Code  string `bun:"goal_code"`
		Prior bool   `bun:"prior_learning"`
	}
	var carried []key
	if len(rows) > 0 {
		raw, err := json.Marshal(rows)
		if err != nil {
			return err
		}
		if err := tx.NewRaw(`INSERT INTO goal_progress (tenant_id, lis_id, assignment_id, goal_code, version_id, status, prior_learning,
				completed_on, comment, decided_by, decided_at, decision_note, basis, origin_tenant_id, origin_id)
			SELECT ?, ?, ?, x.goal_code, ?, 'approved', x.prior_learning, x.completed_on, x.comment, x.decided_by, x.decided_at, x.decision_note,
				x.basis, x.origin_tenant_id, x.origin_id
			FROM jsonb_to_recordset(?::jsonb) AS x (goal_code text, prior_learning boolean, completed_on date, comment text, decided_by uuid,
				decided_at timestamptz, decision_note text, basis jsonb, origin_tenant_id uuid, origin_id uuid)
			ON CONFLICT (tenant_id, lis_id, goal_code, prior_learning) DO UPDATE SET status = 'approved', assignment_id = excluded.assignment_id,
				version_id = excluded.version_id, completed_on = excluded.completed_on, comment = excluded.comment, decided_by = excluded.decided_by,
				decided_at = excluded.decided_at, decision_note = excluded.decision_note, basis = excluded.basis,
				origin_tenant_id = excluded.origin_tenant_id, origin_id = excluded.origin_id, sent_to = NULL, sent_at = NULL
			WHERE goal_progress.status = 'open'
			RETURNING goal_code, prior_learning`,
			t.TenantID, t.LisID, plan.ID, plan.VersionID, string(raw)).Scan(ctx, &carried); err != nil {
			return err
		}
	}
	// What did not carry is there already: approved, or under way.
	var here []struct {
		key
		Status string `bun:"status"`
	}
	if len(carried) < len(rows) {
		codes := make([]string, len(rows))
		for i, r := range rows {
			codes[i] = r.Code
		}
		if err := tx.NewRaw("SELECT goal_code, prior_learning, status FROM goal_progress WHERE tenant_id = ? AND lis_id = ? AND goal_code = ANY (?)",
			t.TenantID, t.LisID, pgdialect.Array(codes)).Scan(ctx, &here); err != nil {
			return err
		}
	}
	for _, a := range approvals {
		k := key{a.Code, a.PriorLearning}
		switch {
		case stricter[a.Code]:
			rep.NotCarried = append(rep.NotCarried, NotCarried{Goal: a.Code, Reason: "målet er skjerpet i katalogen siden godkjenningen og må vurderes på nytt"})
		case slices.Contains(carried, k):
			rep.Carried = append(rep.Carried, a.Code)
		default:
			reason := "målet er allerede godkjent her"
			for _, h := range here {
				if h.key == k && h.Status != "approved" {
					reason = "målet er under arbeid her (" + h.Status + ")"
				}
			}
			rep.NotCarried = append(rep.NotCarried, NotCarried{Goal: a.Code, Reason: reason})
		}
	}
	return nil
}

// Due queues the sync of every registered move whose start date has come,
// in every tenant, and returns how many it queued.
func (s *Store) Due(ctx context.Context, q Enqueuer) (int, error) {
	var due []Transfer
	err := s.inEveryTenant(ctx, func(ctx context.Context, tx bun.Tx, tid uuid.UUID) error {
		var ts []Transfer
		err := tx.NewRaw("SELECT "+transferColumns+" WHERE x.tenant_id = ? AND x.status = 'registered' AND x.starts_on <= ?",
			tid, s.today().Format("2006-01-02")).Scan(ctx, &ts)
		due = append(due, ts...)
		return err
	})
	if err != nil {
		return 0, err
	}
	for i := range due {
		if err := Enqueue(ctx, q, &due[i]); err != nil {
			return i, err
		}
	}
	return len(due), nil
}

// CarryLate carries into the new plan the approvals an old workplace decided
// after the LIS left (goals that were waiting at the move and were decided
// within the old tenant's period), for moves still within that period. The
// TypeDue sweep runs it; carrying twice changes nothing. It returns how many
// approvals it carried.
func (s *Store) CarryLate(ctx context.Context) (int, error) {
	total := 0
	err := s.inEveryTenant(ctx, func(ctx context.Context, tx bun.Tx, tid uuid.UUID) error {
		days, err := inFlightDays(ctx, tx, tid)
		if err != nil {
			return err
		}
		var moves []Transfer
		if err := tx.NewRaw("SELECT "+transferColumns+" WHERE x.from_tenant_id = ? AND x.status = 'done' AND x.starts_on >= ?",
			tid, s.today().AddDate(0, 0, -days-1).Format("2006-01-02")).Scan(ctx, &moves); err != nil {
			return err
		}
		for _, t := range moves {
			n, err := s.carryLate(ctx, tx, tid, &t)
			if err != nil {
				return err
			}
			total += n
		}
		return nil
	})
	return total, err
}

// carryLate carries one move's late approvals (the old workplace in force).
func (s *Store) carryLate(ctx context.Context, tx bun.Tx, tid uuid.UUID, t *Transfer) (int, error) {
	var late []approval
	if err := tx.NewRaw(`SELECT id, goal_code, version_id, prior_learning, completed_on, comment, decided_by, decided_at, decision_note, basis,
			coalesce(origin_tenant_id, tenant_id) AS origin_tenant_id, coalesce(origin_id, id) AS origin_id
		FROM goal_progress WHERE tenant_id = ? AND lis_id = ? AND status = 'approved' AND decided_at > ?`, tid, t.LisID, t.SyncedAt).Scan(ctx, &late); err != nil || len(late) == 0 {
		return 0, err
	}
	carried := 0
	err := inScope(ctx, tx, t.TenantID, func() error {
		var fresh []approval
		for _, a := range late {
			var done bool
			if err := tx.NewRaw("SELECT EXISTS (SELECT 1 FROM goal_progress WHERE tenant_id = ? AND origin_id = ?)", t.TenantID, a.OriginID).Scan(ctx, &done); err != nil {
				return err
			}
			if !done {
				fresh = append(fresh, a)
			}
		}
		if len(fresh) == 0 {
			return nil
		}
		if t.TemplateID == nil {
			return nil
		}
		plan, err := plans.ActiveTemplate(ctx, tx, t.TenantID, t.LisID, *t.TemplateID)
		if err != nil || plan == nil {
			return err
		}
		rep := &Report{}
		if err := s.carry(ctx, tx, t, plan, fresh, rep); err != nil {
			return err
		}
		carried = len(rep.Carried)
		return nil
	})
	return carried, err
}
