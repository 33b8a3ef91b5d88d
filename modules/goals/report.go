package goals

import (
	"context"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"kportal/tenants"
)

// PlanGoal is one goal of a LIS's active plan for the leder's
// fremdriftsrapport: its status (an approval carried from an earlier
// workplace counts as approved, with OriginName) and the inputs asked of
// and given by the veileder and the supervisors.
type PlanGoal struct {
	LisID          uuid.UUID  `bun:"lis_id"`
	Plan           string     `bun:"plan"`
	Code           string     `bun:"goal_code"`
	Text           *string    `bun:"text"`
	Status         string     `bun:"status"` // "" = not started
	PriorApproved  bool       `bun:"prior_approved"`
	SentAt         *time.Time `bun:"sent_at"`
	SentToName     string     `bun:"sent_to_name"`
	DecidedByName  string     `bun:"decided_by_name"`
	DecidedAt      *time.Time `bun:"decided_at"`
	OriginTenantID *uuid.UUID `bun:"origin_tenant_id"`
	OriginName     string     `bun:"-"`
	VeilederAsked  int        `bun:"veileder_asked"`
	VeilederGiven  int        `bun:"veileder_given"`
	SupAsked       int        `bun:"sup_asked"`
	SupGiven       int        `bun:"sup_given"`
}

// StatusText is the goal's status in Norwegian.
func (g *PlanGoal) StatusText() string { return StatusText(g.Status) }

// StatusColor is the colour of the status tag.
func (g *PlanGoal) StatusColor() string { return StatusColor(g.Status) }

// planGoalsQuery is goalsQuery for many LIS at once, with input counts. Inputs
// come from goal_inputs; a carried approval has its inputs at the earlier
// workplace, so they are counted from the basis frozen there.
const planGoalsQuery = `WITH inp AS MATERIALIZED (
		SELECT i.progress_id,
			count(*) FILTER (WHERE i.kind = 'veileder') AS va, count(i.answered_at) FILTER (WHERE i.kind = 'veileder') AS vg,
			count(*) FILTER (WHERE i.kind = 'supervisor') AS sa, count(i.answered_at) FILTER (WHERE i.kind = 'supervisor') AS sg
		FROM goal_inputs i JOIN goal_progress p ON p.tenant_id = i.tenant_id AND p.id = i.progress_id
		WHERE i.tenant_id = ?0 AND p.lis_id = ANY(?1) GROUP BY i.progress_id)
	SELECT DISTINCT ON (pa.lis_id, ptg.goal_code) pa.lis_id, pt.name AS plan, ptg.goal_code, g.text,
		pl.id IS NOT NULL AS prior_approved,
		CASE WHEN pl.id IS NOT NULL AND gp.status IS DISTINCT FROM 'approved' THEN 'approved' ELSE coalesce(gp.status, '') END AS status,
		gp.sent_at, coalesce(trim(st.given_name || ' ' || st.family_name), '') AS sent_to_name,
		coalesce(trim(db.given_name || ' ' || db.family_name), trim(pdb.given_name || ' ' || pdb.family_name), '') AS decided_by_name,
		coalesce(gp.decided_at, pl.decided_at) AS decided_at, gp.origin_tenant_id,
		coalesce(inp.va, bi.va, 0) AS veileder_asked, coalesce(inp.vg, bi.vg, 0) AS veileder_given,
		coalesce(inp.sa, bi.sa, 0) AS sup_asked, coalesce(inp.sg, bi.sg, 0) AS sup_given
	FROM plan_assignments pa
	JOIN plan_templates pt ON pt.tenant_id = pa.tenant_id AND pt.id = pa.template_id
	JOIN plan_template_goals ptg ON ptg.tenant_id = pa.tenant_id AND ptg.template_id = pa.template_id
	LEFT JOIN goals g ON g.version_id = pa.version_id AND g.code = ptg.goal_code
	LEFT JOIN goal_progress gp ON gp.tenant_id = pa.tenant_id AND gp.lis_id = pa.lis_id AND gp.goal_code = ptg.goal_code AND NOT gp.prior_learning
	LEFT JOIN goal_progress pl ON pl.tenant_id = pa.tenant_id AND pl.lis_id = pa.lis_id AND pl.goal_code = ptg.goal_code AND pl.prior_learning AND pl.status = 'approved'
	LEFT JOIN people st ON st.id = gp.sent_to
	LEFT JOIN people db ON db.id = gp.decided_by
	LEFT JOIN people pdb ON pdb.id = pl.decided_by
	LEFT JOIN inp ON inp.progress_id = gp.id
	LEFT JOIN LATERAL (SELECT count(*) FILTER (WHERE e->>'kind' = 'veileder') AS va,
			count(*) FILTER (WHERE e->>'kind' = 'veileder' AND e->>'answered_at' IS NOT NULL) AS vg,
			count(*) FILTER (WHERE e->>'kind' = 'supervisor') AS sa,
			count(*) FILTER (WHERE e->>'kind' = 'supervisor' AND e->>'answered_at' IS NOT NULL) AS sg
		FROM jsonb_array_elements(CASE WHEN jsonb_typeof(gp.basis->'inputs') = 'array' THEN gp.basis->'inputs' ELSE '[]'::jsonb END) e) bi
		ON gp.origin_tenant_id IS NOT NULL
	WHERE pa.tenant_id = ?0 AND pa.lis_id = ANY(?1) AND pa.archived_at IS NULL
	ORDER BY pa.lis_id, ptg.goal_code, pa.assigned_at DESC`

// PlanGoals lists the goals of the active plans of the LIS in lisIDs, in one
// query, ordered by LIS and goal code. tx has tenantID in force.
func PlanGoals(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, lisIDs []uuid.UUID) ([]PlanGoal, error) {
	var out []PlanGoal
	if len(lisIDs) == 0 {
		return out, nil
	}
	if err := tx.NewRaw(planGoalsQuery, tenantID, pgdialect.Array(lisIDs)).Scan(ctx, &out); err != nil {
		return nil, err
	}
	var ids []uuid.UUID
	for _, g := range out {
		if g.OriginTenantID != nil && !slices.Contains(ids, *g.OriginTenantID) {
			ids = append(ids, *g.OriginTenantID)
		}
	}
	ts, err := tenants.ByIDs(ctx, tx, ids)
	if err != nil {
		return nil, err
	}
	for i := range out {
		for _, t := range ts {
			if out[i].OriginTenantID != nil && *out[i].OriginTenantID == t.ID {
				out[i].OriginName = t.Name
			}
		}
	}
	return out, nil
}
