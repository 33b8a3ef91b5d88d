// Package workers runs kportal's background jobs on asynq: queues by job class,
// the server, the scheduler, the tenant-aware handler wrapper and the mail task.
package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/uptrace/bun"

	"kportal/tenants"
)

// Queues by job class, with their priority weights: security mail first, bulk
// work (digests, imports) last, so a digest run never delays an invitation.
const (
	QueueCritical    = "critical"    // invitations, sign-in codes
	QueueMail        = "mail"        // immediate notifications
	QueueDefault     = "default"     // everything else
	QueueBulk        = "bulk"        // weekly digests, imports, exports
	QueueMaintenance = "maintenance" // cleanup of pending uploads and the like
)

// Queues is the weight of each queue for asynq.Config.
var Queues = map[string]int{
	QueueCritical:    6,
	QueueMail:        4,
	QueueDefault:     3,
	QueueBulk:        1,
	QueueMaintenance: 1,
}

// NewServer returns an asynq server for all queues.
func NewServer(redis asynq.RedisConnOpt, concurrency int, log *slog.Logger) *asynq.Server {
	return asynq.NewServer(redis, asynq.Config{
		Concurrency:     concurrency,
		Queues:          Queues,
		ShutdownTimeout: 20 * time.Second,
		Logger:          slogAdapter{log},
		RetryDelayFunc: func(n int, err error, t *asynq.Task) time.Duration {
			if errors.Is(err, asynq.ErrLeaseExpired) {
				return time.Second // its worker died: the lease has held it back a minute already
			}
			return asynq.DefaultRetryDelayFunc(n, err, t)
		},
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			retried, _ := asynq.GetRetryCount(ctx)
			max, _ := asynq.GetMaxRetry(ctx)
			log.Error("job failed", "type", t.Type(), "retry", retried, "max_retry", max, "error", err)
		}),
	})
}

// Oslo is where kportal's users live; schedules are in their time.
var Oslo = mustLoad("Europe/Oslo")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err) // embedded tzdata (cmd imports time/tzdata) makes this unreachable
	}
	return loc
}

// Schedule is a periodic job.
type Schedule struct {
	Cron string // in Europe/Oslo, e.g. "0 7 * * 3" (Wednesdays 07:00)
	Task *asynq.Task
	Opts []asynq.Option
}

// NewScheduler returns a scheduler in Oslo time with the given entries.
func NewScheduler(redis asynq.RedisConnOpt, log *slog.Logger, entries []Schedule) (*asynq.Scheduler, error) {
	s := asynq.NewScheduler(redis, &asynq.SchedulerOpts{Location: Oslo, Logger: slogAdapter{log}})
	for _, e := range entries {
		if _, err := s.Register(e.Cron, e.Task, e.Opts...); err != nil {
			return nil, fmt.Errorf("schedule %s %q: %w", e.Task.Type(), e.Cron, err)
		}
	}
	return s, nil
}

// TenantPayload is embedded in the payload of every tenant-scoped job.
type TenantPayload struct {
	TenantID uuid.UUID `json:"tenant_id"`
}

// InTenant wraps a tenant-scoped job handler: it decodes the payload into P,
// and runs fn inside WithTenantTx for the job's tenant, so row-level security
// holds in jobs as in requests. P must embed TenantPayload.
func InTenant[P interface{ Tenant() uuid.UUID }](db bun.IDB, fn func(ctx context.Context, tx bun.Tx, p P) error) asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error {
		var p P
		if err := json.Unmarshal(t.Payload(), &p); err != nil {
			return fmt.Errorf("%s: bad payload: %v: %w", t.Type(), err, asynq.SkipRetry)
		}
		if p.Tenant() == uuid.Nil {
			return fmt.Errorf("%s: payload has no tenant: %w", t.Type(), asynq.SkipRetry)
		}
		return tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: p.Tenant()}, func(ctx context.Context, tx bun.Tx) error {
			return fn(ctx, tx, p)
		})
	}
}

// Tenant returns the job's tenant.
func (p TenantPayload) Tenant() uuid.UUID { return p.TenantID }

type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...), "component", "asynq") }
func (a slogAdapter) Info(args ...any)  { a.l.Info(fmt.Sprint(args...), "component", "asynq") }
func (a slogAdapter) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...), "component", "asynq") }
func (a slogAdapter) Error(args ...any) { a.l.Error(fmt.Sprint(args...), "component", "asynq") }
func (a slogAdapter) Fatal(args ...any) {
	a.l.Error(fmt.Sprint(args...), "component", "asynq", "fatal", true)
}
