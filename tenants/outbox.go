package tenants

import (
	"context"
	"encoding/json"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// Event is something someone should be told about (plan assigned, signature
// requested, goal approved, …). Emit writes it to the outbox in the
// transaction that made the change, so it exists exactly when the change does;
// the notifications module delivers it.
type Event struct {
	TenantID  uuid.UUID
	Topic     string    // "activity.signed": lower case, one dot
	Recipient uuid.UUID // the person to tell (uuid.Nil: nobody in particular)
	Payload   map[string]any
}

// Emit appends e to the outbox; tx must have e's tenant in force.
func Emit(ctx context.Context, tx bun.IDB, e Event) error {
	payload, err := json.Marshal(e.Payload)
	if err != nil {
		return err
	}
	if e.Payload == nil {
		payload = []byte("{}")
	}
	_, err = tx.ExecContext(ctx, "INSERT INTO outbox (tenant_id, topic, recipient_id, payload) VALUES (?, ?, ?, ?)",
		e.TenantID, e.Topic, actorPtr(e.Recipient), string(payload))
	return err
}
