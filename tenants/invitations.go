package tenants

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/mail"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/apperr"
)

// InvitationTTL is how long an invitation link works.
const InvitationTTL = 14 * 24 * time.Hour

// Invitation asks someone, by e-mail, to take a role in a tenant. Only the
// sha256 of the link's token is stored.
type Invitation struct {
	bun.BaseModel `bun:"table:invitations"`

	TenantID      uuid.UUID  `bun:"tenant_id,pk,type:uuid"`
	ID            uuid.UUID  `bun:"id,pk,type:uuid,default:gen_random_uuid()"`
	Email         string     `bun:"email"`
	Role          string     `bun:"role"`
	TokenHash     string     `bun:"token_hash"`
	InvitedBy     *uuid.UUID `bun:"invited_by,type:uuid"`
	InvitedByName string     `bun:"invited_by_name"`
	CreatedAt     time.Time  `bun:"created_at,nullzero,default:now()"`
	ExpiresAt     time.Time  `bun:"expires_at"`
	AcceptedAt    *time.Time `bun:"accepted_at"`
	AcceptedBy    *uuid.UUID `bun:"accepted_by,type:uuid"`
	RevokedAt     *time.Time `bun:"revoked_at"`
	// LisID is the LIS who invited their leder, veileder or a supervisor:
	// accepting creates that relation.
	LisID *uuid.UUID `bun:"lis_id,type:uuid"`
}

// Invitation states, derived from the timestamps.
const (
	InvitationPending  = "pending"
	InvitationAccepted = "accepted"
	InvitationRevoked  = "revoked"
	InvitationExpired  = "expired"
)

// State is where the invitation stands at now.
func (i *Invitation) State(now time.Time) string {
	switch {
	case i.AcceptedAt != nil:
		return InvitationAccepted
	case i.RevokedAt != nil:
		return InvitationRevoked
	case !now.Before(i.ExpiresAt):
		return InvitationExpired
	}
	return InvitationPending
}

// StateText is the state in Norwegian.
func (i *Invitation) StateText() string {
	return map[string]string{
		InvitationPending: "Venter på svar", InvitationAccepted: "Godtatt",
		InvitationRevoked: "Trukket tilbake", InvitationExpired: "Utløpt",
	}[i.State(time.Now())]
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CheckEmail normalises an e-mail address or says in Norwegian what is wrong.
func CheckEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || !strings.Contains(s[strings.LastIndex(s, "@")+1:], ".") {
		return "", apperr.New(apperr.Invalid, "%q er ikke en gyldig e-postadresse.", s)
	}
	return strings.ToLower(s), nil
}

// CreateInvitation stores inv in the tenant in force in tx (inv.TenantID) and
// returns the secret token for the link; it is never stored or shown again.
func CreateInvitation(ctx context.Context, tx bun.Tx, inv *Invitation) (string, error) {
	email, err := CheckEmail(inv.Email)
	if err != nil {
		return "", err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	inv.Email, inv.TokenHash = email, hashToken(token)
	if inv.ExpiresAt.IsZero() {
		inv.ExpiresAt = time.Now().Add(InvitationTTL)
	}
	if _, err := tx.NewInsert().Model(inv).Returning("*").Exec(ctx); err != nil {
		return "", err
	}
	return token, nil
}

// InvitationByToken finds the invitation a link's token belongs to, and its
// tenant, without knowing the tenant: the token itself opens that one row.
func InvitationByToken(ctx context.Context, db bun.IDB, token string) (*Invitation, *Tenant, error) {
	inv, t := new(Invitation), new(Tenant)
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, "SELECT set_config('app.invitation_token', ?, true)", hashToken(token)); err != nil {
			return err
		}
		if err := tx.NewSelect().Model(inv).Where("token_hash = ?", hashToken(token)).Scan(ctx); err != nil {
			return err
		}
		return tx.NewSelect().Model(t).Where("id = ?", inv.TenantID).Scan(ctx)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, apperr.New(apperr.NotFound, "Invitasjonen finnes ikke. Sjekk at du brukte hele lenken fra e-posten.")
	}
	if err != nil {
		return nil, nil, err
	}
	return inv, t, nil
}

