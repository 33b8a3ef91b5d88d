package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"kportal/modules/apperr"
	"kportal/modules/web"
	"kportal/tenants"
)

// ScopeRecords lets a key read any LIS's national record by HPR number,
// for a case (Helsedirektoratet's case system).
const ScopeRecords = "records:read"

// TenantScope is the scope that lets a key read one tenant's LIS list (the
// tenant's HR or LMS system).
func TenantScope(slug string) string { return "tenant:" + slug + ":read" }

// tokenPrefix starts every key, so a leaked one is recognisable (secret scanners).
const tokenPrefix = "kp_"

// Key is an API key as kept: never the key itself, only its hash.
type Key struct {
	ID            uuid.UUID  `bun:"id"`
	Name          string     `bun:"name"`
	OwnerTenantID uuid.UUID  `bun:"owner_tenant_id"`
	OwnerName     string     `bun:"owner_name,scanonly"`
	OwnerSlug     string     `bun:"owner_slug,scanonly"`
	Scopes        []string   `bun:"scopes,array"`
	Prefix        string     `bun:"prefix"`
	CreatedBy     uuid.UUID  `bun:"created_by"`
	CreatedByName string     `bun:"created_by_name,scanonly"`
	CreatedAt     time.Time  `bun:"created_at"`
	RevokedBy     *uuid.UUID `bun:"revoked_by"`
	RevokedByName string     `bun:"revoked_by_name,scanonly"`
	RevokedAt     *time.Time `bun:"revoked_at"`
}

// Has reports whether the key carries scope.
func (k *Key) Has(scope string) bool {
	for _, s := range k.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// Created is the creation date as shown (d.m.åååå).
func (k *Key) Created() string { return web.Date(k.CreatedAt.In(web.Oslo)) }

// Revoked is the revocation date as shown, "" while the key is in force.
func (k *Key) Revoked() string {
	if k.RevokedAt == nil {
		return ""
	}
	return web.Date(k.RevokedAt.In(web.Oslo))
}

// hashOf is what is kept of a key.
func hashOf(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// newToken makes a key: kp_ + 32 random bytes (base64url); its first 11
// characters are the visible prefix that tells keys apart in lists and logs.
func newToken() (token, prefix string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	token = tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return token, token[:len(tokenPrefix)+8], nil
}

// adminTx runs fn with the api_keys_admin policy in force: only the
// platform_admin pages call it, after the route guard checked the role.
func adminTx(ctx context.Context, db bun.IDB, fn func(ctx context.Context, tx bun.Tx) error) error {
	return db.RunInTx(ctx, &sql.TxOptions{}, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, "SELECT set_config('app.tenant_id', '', true), set_config('app.api_keys_admin', 'on', true)"); err != nil {
			return err
		}
		return fn(ctx, tx)
	})
}

const keyColumns = `k.id, k.name, k.owner_tenant_id, t.name AS owner_name, t.slug AS owner_slug, k.scopes, k.prefix,
	k.created_by, trim(c.given_name || ' ' || c.family_name) AS created_by_name, k.created_at,
	k.revoked_by, coalesce(trim(r.given_name || ' ' || r.family_name), '') AS revoked_by_name, k.revoked_at
	FROM api_keys k JOIN tenants t ON t.id = k.owner_tenant_id JOIN people c ON c.id = k.created_by
	LEFT JOIN people r ON r.id = k.revoked_by `

// NewKey is what a platform admin asks for.
type NewKey struct {
	Name    string
	OwnerID string // tenant id, as typed in the form
	Records bool   // records:read
	Tenant  bool   // tenant:<owner slug>:read
}

// Actor is who made or revoked a key.
type Actor struct {
	ID   uuid.UUID
	Name string
}

