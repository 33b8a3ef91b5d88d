package notifications

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/uptrace/bun"

	"kportal/tenants"
	"kportal/workers"
)

// Sender sends one e-mail, calling record just before the message is complete
// (workers.Mailer).
type Sender interface {
	SendRecorded(ctx context.Context, m workers.Mail, record func() error) error
}

type event struct {
	At      time.Time `bun:"at"`
	Topic   string    `bun:"topic"`
	Payload []byte    `bun:"payload"`
}

type recipient struct {
	Email      string `bun:"email"`
	GivenName  string `bun:"given_name"`
	FamilyName string `bun:"family_name"`
}

func (r recipient) name() string {
	if n := r.GivenName + " " + r.FamilyName; n != " " {
		return n
	}
	return ""
}

// Deliver handles one relayed event (workers.TypeEvent): the notice and the
// delivery record first, in their own transaction, so the notice shows at once
// whatever SMTP does; then the immediate e-mail, sent once per (event,
// recipient): the record is locked while sending and commits as sent just
// before the message is complete (sendOnce), so a retry after a crash between
// sending and the job's acknowledgement finds it sent.
func (m *Module) Deliver(ctx context.Context, t *asynq.Task) error {
	var p workers.EventPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.TenantID == uuid.Nil || p.EventID == 0 || p.Recipient == uuid.Nil {
		return fmt.Errorf("event task: bad payload %q: %w", t.Payload(), asynq.SkipRetry)
	}
	typ := TypeOf(p.Topic)
	if typ == nil || typ.Notice == nil {
		return nil // nobody is told about this topic
	}
	var (
		ev       event
		to       recipient
		tenant   tenants.Tenant
		channels Channels
	)
	// The recipient's own settings are theirs alone: read with them in force.
	scope := tenants.Scope{TenantID: p.TenantID, PersonID: p.Recipient}
	err := tenants.WithTenantTx(ctx, m.db, scope, func(ctx context.Context, tx bun.Tx) error {
		if err := tx.NewSelect().Table("outbox").Column("at", "topic", "payload").
			Where("tenant_id = ? AND id = ? AND recipient_id = ?", p.TenantID, p.EventID, p.Recipient).Scan(ctx, &ev); err != nil {
			return err
		}
		if err := tx.NewSelect().Table("people").Column("email", "given_name", "family_name").Where("id = ?", p.Recipient).Scan(ctx, &to); err != nil {
			return err
		}
		if err := tx.NewSelect().Model(&tenant).Where("id = ?", p.TenantID).Scan(ctx); err != nil {
			return err
		}
		mine, err := choices(ctx, tx, p.Recipient)
		if err != nil {
			return err
		}
		var chosen *Channels
		if c, ok := mine[typ.Topic]; ok {
			chosen = &c
		}
		channels = typ.Effective(chosen)
		var payload Payload
		_ = json.Unmarshal(ev.Payload, &payload)
		title, path := typ.Notice(payload)
		_, err = tx.ExecContext(ctx, `INSERT INTO deliveries (tenant_id, event_id, recipient_id, type, title, link, created_at, home, email, digest)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			p.TenantID, p.EventID, p.Recipient, typ.Topic, title, "/t/"+tenant.Slug+path, ev.At, channels.Home, channels.Email, channels.Digest)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("event %d of tenant %s is gone: %w", p.EventID, p.TenantID, asynq.SkipRetry)
	}
	if err != nil {
		return err
	}
	// Claim and mark in one statement: the UPDATE locks the record, and finds
	// nothing when the e-mail is not wanted or went already.
	return m.sendOnce(ctx, scope,
		func(ctx context.Context, tx bun.Tx) (*workers.Mail, error) {
			var d []struct {
				Title string `bun:"title"`
				Link  string `bun:"link"`
			}
			if err := tx.NewRaw(`UPDATE deliveries SET email_sent_at = now() WHERE tenant_id = ? AND event_id = ? AND recipient_id = ? AND email AND email_sent_at IS NULL
				RETURNING title, link`, p.TenantID, p.EventID, p.Recipient).Scan(ctx, &d); err != nil || len(d) == 0 {
				return nil, err
			}
			mail, err := render(to.Email, d[0].Title, immediateText, immediateHTML, mailData{
				Name:     to.name(),
				Item:     mailItem{Title: d[0].Title, Tenant: tenant.Name, URL: m.baseURL + d[0].Link},
				Label:    typ.Label,
				Settings: m.baseURL + SettingsPath,
			})
			return &mail, err
		},
		"UPDATE deliveries SET email_sent_at = NULL WHERE tenant_id = ? AND event_id = ? AND recipient_id = ?", p.TenantID, p.EventID, p.Recipient)
}

// sendOnce sends the e-mail prepare returns (nil: nothing to send) at most
// once. prepare runs in a transaction with scope in force and marks the
// record sent (locking it, so a concurrent attempt waits and then finds it
// sent); the transaction commits while the message is not yet complete
// (Sender.SendRecorded), so no retry finds it unsent after the server took it.
// If the server then refuses the message, undo (with args) unmarks it.
func (m *Module) sendOnce(ctx context.Context, scope tenants.Scope, prepare func(ctx context.Context, tx bun.Tx) (*workers.Mail, error), undo string, args ...any) error {
	tx, err := tenants.BeginTenantTx(ctx, m.db, scope)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it does nothing
	// A process killed after sending COMMIT and before ending the message
	// loses it (PostgreSQL commits anyway), so that COMMIT must not wait for
	// the WAL flush: the window is one round trip, not a disk write on a
	// loaded machine. Should PostgreSQL itself crash in the next fraction of a
	// second, the record is lost and a retry sends the e-mail again.
	if _, err := tx.ExecContext(ctx, "SET LOCAL synchronous_commit = off"); err != nil {
		return err
	}
	mail, err := prepare(ctx, tx)
	if err != nil || mail == nil {
		return err // nothing written: the rollback ends it
	}
	committed := false
	err = m.mailer.SendRecorded(ctx, *mail, func() error {
		committed = true
		return tx.Commit()
	})
	if err != nil && committed {
		// Recorded but refused or cut off at the very end: undo the record, so a retry sends it.
		if uerr := tenants.WithTenantTx(context.WithoutCancel(ctx), m.db, scope, func(ctx context.Context, tx bun.Tx) error {
			_, err := tx.ExecContext(ctx, undo, args...)
			return err
		}); uerr != nil {
			return fmt.Errorf("%v; and undoing the record of it: %w", err, uerr)
		}
	}
	return err
}