// AcceptInvitation gives the person the invited role. Accepting the first
// administrator invitation of a tenant that is being onboarded activates it.
func AcceptInvitation(ctx context.Context, db bun.IDB, token string, personID uuid.UUID) (*Invitation, *Tenant, error) {
	inv, t, err := InvitationByToken(ctx, db, token)
	if err != nil {
		return nil, nil, err
	}
	switch inv.State(time.Now()) {
	case InvitationAccepted:
		if inv.AcceptedBy != nil && *inv.AcceptedBy == personID {
			return inv, t, nil // a second click on the same link
		}
		return nil, nil, apperr.New(apperr.Conflict, "Invitasjonen er allerede brukt.")
	case InvitationRevoked:
		return nil, nil, apperr.New(apperr.Conflict, "Invitasjonen er trukket tilbake. Be den som inviterte deg om en ny.")
	case InvitationExpired:
		return nil, nil, apperr.New(apperr.Conflict, "Invitasjonen er utløpt. Be den som inviterte deg om en ny.")
	}
	if t.Status == StatusSuspended {
		return nil, nil, apperr.New(apperr.Conflict, "%s er midlertidig stengt i kportal, så invitasjonen kan ikke brukes nå.", t.Name)
	}
	err = WithTenantTx(ctx, db, Scope{TenantID: t.ID, PersonID: personID}, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*Invitation)(nil)).
			Set("accepted_at = now(), accepted_by = ?", personID).
			Where("tenant_id = ? AND id = ? AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()", t.ID, inv.ID).
			Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.Conflict, "Invitasjonen ble endret mens du svarte. Last siden på nytt.")
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO memberships (tenant_id, person_id, role) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
			t.ID, personID, inv.Role); err != nil {
			return err
		}
		if inv.Role == "tenant_admin" && t.Status == StatusPending {
			if _, err := tx.ExecContext(ctx, "UPDATE tenants SET status = 'active', status_changed_at = now(), status_reason = '' WHERE id = ? AND status = 'pending'", t.ID); err != nil {
				return err
			}
			t.Status = StatusActive
		}
		return tx.NewSelect().Model(inv).WherePK().Scan(ctx)
	})
	if err != nil {
		return nil, nil, err
	}
	return inv, t, nil
}

// Invitations lists a tenant's invitations, newest first.
func Invitations(ctx context.Context, db bun.IDB, tenantID uuid.UUID) ([]Invitation, error) {
	var out []Invitation
	err := WithTenantTx(ctx, db, Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewSelect().Model(&out).Where("tenant_id = ?", tenantID).Order("created_at DESC").Scan(ctx)
	})
	return out, err
}

// RevokeInvitation withdraws a pending invitation in the scope's tenant.
func RevokeInvitation(ctx context.Context, db bun.IDB, scope Scope, id uuid.UUID) error {
	return WithTenantTx(ctx, db, scope, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*Invitation)(nil)).Set("revoked_at = now()").
			Where("tenant_id = ? AND id = ? AND accepted_at IS NULL AND revoked_at IS NULL", scope.TenantID, id).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return apperr.New(apperr.NotFound, "Fant ingen åpen invitasjon å trekke tilbake.")
		}
		return nil
	})
}

// Reinvite revokes every pending invitation of the same e-mail and role in the
// scope's tenant and creates a new one (a fresh link and expiry), in one
// transaction. It returns the new invitation and its token.
func Reinvite(ctx context.Context, db bun.IDB, scope Scope, id uuid.UUID, byName string) (*Invitation, string, error) {
	var inv Invitation
	var token string
	err := WithTenantTx(ctx, db, scope, func(ctx context.Context, tx bun.Tx) error {
		var old Invitation
		err := tx.NewSelect().Model(&old).Where("tenant_id = ? AND id = ?", scope.TenantID, id).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.Default(apperr.NotFound)
		}
		if err != nil {
			return err
		}
		if old.AcceptedAt != nil {
			return apperr.New(apperr.Conflict, "Invitasjonen er allerede godtatt.")
		}
		if _, err := tx.NewUpdate().Model((*Invitation)(nil)).Set("revoked_at = now()").
			Where("tenant_id = ? AND lower(email) = lower(?) AND role = ? AND accepted_at IS NULL AND revoked_at IS NULL", scope.TenantID, old.Email, old.Role).
			Exec(ctx); err != nil {
			return err
		}
		inv = Invitation{TenantID: scope.TenantID, Email: old.Email, Role: old.Role, InvitedByName: byName}
		if scope.PersonID != uuid.Nil {
			inv.InvitedBy = &scope.PersonID
		}
		token, err = CreateInvitation(ctx, tx, &inv)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return &inv, token, nil
}
