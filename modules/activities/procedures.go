package activities

import (
	"context"
	"strings"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/apperr"
	"kportal/storage"
	"kportal/tenants"
)

// Procedure is one line of a LIS's procedure list: a national procedure of
// the plan's catalogue version and specialty, or a local one of the template,
// with the required and the done counts.
type Procedure struct {
	Key       string    `bun:"key"` // "n-<id>" national, "l-<id>" local
	ID        uuid.UUID `bun:"id"`
	Local     bool      `bun:"local"`
	Number    string    `bun:"number"`
	Name      string    `bun:"name"`
	Comment   string    `bun:"comment"`
	Favourite bool      `bun:"favourite"`
	// Required counts (local procedures: Required counts either role).
	Assisted            int `bun:"assisted"`
	Performed           int `bun:"performed"`
	AssistedOrPerformed int `bun:"assisted_or_performed"`
	// Done: signed and self-registered repetitions; Waiting: still requested.
	DoneAssisted     int `bun:"done_assisted"`
	DonePerformed    int `bun:"done_performed"`
	WaitingAssisted  int `bun:"waiting_assisted"`
	WaitingPerformed int `bun:"waiting_performed"`
	// Of Done, what was done at the LIS's earlier workplaces (national only).
	EarlierAssisted  int `bun:"earlier_assisted"`
	EarlierPerformed int `bun:"earlier_performed"`
}

// DoneTotal is every done repetition in either role.
func (p *Procedure) DoneTotal() int { return p.DoneAssisted + p.DonePerformed }

// EarlierTotal is every done repetition from earlier workplaces.
func (p *Procedure) EarlierTotal() int { return p.EarlierAssisted + p.EarlierPerformed }

// Waiting is every repetition still waiting for a signature.
func (p *Procedure) Waiting() int { return p.WaitingAssisted + p.WaitingPerformed }

// Complete reports whether the required counts are reached.
func (p *Procedure) Complete() bool {
	if p.Assisted+p.Performed+p.AssistedOrPerformed == 0 {
		return false
	}
	return p.DoneAssisted >= p.Assisted && p.DonePerformed >= p.Performed && p.DoneTotal() >= p.Assisted+p.Performed+p.AssistedOrPerformed
}

// specialtyMatch matches a national procedure's specialty to the template's:
// by code (ORT), by name (Ortopedisk kirurgi) or by its slug (ortopedisk-kirurgi).
const specialtyMatch = `(lower(np.specialty) = lower(t.specialty) OR lower(np.specialty) IN (` + specialtyNames + `))`

// earlierSpecialtyMatch is specialtyMatch for op, an earlier workplace's
// national procedure (of any catalogue version).
const earlierSpecialtyMatch = `(lower(op.specialty) = lower(t.specialty) OR lower(op.specialty) IN (` + specialtyNames + `))`

const specialtyNames = `SELECT lower(sp.name) FROM specialties sp WHERE sp.code = t.specialty UNION SELECT replace(lower(sp.name), ' ', '-') FROM specialties sp WHERE sp.code = t.specialty`

// Procedures returns the LIS's procedure list, favourites first, optionally
// searched by name. Without an active plan it is empty.
func (s *Store) Procedures(ctx context.Context, tenantID, lisID uuid.UUID, q string) ([]Procedure, error) {
	var out []Procedure
	err := s.tx(ctx, tenantID, lisID, func(ctx context.Context, tx bun.Tx) error {
		plan, err := ActivePlan(ctx, tx, tenantID, lisID)
		if err != nil || plan == nil {
			return err
		}
		like := storage.Contains(q)
		return storage.Select(ctx, tx, &out, ProceduresQuery, tenantID, lisID, plan.TemplateID, plan.VersionID, like)
	})
	return out, err
}

