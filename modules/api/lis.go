package api

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/uptrace/bun"

	"kportal/modules/activities"
	"kportal/modules/apperr"
	"kportal/modules/overview"
	"kportal/tenants"
)

// TenantLIS is one LIS of a tenant with plan and progress.
type TenantLIS struct {
	ID                 uuid.UUID `json:"id"`
	Name               string    `json:"name"`
	Email              string    `json:"email"`
	HPR                *string   `json:"hpr"`
	Plan               *string   `json:"plan"` // the active plan's name; null when none
	GoalsTotal         int       `json:"goals_total"`
	GoalsApproved      int       `json:"goals_approved"`
	GoalsWaiting       int       `json:"goals_waiting"`
	ProceduresTotal    int       `json:"procedures_total"`
	ProceduresComplete int       `json:"procedures_complete"`
}

// LISPage is one page of a tenant's LIS.
type LISPage struct {
	Items []TenantLIS `json:"items"`
	Next  *string     `json:"next"` // the URL of the next page; null on the last
}

const (
	defaultLimit = 50
	maxLimit     = 200
)

// cursorQuery is what a cursor is bound to: the path and every query
// parameter but the cursor, so it cannot be used with another query.
func cursorQuery(path string, q url.Values) string {
	q = cloneValues(q)
	q.Del("cursor")
	sum := sha256.Sum256([]byte(path + "?" + q.Encode()))
	return hex.EncodeToString(sum[:8])
}

func cloneValues(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// encodeCursor is an opaque cursor: the query it belongs to and the last id seen.
func encodeCursor(query string, after uuid.UUID) string {
	return base64.RawURLEncoding.EncodeToString([]byte("1." + query + "." + after.String()))
}

// decodeCursor reads a cursor for query; one made for another query, or no
// cursor at all, is a clear 400.
func decodeCursor(s, query string) (uuid.UUID, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	parts := strings.Split(string(b), ".")
	if err != nil || len(parts) != 3 || parts[0] != "1" {
		return uuid.Nil, apperr.New(apperr.Invalid, "Sidemarkøren (cursor) er ikke gyldig. Bruk lenken i «next» fra forrige side.")
	}
	if parts[1] != query {
		return uuid.Nil, apperr.New(apperr.Invalid, "Sidemarkøren (cursor) hører til en annen forespørsel. Bruk lenken i «next» fra forrige side, uten å endre de andre parameterne.")
	}
	id, err := uuid.Parse(parts[2])
	if err != nil {
		return uuid.Nil, apperr.New(apperr.Invalid, "Sidemarkøren (cursor) er ikke gyldig. Bruk lenken i «next» fra forrige side.")
	}
	return id, nil
}

func (m *Module) tenantLIS(c echo.Context) error {
	k := keyFrom(c)
	slug := c.Param("slug")
	// The scope is checked before the tenant is looked up: a key learns nothing of tenants it cannot read.
	if err := need(k, TenantScope(slug)); err != nil {
		return err
	}
	ctx := c.Request().Context()
	t, err := tenants.BySlug(ctx, m.db, slug)
	if err != nil {
		return err
	}
	if t.Status == tenants.StatusSuspended {
		return apperr.New(apperr.Forbidden, "%s er midlertidig stengt i kportal.", t.Name)
	}
	q := c.QueryParams()
	limit := defaultLimit
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > maxLimit {
			return apperr.New(apperr.Invalid, "limit skal være et helt tall fra 1 til %d.", maxLimit)
		}
	}
	query := cursorQuery(c.Request().URL.Path, q)
	var after uuid.UUID
	if s := q.Get("cursor"); s != "" {
		if after, err = decodeCursor(s, query); err != nil {
			return err
		}
	}
	page, err := m.lisPage(ctx, t.ID, after, limit)
	if err != nil {
		return err
	}
	if len(page.Items) > limit {
		page.Items = page.Items[:limit]
		next := cloneValues(q)
		next.Set("cursor", encodeCursor(query, page.Items[limit-1].ID))
		link := c.Request().URL.Path + "?" + next.Encode()
		page.Next = &link
		c.Response().Header().Set("Link", "<"+link+`>; rel="next"`)
	}
	body, err := json.Marshal(page)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	h := c.Response().Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", "private, no-cache")
	if matches(c.Request().Header.Get("If-None-Match"), etag) {
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(http.StatusOK, "application/json", body)
}

// matches reads If-None-Match: a list of ETags, or *.
func matches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// lisPage reads up to limit+1 LIS of tenant after the id after, with their
// figures, in one transaction with the tenant in force.
func (m *Module) lisPage(ctx context.Context, tenant, after uuid.UUID, limit int) (*LISPage, error) {
	page := &LISPage{Items: []TenantLIS{}}
	err := tenants.OneTx(ctx, m.db, tenants.Scope{TenantID: tenant}, func(ctx context.Context) error {
		return tenants.WithTenantTx(ctx, m.db, tenants.Scope{TenantID: tenant}, func(ctx context.Context, tx bun.Tx) error {
			var rows []struct {
				ID    uuid.UUID `bun:"id"`
				Name  string    `bun:"name"`
				Email string    `bun:"email"`
				HPR   *string   `bun:"hpr_number"`
			}
			if err := tx.NewRaw(`SELECT p.id, trim(p.given_name || ' ' || p.family_name) AS name, p.email, p.hpr_number
				FROM memberships m JOIN people p ON p.id = m.person_id
				WHERE m.tenant_id = ? AND m.role = 'lis' AND p.id > ?
				ORDER BY p.id LIMIT ?`, tenant, after, limit+1).Scan(ctx, &rows); err != nil {
				return err
			}
			for _, r := range rows {
				item := TenantLIS{ID: r.ID, Name: r.Name, Email: r.Email, HPR: r.HPR}
				plan, err := activities.ActivePlan(ctx, tx, tenant, r.ID)
				if err != nil {
					return err
				}
				if plan != nil {
					item.Plan = &plan.Name
				}
				pr, err := overview.ProgressOf(ctx, m.goals, m.acts, tenant, r.ID, "")
				if err != nil {
					return err
				}
				item.GoalsTotal, item.GoalsApproved, item.GoalsWaiting = pr.GoalsTotal, pr.GoalsApproved, pr.GoalsWaiting
				item.ProceduresTotal, item.ProceduresComplete = pr.ProceduresTotal, pr.ProceduresOK
				page.Items = append(page.Items, item)
			}
			return nil
		})
	})
	return page, err
}
