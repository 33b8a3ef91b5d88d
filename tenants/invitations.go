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
	return token, Audit(ctx, tx, &AuditEntry{TenantID: inv.TenantID, ActorID: inv.InvitedBy, ActorName: inv.InvitedByName,
		Action: AuditInvitationSent, SubjectName: inv.Email, Details: inv.Role})
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

// Invitee is who answers an invitation: the person, and the e-mail addresses
// their identity has verified (Kratos' verifiable addresses).
type Invitee struct {
	PersonID uuid.UUID
	Verified []string
}

// MayAccept reports whether the invitee has verified the address the
// invitation was sent to (compared without regard to case): the link alone,
// forwarded or seen by someone else, grants nothing.
func (i *Invitation) MayAccept(verified []string) bool {
	for _, a := range verified {
		if strings.EqualFold(strings.TrimSpace(a), i.Email) {
			return true
		}
	}
	return false
}

// MaskEmail shows enough of an address for its owner to know it
// ("k•••@demo.kportal.no") and little for anyone else.
func MaskEmail(email string) string {
	at := strings.LastIndex(email, "@")
	if at < 1 {
		return "•••"
	}
	first := []rune(email[:at])[0]
	return string(first) + "•••" + email[at:]
}

// AcceptInvitation gives the invitee the invited role, when they have
// verified the invited address. Accepting the first administrator invitation
// of a tenant that is being onboarded activates it.
func AcceptInvitation(ctx context.Context, db bun.IDB, token string, who Invitee) (*Invitation, *Tenant, error) {
	personID := who.PersonID
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
	if !inv.MayAccept(who.Verified) {
		return nil, nil, apperr.New(apperr.Forbidden, "Invitasjonen gjelder %s. For å godta den må du være logget inn med den e-postadressen, og adressen må være bekreftet.", MaskEmail(inv.Email))
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
		actor := Actor{PersonID: personID, Name: inv.Email}
		if err := Audit(ctx, tx, &AuditEntry{TenantID: t.ID, ActorID: &personID, ActorName: inv.Email, Action: AuditInvitationAccepted,
			SubjectID: &personID, Details: inv.Role + " (invitert av " + inv.InvitedByName + ")"}); err != nil {
			return err
		}
		if inv.LisID != nil {
			if err := SetRelation(ctx, tx, t.ID, *inv.LisID, inv.Role, personID, actor); err != nil {
				return err
			}
		} else if err := GrantRole(ctx, tx, t.ID, personID, inv.Role, actor); err != nil {
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
		return Audit(ctx, tx, &AuditEntry{TenantID: scope.TenantID, ActorID: actorPtr(scope.PersonID), Action: AuditInvitationRevoked, Details: id.String()})
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
		inv = Invitation{TenantID: scope.TenantID, Email: old.Email, Role: old.Role, InvitedByName: byName, LisID: old.LisID}
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

// InviteForLIS stores an invitation from a LIS to their leder, veileder or a
// supervisor, in the LIS's tenant. One invitation per role, also when one
// person holds several: a second open leder or veileder invitation is
// refused, as is a second open supervisor invitation to the same address.
func InviteForLIS(ctx context.Context, db bun.IDB, tenantID uuid.UUID, lis Actor, email, role string) (*Invitation, string, error) {
	if !IsRelationKind(role) {
		return nil, "", apperr.InvalidFields(map[string]string{"role": "Velg leder, veileder eller supervisør."})
	}
	email, err := CheckEmail(email)
	if err != nil {
		return nil, "", apperr.InvalidFields(map[string]string{"email": apperr.MessageOf(err)})
	}
	inv := &Invitation{TenantID: tenantID, Email: email, Role: role, InvitedBy: &lis.PersonID, InvitedByName: lis.Name, LisID: &lis.PersonID}
	var token string
	err = WithTenantTx(ctx, db, Scope{TenantID: tenantID, PersonID: lis.PersonID}, func(ctx context.Context, tx bun.Tx) error {
		// Serialise invitations of one LIS, so two clicks cannot both pass the check.
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext(?))", "invite:"+lis.PersonID.String()); err != nil {
			return err
		}
		var open []Invitation
		if err := tx.NewSelect().Model(&open).
			Where("tenant_id = ? AND lis_id = ? AND role = ? AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()", tenantID, lis.PersonID, role).
			Scan(ctx); err != nil {
			return err
		}
		for _, o := range open {
			if role != RelSupervisor {
				return apperr.New(apperr.Conflict, "Du har allerede en aktiv invitasjon til %s (%s). Trekk den tilbake eller send den på nytt før du inviterer en annen.", strings.ToLower(roleLabel(role)), o.Email)
			}
			if o.Email == email {
				return apperr.New(apperr.Conflict, "%s er allerede invitert som supervisør. Du kan sende invitasjonen på nytt.", email)
			}
		}
		var err error
		token, err = CreateInvitation(ctx, tx, inv)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return inv, token, nil
}

// InvitationsFrom lists the invitations a LIS has sent in a tenant, newest first.
func InvitationsFrom(ctx context.Context, db bun.IDB, tenantID, lisID uuid.UUID) ([]Invitation, error) {
	var out []Invitation
	err := WithTenantTx(ctx, db, Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewSelect().Model(&out).Where("tenant_id = ? AND lis_id = ?", tenantID, lisID).Order("created_at DESC").Scan(ctx)
	})
	return out, err
}

// OwnInvitation loads an invitation the LIS sent, or not found.
func OwnInvitation(ctx context.Context, db bun.IDB, tenantID, lisID, id uuid.UUID) (*Invitation, error) {
	inv := new(Invitation)
	err := WithTenantTx(ctx, db, Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewSelect().Model(inv).Where("tenant_id = ? AND id = ? AND lis_id = ?", tenantID, id, lisID).Scan(ctx)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.Default(apperr.NotFound)
	}
	return inv, err
}

func roleLabel(role string) string {
	return map[string]string{"lis": "LIS", "leder": "Leder", "veileder": "Veileder", "supervisor": "Supervisør", "uao": "UAO", "tenant_admin": "Administrator"}[role]
}
