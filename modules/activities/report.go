package activities

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// GoalKey is one goal of one LIS.
type GoalKey struct {
	LisID uuid.UUID
	Code  string
}

// GoalUse is what a LIS has done for one goal, for the leder's
// fremdriftsrapport: the last supporting activity here and at earlier
// workplaces, and how many wait for a supervisor's signature.
type GoalUse struct {
	LastHere    *time.Time
	LastEarlier *time.Time
	Waiting     int
}

// GoalUses aggregates the activities of the LIS in lisIDs per goal, in one
// query: here (tenantID) every activity not withdrawn or rejected counts,
// in earlier (the LIS's earlier workplaces, moved.EarlierOf) the
// completed ones as "Tidligere arbeidssted" shows them, plus those still
// waiting there. tx has tenantID in force; the earlier_record policies decide
// what of the earlier tenants is read.
func GoalUses(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, earlier []uuid.UUID, lisIDs []uuid.UUID) (map[GoalKey]GoalUse, error) {
	var rows []struct {
		LisID       uuid.UUID  `bun:"lis_id"`
		Code        string     `bun:"code"`
		LastHere    *time.Time `bun:"last_here"`
		LastEarlier *time.Time `bun:"last_earlier"`
		Waiting     int        `bun:"waiting"`
	}
	tenantIDs := append([]uuid.UUID{tenantID}, earlier...)
	if err := tx.NewRaw(`SELECT a.lis_id, g.code,
			max(a.done_on) FILTER (WHERE a.tenant_id = ?0 AND a.status IN ('registered', 'requested', 'signed')) AS last_here,
			max(a.done_on) FILTER (WHERE a.tenant_id <> ?0 AND a.status IN ('registered', 'signed')) AS last_earlier,
			count(*) FILTER (WHERE a.status = 'requested') AS waiting
		FROM activities a CROSS JOIN LATERAL unnest(a.goal_codes) AS g (code)
		WHERE a.tenant_id = ANY(?1) AND a.lis_id = ANY(?2) AND a.status IN ('registered', 'requested', 'signed')
		GROUP BY a.lis_id, g.code`, tenantID, pgdialect.Array(tenantIDs), pgdialect.Array(lisIDs)).Scan(ctx, &rows); err != nil {
		return nil, err
	}
	out := make(map[GoalKey]GoalUse, len(rows))
	for _, r := range rows {
		out[GoalKey{r.LisID, r.Code}] = GoalUse{LastHere: r.LastHere, LastEarlier: r.LastEarlier, Waiting: r.Waiting}
	}
	return out, nil
}

// WaitingOf counts each LIS's activities waiting for a signature, here and
// at the earlier workplaces given (work in flight at a move), in one query.
func WaitingOf(ctx context.Context, tx bun.IDB, tenantID uuid.UUID, earlier []uuid.UUID, lisIDs []uuid.UUID) (map[uuid.UUID]int, error) {
	var rows []struct {
		LisID uuid.UUID `bun:"lis_id"`
		N     int       `bun:"n"`
	}
	tenantIDs := append([]uuid.UUID{tenantID}, earlier...)
	if err := tx.NewRaw(`SELECT lis_id, count(*) AS n FROM activities WHERE tenant_id = ANY(?) AND lis_id = ANY(?) AND status = 'requested' GROUP BY lis_id`,
		pgdialect.Array(tenantIDs), pgdialect.Array(lisIDs)).Scan(ctx, &rows); err != nil {
		return nil, err
	}
	out := make(map[uuid.UUID]int, len(rows))
	for _, r := range rows {
		out[r.LisID] = r.N
	}
	return out, nil
}