// ProceduresQuery is the procedure list with counts, for ?0 tenant, ?1 LIS,
// ?2 template, ?3 catalogue version, ?4 a LIKE pattern for the name. It makes
// one pass over the LIS's procedure activities (an index range), not four
// subqueries per procedure. kportal bench runs the same text as its baseline.
//
// National procedures done at the LIS's earlier workplaces (signed or
// self-registered) count too: earlier_workplaces (written by the transfers
// sync job) names them, and the earlier_record policy makes their rows
// readable. A national procedure's id differs per catalogue version, so an
// earlier one counts for this plan's procedure of the same name within the
// plan's specialty (the catalogue's key is version, specialty, name). Local
// procedures were the old tenant's own list and do not carry. For a LIS who
// never moved, earlier_workplaces has no row and the earlier part reads
// nothing.
const ProceduresQuery = `WITH done AS (
				SELECT coalesce(a.procedure_id, a.local_id) AS pid,
					coalesce(sum(a.count) FILTER (WHERE a.procedure_role = 'assisted' AND a.status IN ('signed', 'registered')), 0)::int AS done_assisted,
					coalesce(sum(a.count) FILTER (WHERE a.procedure_role = 'performed' AND a.status IN ('signed', 'registered')), 0)::int AS done_performed,
					coalesce(sum(a.count) FILTER (WHERE a.procedure_role = 'assisted' AND a.status = 'requested'), 0)::int AS waiting_assisted,
					coalesce(sum(a.count) FILTER (WHERE a.procedure_role = 'performed' AND a.status = 'requested'), 0)::int AS waiting_performed
				FROM activities a
				WHERE a.tenant_id = ?0 AND a.lis_id = ?1 AND a.kind = 'procedure' AND (a.procedure_id IS NOT NULL OR a.local_id IS NOT NULL)
				GROUP BY 1),
			earlier AS (
				SELECT op.name,
					coalesce(sum(a.count) FILTER (WHERE a.procedure_role = 'assisted'), 0)::int AS earlier_assisted,
					coalesce(sum(a.count) FILTER (WHERE a.procedure_role = 'performed'), 0)::int AS earlier_performed
				FROM earlier_workplaces e
				JOIN activities a ON a.tenant_id = e.earlier_tenant_id AND a.lis_id = e.lis_id AND a.kind = 'procedure'
					AND a.procedure_id IS NOT NULL AND a.status IN ('signed', 'registered')
				JOIN national_procedures op ON op.id = a.procedure_id
				JOIN plan_templates t ON t.tenant_id = ?0 AND t.id = ?2
				WHERE e.tenant_id = ?0 AND e.lis_id = ?1 AND ` + earlierSpecialtyMatch + `
				GROUP BY op.name)
			SELECT * FROM (
				SELECT 'n-' || np.id AS key, np.id, false AS local, np.number, np.name, np.comment, np.assisted, np.performed, np.assisted_or_performed,
					EXISTS (SELECT 1 FROM procedure_favourites f WHERE f.tenant_id = ?0 AND f.lis_id = ?1 AND f.procedure_id = np.id) AS favourite,
					coalesce(d.done_assisted, 0) + coalesce(x.earlier_assisted, 0) AS done_assisted,
					coalesce(d.done_performed, 0) + coalesce(x.earlier_performed, 0) AS done_performed,
					coalesce(d.waiting_assisted, 0) AS waiting_assisted, coalesce(d.waiting_performed, 0) AS waiting_performed,
					coalesce(x.earlier_assisted, 0) AS earlier_assisted, coalesce(x.earlier_performed, 0) AS earlier_performed
				FROM national_procedures np JOIN plan_templates t ON t.tenant_id = ?0 AND t.id = ?2
				LEFT JOIN done d ON d.pid = np.id
				LEFT JOIN earlier x ON x.name = np.name
				WHERE np.version_id = ?3 AND ` + specialtyMatch + ` AND np.name ILIKE ?4
				UNION ALL
				SELECT 'l-' || la.id AS key, la.id, true AS local, '' AS number, la.name, '' AS comment, 0 AS assisted, 0 AS performed,
					la.required AS assisted_or_performed, false AS favourite,
					coalesce(d.done_assisted, 0), coalesce(d.done_performed, 0), coalesce(d.waiting_assisted, 0), coalesce(d.waiting_performed, 0), 0, 0
				FROM local_activities la LEFT JOIN done d ON d.pid = la.id
				WHERE la.tenant_id = ?0 AND la.template_id = ?2 AND la.kind = 'procedure' AND la.name ILIKE ?4
			) u
			ORDER BY favourite DESC, local, number ~ '^[0-9]+$' DESC, CASE WHEN number ~ '^[0-9]+$' THEN number::int END, number, name`