// CreateKey makes a key and audits it; the returned token is the only time
// the key exists outside its holder.
func CreateKey(ctx context.Context, db bun.IDB, by Actor, in NewKey) (*Key, string, error) {
	fields := map[string]string{}
	name := strings.TrimSpace(in.Name)
	switch {
	case name == "":
		fields["name"] = "Gi nøkkelen et navn, for eksempel systemet den er til."
	case len([]rune(name)) > 200:
		fields["name"] = "Navnet kan være høyst 200 tegn."
	}
	owner, err := uuid.Parse(in.OwnerID)
	var t []tenants.Tenant
	if err == nil {
		if t, err = tenants.ByIDs(ctx, db, []uuid.UUID{owner}); err != nil {
			return nil, "", err
		}
	}
	if len(t) != 1 {
		fields["owner"] = "Velg virksomheten som eier nøkkelen."
	}
	if !in.Records && !in.Tenant {
		fields["scopes"] = "Velg minst én tilgang."
	}
	if err := apperr.InvalidFields(fields); err != nil {
		return nil, "", err
	}
	var scopes []string
	if in.Records {
		scopes = append(scopes, ScopeRecords)
	}
	if in.Tenant {
		scopes = append(scopes, TenantScope(t[0].Slug))
	}
	token, prefix, err := newToken()
	if err != nil {
		return nil, "", err
	}
	var k Key
	err = adminTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		var id uuid.UUID
		if err := tx.NewRaw(`INSERT INTO api_keys (name, owner_tenant_id, scopes, prefix, hash, created_by)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, name, owner, pgdialect.Array(scopes), prefix, hashOf(token), by.ID).Scan(ctx, &id); err != nil {
			return err
		}
		if err := audit(ctx, tx, by, "api_key.created", id, fmt.Sprintf("%s (%s) for %s: %s", name, prefix, t[0].Name, strings.Join(scopes, " "))); err != nil {
			return err
		}
		return tx.NewRaw("SELECT "+keyColumns+"WHERE k.id = ?", id).Scan(ctx, &k)
	})
	if err != nil {
		return nil, "", err
	}
	return &k, token, nil
}

// Keys lists every key, those in force first, newest first.
func Keys(ctx context.Context, db bun.IDB) ([]Key, error) {
	var out []Key
	err := adminTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw("SELECT "+keyColumns+"ORDER BY k.revoked_at IS NOT NULL, k.created_at DESC").Scan(ctx, &out)
	})
	return out, err
}

// RevokeKey ends a key at once and audits it; revoking a revoked key changes nothing.
func RevokeKey(ctx context.Context, db bun.IDB, by Actor, id uuid.UUID) error {
	return adminTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		var k Key
		if err := tx.NewRaw("SELECT "+keyColumns+"WHERE k.id = ? FOR UPDATE OF k", id).Scan(ctx, &k); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return apperr.Default(apperr.NotFound)
			}
			return err
		}
		if k.RevokedAt != nil {
			return nil
		}
		if _, err := tx.ExecContext(ctx, "UPDATE api_keys SET revoked_by = ?, revoked_at = now() WHERE id = ?", by.ID, id); err != nil {
			return err
		}
		return audit(ctx, tx, by, "api_key.revoked", id, fmt.Sprintf("%s (%s)", k.Name, k.Prefix))
	})
}

func audit(ctx context.Context, tx bun.Tx, by Actor, action string, key uuid.UUID, details string) error {
	_, err := tx.ExecContext(ctx, "INSERT INTO api_key_audit (actor_id, actor_name, action, key_id, details) VALUES (?, ?, ?, ?, ?)",
		by.ID, by.Name, action, key, details)
	return err
}

// AuditEntry is one line of the keys' audit log.
type AuditEntry struct {
	At        time.Time `bun:"at"`
	ActorName string    `bun:"actor_name"`
	Action    string    `bun:"action"`
	Details   string    `bun:"details"`
}

// When is the entry's time as shown.
func (e *AuditEntry) When() string {
	return web.Date(e.At.In(web.Oslo)) + " " + e.At.In(web.Oslo).Format("15:04")
}

// ActionText is the action in Norwegian.
func (e *AuditEntry) ActionText() string {
	if e.Action == "api_key.revoked" {
		return "Nøkkel trukket tilbake"
	}
	return "Nøkkel opprettet"
}

// Audit lists the newest entries of the keys' audit log.
func Audit(ctx context.Context, db bun.IDB, limit int) ([]AuditEntry, error) {
	var out []AuditEntry
	err := adminTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw("SELECT at, actor_name, action, details FROM api_key_audit ORDER BY at DESC, id DESC LIMIT ?", limit).Scan(ctx, &out)
	})
	return out, err
}

// lookup finds the key in force that token is, through the api_key_lookup
// policy (the transaction names the hash, so it reads that row and no other).
// A key unknown or revoked is Unauthorized.
func lookup(ctx context.Context, db bun.IDB, token string) (*Key, error) {
	if !strings.HasPrefix(token, tokenPrefix) || len(token) > 100 {
		return nil, apperr.New(apperr.Unauthorized, "API-nøkkelen er ukjent eller trukket tilbake.")
	}
	var ks []Key
	err := db.RunInTx(ctx, &sql.TxOptions{ReadOnly: true}, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, "SELECT set_config('app.tenant_id', '', true), set_config('app.api_key_hash', ?, true)", hex.EncodeToString(hashOf(token))); err != nil {
			return err
		}
		return tx.NewRaw(`SELECT k.id, k.name, k.owner_tenant_id, t.name AS owner_name, t.slug AS owner_slug, k.scopes, k.prefix, k.created_by, k.created_at, k.revoked_at
			FROM api_keys k JOIN tenants t ON t.id = k.owner_tenant_id`).Scan(ctx, &ks)
	})
	if err != nil {
		return nil, err
	}
	if len(ks) != 1 || ks[0].RevokedAt != nil {
		return nil, apperr.New(apperr.Unauthorized, "API-nøkkelen er ukjent eller trukket tilbake.")
	}
	return &ks[0], nil
}
