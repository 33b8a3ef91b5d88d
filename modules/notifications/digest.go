package notifications

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/uptrace/bun"

	"kportal/tenants"
	"kportal/workers"
)

// The weekly summary: the scheduler starts TypeDigestRun on Wednesdays at
// 07:00 in Oslo; the run hands each person with something to summarise a
// TypeDigest task whose id is the person and the ISO week, so two schedulers
// or a retried run queue each summary once, and the digests table sends it
// once even if asynq forgets the id.
const (
	TypeDigestRun = "notifications:digest_run"
	TypeDigest    = "notifications:digest"
	DigestCron    = "0 7 * * 3"
)

// digestRetention keeps finished summary tasks, and so their ids, past the week.
const digestRetention = 8 * 24 * time.Hour

// Week is the ISO week of t in Oslo, as "2026-W49".
func Week(t time.Time) string {
	y, w := t.In(workers.Oslo).ISOWeek()
	return fmt.Sprintf("%04d-W%02d", y, w)
}

// DigestTaskID is the task id of a person's summary for a week.
func DigestTaskID(person uuid.UUID, week string) string {
	return "digest:" + person.String() + ":" + week
}

type digestPayload struct {
	Person  uuid.UUID   `json:"person"`
	Week    string      `json:"week"`
	Tenants []uuid.UUID `json:"tenants"`
}

// RunDigest claims every summary item not yet summarised, tenant by tenant,
// for this week's summary, and queues one summary per person who has any.
// It returns how many summaries it queued (or found queued already).
func (m *Module) RunDigest(ctx context.Context) (int, error) {
	now := m.now()
	week := Week(now)
	var all []uuid.UUID
	if err := m.db.NewSelect().Table("tenants").Column("id").Where("status <> 'suspended'").Scan(ctx, &all); err != nil {
		return 0, err
	}
	byPerson := map[uuid.UUID][]uuid.UUID{}
	var order []uuid.UUID
	for _, tenantID := range all {
		var people []uuid.UUID
		err := tenants.WithTenantTx(ctx, m.db, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
			if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET digest_week = ? WHERE tenant_id = ? AND digest AND digest_week IS NULL AND created_at <= ?`,
				week, tenantID, now); err != nil {
				return err
			}
			// Also the ones claimed by an earlier attempt of this week's run.
			return tx.NewRaw("SELECT DISTINCT recipient_id FROM deliveries WHERE tenant_id = ? AND digest AND digest_week = ?", tenantID, week).Scan(ctx, &people)
		})
		if err != nil {
			return 0, err
		}
		for _, p := range people {
			if _, seen := byPerson[p]; !seen {
				order = append(order, p)
			}
			byPerson[p] = append(byPerson[p], tenantID)
		}
	}
	for _, p := range order {
		b, err := json.Marshal(digestPayload{Person: p, Week: week, Tenants: byPerson[p]})
		if err != nil {
			return 0, err
		}
		t := asynq.NewTask(TypeDigest, b, asynq.Queue(workers.QueueBulk), asynq.MaxRetry(10),
			asynq.TaskID(DigestTaskID(p, week)), asynq.Retention(digestRetention))
		if _, err := m.queue.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return 0, err
		}
	}
	return len(order), nil
}

type digestItem struct {
	Type   string `bun:"type"`
	Title  string `bun:"title"`
	Link   string `bun:"link"`
	Tenant string `bun:"tenant"`
}

// SendDigest sends one person's summary of a week, at most once.
func (m *Module) SendDigest(ctx context.Context, t *asynq.Task) error {
	var p digestPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.Person == uuid.Nil || p.Week == "" {
		return fmt.Errorf("digest task: bad payload %q: %w", t.Payload(), asynq.SkipRetry)
	}
	var items []digestItem
	for _, tenantID := range p.Tenants {
		err := tenants.WithTenantTx(ctx, m.db, tenants.Scope{TenantID: tenantID, PersonID: p.Person}, func(ctx context.Context, tx bun.Tx) error {
			var these []digestItem
			err := tx.NewRaw(`SELECT d.type, d.title, d.link, t.name AS tenant FROM deliveries d JOIN tenants t ON t.id = d.tenant_id
				WHERE d.tenant_id = ? AND d.recipient_id = ? AND d.digest AND d.digest_week = ? ORDER BY d.created_at, d.event_id`,
				tenantID, p.Person, p.Week).Scan(ctx, &these)
			items = append(items, these...)
			return err
		})
		if err != nil {
			return err
		}
	}
	if len(items) == 0 {
		return nil // nothing for people with nothing
	}
	return m.sendOnce(ctx, tenants.Scope{PersonID: p.Person},
		func(ctx context.Context, tx bun.Tx) (*workers.Mail, error) {
			if _, err := tx.ExecContext(ctx, "INSERT INTO digests (person_id, week, items) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", p.Person, p.Week, len(items)); err != nil {
				return nil, err
			}
			var sent *time.Time
			if err := tx.NewRaw("SELECT sent_at FROM digests WHERE person_id = ? AND week = ? FOR UPDATE", p.Person, p.Week).Scan(ctx, &sent); err != nil {
				return nil, err
			}
			if sent != nil {
				return nil, nil
			}
			var to recipient
			if err := tx.NewSelect().Table("people").Column("email", "given_name", "family_name").Where("id = ?", p.Person).Scan(ctx, &to); err != nil {
				return nil, err
			}
			d := mailData{Name: to.name(), Week: strings.TrimLeft(p.Week[len(p.Week)-2:], "0"), Count: len(items), Settings: m.baseURL + SettingsPath}
			for i := range Types { // grouped by type, in the settings page's order
				var g mailGroup
				for _, it := range items {
					if it.Type == Types[i].Topic {
						g.Items = append(g.Items, mailItem{Title: it.Title, Tenant: it.Tenant, URL: m.baseURL + it.Link})
					}
				}
				if len(g.Items) > 0 {
					g.Label = Types[i].Label
					d.Groups = append(d.Groups, g)
				}
			}
			mail, err := render(to.Email, "Ukens varsler fra kportal – uke "+d.Week, digestText, digestHTML, d)
			return &mail, err
		},
		"UPDATE digests SET sent_at = ?, items = ? WHERE person_id = ? AND week = ?", len(items), p.Person, p.Week)
}
