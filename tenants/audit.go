package tenants

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// AuditEntry is one security-relevant event in a tenant: role changes,
// invitations, delegations, sign-ins. The table is append-only for kportal.
type AuditEntry struct {
	bun.BaseModel `bun:"table:audit_log"`

	TenantID    uuid.UUID  `bun:"tenant_id,pk,type:uuid"`
	ID          int64      `bun:"id,pk,autoincrement"`
	At          time.Time  `bun:"at,nullzero,default:now()"`
	ActorID     *uuid.UUID `bun:"actor_id,type:uuid"`
	ActorName   string     `bun:"actor_name"`
	Action      string     `bun:"action"`
	SubjectID   *uuid.UUID `bun:"subject_id,type:uuid"`
	SubjectName string     `bun:"subject_name"`
	Details     string     `bun:"details"`
}

// Audit actions.
const (
	AuditRoleGranted         = "role.granted"
	AuditRoleRevoked         = "role.revoked"
	AuditRelationAdded       = "relation.added"
	AuditRelationRemoved     = "relation.removed"
	AuditInvitationSent      = "invitation.sent"
	AuditInvitationAccepted  = "invitation.accepted"
	AuditInvitationRevoked   = "invitation.revoked"
	AuditDelegationGranted   = "delegation.granted"
	AuditDelegationRevoked   = "delegation.revoked"
	AuditTenantEntered       = "tenant.entered"
	AuditTenantOnboarded     = "tenant.onboarded"
	AuditTenantSuspended     = "tenant.suspended"
	AuditTenantReopened      = "tenant.reopened"
	AuditPersonImported      = "person.imported"
	AuditPersonDetailsEdited = "person.edited"
	AuditDocumentOpened      = "document.downloaded" // a LIS's document opened by someone else
	AuditTransferRegistered  = "transfer.registered"
	AuditTransferCancelled   = "transfer.cancelled"
	AuditTransferDone        = "transfer.done" // at the new workplace
	AuditTransferLeft        = "transfer.left" // at the old workplace
	AuditTransferReturned    = "transfer.returned"
)

// ActionText is an audit action in Norwegian.
func (e *AuditEntry) ActionText() string {
	if s, ok := auditTexts[e.Action]; ok {
		return s
	}
	return e.Action
}

var auditTexts = map[string]string{
	AuditRoleGranted: "Rolle gitt", AuditRoleRevoked: "Rolle fjernet",
	AuditRelationAdded: "Relasjon lagt til", AuditRelationRemoved: "Relasjon fjernet",
	AuditInvitationSent: "Invitasjon sendt", AuditInvitationAccepted: "Invitasjon godtatt", AuditInvitationRevoked: "Invitasjon trukket tilbake",
	AuditDelegationGranted: "Godkjenning delegert", AuditDelegationRevoked: "Delegering trukket tilbake",
	AuditTransferRegistered: "Arbeidsstedsbytte registrert", AuditTransferCancelled: "Arbeidsstedsbytte avlyst",
	AuditTransferDone: "LIS begynt (arbeidsstedsbytte)", AuditTransferLeft: "LIS sluttet (arbeidsstedsbytte)",
	AuditTransferReturned: "Ventende arbeid returnert til LIS etter flytting",
	AuditTenantEntered:    "Innlogget i virksomheten", AuditTenantOnboarded: "Virksomheten tatt i bruk",
	AuditTenantSuspended: "Virksomheten stengt", AuditTenantReopened: "Virksomheten åpnet igjen",
	AuditPersonImported: "Person importert", AuditPersonDetailsEdited: "Personopplysninger endret",
	AuditDocumentOpened: "Dokument åpnet",
}

// Audit appends an entry; db must have the entry's tenant in force (a
// transaction of WithTenantTx), so it is written with what it records.
func Audit(ctx context.Context, db bun.IDB, e *AuditEntry) error {
	_, err := db.NewInsert().Model(e).ExcludeColumn("id").Returning("id, at").Exec(ctx)
	return err
}

// AuditLog lists a tenant's newest entries first; before (an id) pages back.
func AuditLog(ctx context.Context, db bun.IDB, tenantID uuid.UUID, before int64, limit int) ([]AuditEntry, error) {
	var out []AuditEntry
	err := WithTenantTx(ctx, db, Scope{TenantID: tenantID}, func(ctx context.Context, tx bun.Tx) error {
		q := tx.NewSelect().Model(&out).Where("tenant_id = ?", tenantID).Order("id DESC").Limit(int64(limit))
		if before > 0 {
			q = q.Where("id < ?", before)
		}
		return q.Scan(ctx)
	})
	return out, err
}

// actorPtr is a person id as the nullable column wants it.
func actorPtr(id uuid.UUID) *uuid.UUID {
	if id == uuid.Nil {
		return nil
	}
	return &id
}

// Entries records that people entered a tenant (the audit log's sign-ins to a
// tenant): once per person and tenant within Every, per process, so a busy
// day is a line, not thousands.
type Entries struct {
	DB    bun.IDB
	Every time.Duration

	mu   sync.Mutex
	seen map[[2]uuid.UUID]time.Time
}

// Record notes that person entered tenant, unless it did so recently.
func (e *Entries) Record(ctx context.Context, tenantID uuid.UUID, person Actor) error {
	key, now := [2]uuid.UUID{tenantID, person.PersonID}, time.Now()
	e.mu.Lock()
	if e.seen == nil || len(e.seen) > 100_000 {
		e.seen = map[[2]uuid.UUID]time.Time{}
	}
	last, ok := e.seen[key]
	if ok && now.Sub(last) < e.Every {
		e.mu.Unlock()
		return nil
	}
	e.seen[key] = now
	e.mu.Unlock()
	err := WithTenantTx(ctx, e.DB, Scope{TenantID: tenantID, PersonID: person.PersonID}, func(ctx context.Context, tx bun.Tx) error {
		return Audit(ctx, tx, &AuditEntry{TenantID: tenantID, ActorID: &person.PersonID, ActorName: person.Name, Action: AuditTenantEntered})
	})
	if err != nil {
		e.mu.Lock()
		delete(e.seen, key) // try again on the next request
		e.mu.Unlock()
	}
	return err
}