// procedureOf finds a procedure of the LIS's active plan by its key.
func procedureOf(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, plan *Plan, key string) (name string, national, local *uuid.UUID, goals []string, err error) {
	if plan == nil || len(key) < 3 {
		return "", nil, nil, nil, apperr.Default(apperr.NotFound)
	}
	id, perr := uuid.Parse(key[2:])
	if perr != nil {
		return "", nil, nil, nil, apperr.Default(apperr.NotFound)
	}
	var rows []struct {
		Name  string   `bun:"name"`
		Goals []string `bun:"goals,array"`
	}
	switch key[:2] {
	case "n-":
		err = tx.NewRaw(`SELECT np.name, '{}'::text[] AS goals FROM national_procedures np, plan_templates t
			WHERE t.tenant_id = ? AND t.id = ? AND np.id = ? AND np.version_id = ? AND `+specialtyMatch, tenantID, plan.TemplateID, id, plan.VersionID).Scan(ctx, &rows)
		national = &id
	case "l-":
		err = tx.NewRaw(`SELECT name, goal_codes AS goals FROM local_activities WHERE tenant_id = ? AND template_id = ? AND id = ? AND kind = 'procedure'`,
			tenantID, plan.TemplateID, id).Scan(ctx, &rows)
		local = &id
	}
	if err != nil {
		return "", nil, nil, nil, err
	}
	if len(rows) == 0 {
		return "", nil, nil, nil, apperr.Default(apperr.NotFound)
	}
	return rows[0].Name, national, local, rows[0].Goals, nil
}

// Repetitions is one line of the procedure form: N repetitions in one role.
type Repetitions struct {
	Key   string // a Procedure's Key
	Role  string
	Count int
}

// RegisterProcedures registers each line as ONE activity of count N sent to
// the supervisor as ONE signature request, and remembers the supervisor.
func (s *Store) RegisterProcedures(ctx context.Context, tenantID uuid.UUID, lis tenants.Actor, supervisorID, doneOn string, lines []Repetitions) ([]*Activity, error) {
	if len(lines) == 0 {
		return nil, apperr.InvalidFields(map[string]string{"count": "Skriv antall ved minst én prosedyre."})
	}
	var out []*Activity
	err := s.tx(ctx, tenantID, lis.PersonID, func(ctx context.Context, tx bun.Tx) error {
		plan, err := ActivePlan(ctx, tx, tenantID, lis.PersonID)
		if err != nil {
			return err
		}
		for _, l := range lines {
			name, national, local, goals, err := procedureOf(ctx, tx, tenantID, plan, l.Key)
			if err != nil {
				return err
			}
			if strings.TrimSpace(supervisorID) == "" {
				return apperr.InvalidFields(map[string]string{"supervisor": "Velg supervisøren som skal signere."})
			}
			a, err := s.create(ctx, tx, tenantID, lis, Input{Kind: "procedure", Title: name, DoneOn: doneOn, SupervisorID: supervisorID,
				ProcedureID: national, LocalID: local, ProcedureRole: l.Role, Count: l.Count, GoalCodes: goals})
			if err != nil {
				return err
			}
			out = append(out, a)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO preferences (tenant_id, person_id, key, value) VALUES (?, ?, ?, ?)
			ON CONFLICT (tenant_id, person_id, key) DO UPDATE SET value = EXCLUDED.value`, tenantID, lis.PersonID, PreferenceSupervisor, strings.TrimSpace(supervisorID))
		return err
	})
	return out, err
}

// ToggleFavourite marks or unmarks a national procedure of the LIS's plan as a favourite.
func (s *Store) ToggleFavourite(ctx context.Context, tenantID, lisID, procedureID uuid.UUID) error {
	return s.tx(ctx, tenantID, lisID, func(ctx context.Context, tx bun.Tx) error {
		plan, err := ActivePlan(ctx, tx, tenantID, lisID)
		if err != nil {
			return err
		}
		if _, _, _, _, err := procedureOf(ctx, tx, tenantID, plan, "n-"+procedureID.String()); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM procedure_favourites WHERE tenant_id = ? AND lis_id = ? AND procedure_id = ?", tenantID, lisID, procedureID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			_, err = tx.ExecContext(ctx, "INSERT INTO procedure_favourites (tenant_id, lis_id, procedure_id) VALUES (?, ?, ?)", tenantID, lisID, procedureID)
		}
		return err
	})
}
