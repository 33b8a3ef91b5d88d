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
	Person uuid.UUID `json:"person"`
	Week   string    `json:"week"`
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
	seen := map[uuid.UUID]bool{}
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
			if !seen[p] {
				seen[p] = true
				order = append(order, p)
			}
		}
	}
	// Queued from a few goroutines: one by one, 40,000 Redis round trips
	// would hold the last summary back by their sum.
	work := make(chan uuid.UUID)
	errs := make(chan error, enqueuers)
	for i := 0; i < enqueuers; i++ {
		go func() {
			var first error
			for p := range work {
				if first == nil {
					first = m.enqueueDigest(ctx, p, week)
				}
			}
			errs <- first
		}()
	}
	for _, p := range order {
		work <- p
	}
	close(work)
	var first error
	for i := 0; i < enqueuers; i++ {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return 0, first
	}
	return len(order), nil
}

const enqueuers = 8

func (m *Module) enqueueDigest(ctx context.Context, person uuid.UUID, week string) error {
	b, err := json.Marshal(digestPayload{Person: person, Week: week})
	if err != nil {
		return err
	}
	t := asynq.NewTask(TypeDigest, b, asynq.Queue(workers.QueueBulk), asynq.MaxRetry(10),
		asynq.TaskID(DigestTaskID(person, week)), asynq.Retention(digestRetention))
	if _, err := m.queue.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return err
	}
	return nil
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
	// One statement with the person in force: their own items in every tenant
	// (own_deliveries), and the summary record, marked sent (locked; nothing
	// comes back when there is nothing to summarise or it went already).
	return m.sendOnce(ctx, tenants.Scope{PersonID: p.Person},
		func(ctx context.Context, tx bun.Tx) (*workers.Mail, error) {
			var items []struct {
				digestItem
				Email      string `bun:"email"`
				GivenName  string `bun:"given_name"`
				FamilyName string `bun:"family_name"`
			}
			if err := tx.NewRaw(`WITH items AS (
					SELECT d.type, d.title, d.link, t.name AS tenant, d.created_at, d.event_id FROM deliveries d JOIN tenants t ON t.id = d.tenant_id
					WHERE d.recipient_id = ?0 AND d.digest AND d.digest_week = ?1),
				mark AS (
					INSERT INTO digests (person_id, week, items, sent_at) SELECT ?0, ?1, count(*), now() FROM items HAVING count(*) > 0
					ON CONFLICT (person_id, week) DO UPDATE SET sent_at = now() WHERE digests.sent_at IS NULL
					RETURNING person_id)
				SELECT i.type, i.title, i.link, i.tenant, p.email, p.given_name, p.family_name
				FROM items i, mark, people p WHERE p.id = mark.person_id ORDER BY i.created_at, i.event_id`, p.Person, p.Week).Scan(ctx, &items); err != nil || len(items) == 0 {
				return nil, err
			}
			to := recipient{Email: items[0].Email, GivenName: items[0].GivenName, FamilyName: items[0].FamilyName}
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
		"UPDATE digests SET sent_at = NULL WHERE person_id = ? AND week = ?", p.Person, p.Week)
}
