package notifications

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/apperr"
	"kportal/tenants"
)

// Store reads and writes a person's notices and settings; every method runs
// with row-level security in force for the tenant and person given.
type Store struct {
	db bun.IDB
}

// NewStore returns a store on db.
func NewStore(db bun.IDB) *Store { return &Store{db: db} }

// Notice is one delivery as the home page shows it.
type Notice struct {
	EventID   int64      `bun:"event_id"`
	Type      string     `bun:"type"`
	Title     string     `bun:"title"`
	Link      string     `bun:"link"`
	CreatedAt time.Time  `bun:"created_at"`
	ReadAt    *time.Time `bun:"read_at"`
}

// Notices returns the person's notices in a tenant, newest first; unreadOnly
// leaves out the read ones.
func (s *Store) Notices(ctx context.Context, tenantID, person uuid.UUID, unreadOnly bool, limit int) ([]Notice, error) {
	var out []Notice
	err := tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID, PersonID: person}, func(ctx context.Context, tx bun.Tx) error {
		q := tx.NewSelect().Table("deliveries").Column("event_id", "type", "title", "link", "created_at", "read_at").
			Where("tenant_id = ? AND recipient_id = ? AND home", tenantID, person).
			OrderExpr("created_at DESC, event_id DESC").Limit(int64(limit))
		if unreadOnly {
			q = q.Where("read_at IS NULL")
		}
		return q.Scan(ctx, &out)
	})
	return out, err
}

// Unread counts the person's unread notices in a tenant.
func (s *Store) Unread(ctx context.Context, tenantID, person uuid.UUID) (int, error) {
	var n int
	err := tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID, PersonID: person}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw("SELECT count(*) FROM deliveries WHERE tenant_id = ? AND recipient_id = ? AND home AND read_at IS NULL", tenantID, person).Scan(ctx, &n)
	})
	return n, err
}

// MarkRead marks one of the person's notices read (eventID 0: all of them).
// Someone else's notice, or one of another tenant, is not found.
func (s *Store) MarkRead(ctx context.Context, tenantID, person uuid.UUID, eventID int64) error {
	return tenants.WithTenantTx(ctx, s.db, tenants.Scope{TenantID: tenantID, PersonID: person}, func(ctx context.Context, tx bun.Tx) error {
		q := tx.NewUpdate().Table("deliveries").Set("read_at = coalesce(read_at, now())").
			Where("tenant_id = ? AND recipient_id = ? AND home", tenantID, person)
		if eventID != 0 {
			q = q.Where("event_id = ?", eventID)
		}
		res, err := q.Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 && eventID != 0 {
			return apperr.New(apperr.NotFound, "Fant ikke varselet.")
		}
		return nil
	})
}

// Setting is a person's channels for one type, as the settings page shows it.
type Setting struct {
	*Type
	Channels
	Chosen bool // the person changed the defaults
}

type settingRow struct {
	Type   string `bun:"type"`
	Email  bool   `bun:"email"`
	Digest bool   `bun:"digest"`
	Home   bool   `bun:"home"`
}

// choices reads a person's own choices, by topic; tx must have the person in force.
func choices(ctx context.Context, tx bun.IDB, person uuid.UUID) (map[string]Channels, error) {
	var rows []settingRow
	if err := tx.NewSelect().Table("notification_settings").Column("type", "email", "digest", "home").
		Where("person_id = ?", person).Scan(ctx, &rows); err != nil {
		return nil, err
	}
	out := make(map[string]Channels, len(rows))
	for _, r := range rows {
		out[r.Type] = Channels{Email: r.Email, Digest: r.Digest, Home: r.Home}
	}
	return out, nil
}

// Settings returns the person's channels for every type.
func (s *Store) Settings(ctx context.Context, person uuid.UUID) ([]Setting, error) {
	var mine map[string]Channels
	err := tenants.WithTenantTx(ctx, s.db, tenants.Scope{PersonID: person}, func(ctx context.Context, tx bun.Tx) error {
		var err error
		mine, err = choices(ctx, tx, person)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]Setting, len(Types))
	for i := range Types {
		t := &Types[i]
		c, chosen := mine[t.Topic]
		if chosen {
			out[i] = Setting{Type: t, Channels: t.Effective(&c), Chosen: !t.Locked}
		} else {
			out[i] = Setting{Type: t, Channels: t.Default}
		}
	}
	return out, nil
}

// SaveSettings stores the person's channels; types not named keep theirs,
// locked types cannot be changed, unknown types are refused.
func (s *Store) SaveSettings(ctx context.Context, person uuid.UUID, set map[string]Channels) error {
	for topic := range set {
		if TypeOf(topic) == nil {
			return apperr.New(apperr.Invalid, "Ukjent varseltype %q.", topic)
		}
	}
	return tenants.WithTenantTx(ctx, s.db, tenants.Scope{PersonID: person}, func(ctx context.Context, tx bun.Tx) error {
		for topic, c := range set {
			t := TypeOf(topic)
			if t.Locked {
				continue
			}
			if c == t.Default {
				if _, err := tx.ExecContext(ctx, "DELETE FROM notification_settings WHERE person_id = ? AND type = ?", person, topic); err != nil {
					return err
				}
				continue
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO notification_settings (person_id, type, email, digest, home) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (person_id, type) DO UPDATE SET email = EXCLUDED.email, digest = EXCLUDED.digest, home = EXCLUDED.home, changed_at = now()`,
				person, topic, c.Email, c.Digest, c.Home); err != nil {
				return err
			}
		}
		return nil
	})
}
