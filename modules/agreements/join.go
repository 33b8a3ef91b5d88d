package agreements

import (
	"context"

	"kportal/tenants"
)

// TopicToSign tells a new administrator of a kommune that has not signed the
// databehandleravtale that it waits for them (notifications).
const TopicToSign = "agreement.to_sign"

func init() {
	// In the transaction that grants the role (tenants.GrantRole,
	// AddMembership), with the tenant in force.
	tenants.Joined.Bind(func(ctx context.Context, j tenants.Join) error {
		if j.Role != "tenant_admin" {
			return nil
		}
		var due bool
		if err := j.Tx.NewRaw(`SELECT kind = 'kommune' AND NOT EXISTS (SELECT 1 FROM agreement_signatures WHERE tenant_id = t.id)
			FROM tenants t WHERE t.id = ?`, j.TenantID).Scan(ctx, &due); err != nil || !due {
			return err
		}
		return tenants.Emit(ctx, j.Tx, tenants.Event{TenantID: j.TenantID, Topic: TopicToSign, Recipient: j.PersonID})
	})
}
