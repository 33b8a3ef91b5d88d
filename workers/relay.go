package workers

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/uptrace/bun"

	"kportal/tenants"
)

// TypeEvent is the task the relay makes of one outbox event; the
// notifications module handles it.
const TypeEvent = "outbox:event"

// EventPayload is TypeEvent's payload: which event, in which tenant.
type EventPayload struct {
	TenantPayload
	EventID   int64     `json:"event_id"`
	Topic     string    `json:"topic"`
	Recipient uuid.UUID `json:"recipient"`
}

// EventTaskID is the asynq task id of an event: the same event is never
// queued twice while asynq remembers it (retention below), and the
// notifications module's delivery records hold for longer.
func EventTaskID(id int64) string { return "event:" + strconv.FormatInt(id, 10) }

// eventRetention keeps finished event tasks (and so their ids) in Redis.
const eventRetention = 7 * 24 * time.Hour

// Relay moves events from the outbox (written in the business transaction)
// to asynq. Redis down: the events stay pending in PostgreSQL, and go when it
// is back. Several relays may run: each tenant's batch is locked (SKIP LOCKED)
// and the task id refuses a second enqueue.
type Relay struct {
	DB       bun.IDB
	Queue    *asynq.Client
	Log      *slog.Logger
	Interval time.Duration // between polls when the outbox is empty (default 1 s)
	Batch    int           // events per poll (default 500)
}

// Run relays until ctx ends.
func (r *Relay) Run(ctx context.Context) {
	every := r.Interval
	if every == 0 {
		every = time.Second
	}
	wait := every
	for {
		n, err := r.Once(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			r.Log.Warn("outbox relay: events wait in PostgreSQL", "error", err)
			wait = min(max(wait*2, every), 30*time.Second) // back off while Redis or PostgreSQL is away
		case n > 0:
			wait = 0 // more may be waiting
		default:
			wait = every
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

type pendingEvent struct {
	TenantID    uuid.UUID  `bun:"tenant_id"`
	ID          int64      `bun:"id"`
	Topic       string     `bun:"topic"`
	RecipientID *uuid.UUID `bun:"recipient_id"`
}

// Once relays one batch of pending events and returns how many it relayed.
func (r *Relay) Once(ctx context.Context) (int, error) {
	batch := r.Batch
	if batch == 0 {
		batch = 500
	}
	// Which tenants have pending events: the only cross-tenant read, through
	// the read-only outbox_relay policy.
	var found []uuid.UUID
	err := r.DB.RunInTx(ctx, &sql.TxOptions{ReadOnly: true}, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, "SELECT set_config('app.outbox_relay', 'on', true)"); err != nil {
			return err
		}
		return tx.NewRaw(`SELECT tenant_id FROM (SELECT tenant_id, at FROM outbox WHERE delivered_at IS NULL ORDER BY at LIMIT ?) p
			GROUP BY tenant_id ORDER BY min(at)`, batch).Scan(ctx, &found)
	})
	if err != nil {
		return 0, err
	}
	total := 0
	for _, tenantID := range found {
		n, err := r.tenant(ctx, tenantID, batch)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// tenant relays one tenant's pending events in its own transaction: enqueued
// and marked together, or (Redis away) neither.
func (r *Relay) tenant(ctx context.Context, tenantID uuid.UUID, batch int) (int, error) {
	n := 0
	err := tenants.WithTenantTx(ctx, r.DB, tenants.Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		n = 0
		var evs []pendingEvent
		if err := tx.NewRaw(`SELECT tenant_id, id, topic, recipient_id FROM outbox WHERE tenant_id = ? AND delivered_at IS NULL
			ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED`, tenantID, batch).Scan(ctx, &evs); err != nil {
			return err
		}
		ids := make([]int64, 0, len(evs))
		for _, e := range evs {
			if e.RecipientID != nil { // an event for nobody in particular has no one to tell
				if err := r.enqueue(ctx, e); err != nil {
					return err
				}
			}
			ids = append(ids, e.ID)
		}
		if len(ids) == 0 {
			return nil
		}
		n = len(ids)
		_, err := tx.ExecContext(ctx, "UPDATE outbox SET delivered_at = now() WHERE tenant_id = ? AND id IN (?)", tenantID, bun.In(ids))
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

func (r *Relay) enqueue(ctx context.Context, e pendingEvent) error {
	b, err := json.Marshal(EventPayload{TenantPayload: TenantPayload{TenantID: e.TenantID}, EventID: e.ID, Topic: e.Topic, Recipient: *e.RecipientID})
	if err != nil {
		return err
	}
	t := asynq.NewTask(TypeEvent, b, asynq.Queue(QueueMail), asynq.MaxRetry(25),
		asynq.TaskID(EventTaskID(e.ID)), asynq.Retention(eventRetention))
	if _, err := r.Queue.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("queueing event %d: %w", e.ID, err)
	}
	return nil
}
