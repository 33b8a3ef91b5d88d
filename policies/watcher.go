package policies

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/casbin/casbin/v2/persist"
	"github.com/jackc/pgx/v5"
)

// Channel is the PostgreSQL notification channel casbin_rules' trigger
// notifies on every change.
const Channel = "kportal_policy"

// Watcher implements persist.Watcher over PostgreSQL LISTEN/NOTIFY: a
// connection of its own LISTENs on Channel and, for each notification, calls
// the update callback (a policy reload). Notifications that arrive while a
// reload runs are merged into one more reload. A dropped connection is
// reopened with backoff, followed by one reload, since notifications sent
// meanwhile are lost.
//
// Update sends nothing: the table's trigger notifies in the writing
// transaction, whoever writes.
type Watcher struct {
	dsn string
	log *slog.Logger

	mu       sync.Mutex
	callback func(string)
	started  bool

	changed chan string // capacity 1: a pending reload, merged
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

var _ persist.Watcher = (*Watcher)(nil)

// NewWatcher connects to dsn and LISTENs before returning, so every change
// committed after it returns is seen. Callbacks start with SetUpdateCallback;
// changes seen before then cause one call at that point.
func NewWatcher(ctx context.Context, dsn string, log *slog.Logger) (*Watcher, error) {
	if log == nil {
		log = slog.Default()
	}
	conn, err := listen(ctx, dsn)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	w := &Watcher{dsn: dsn, log: log, changed: make(chan string, 1), cancel: cancel}
	w.wg.Add(1)
	go w.receive(runCtx, conn)
	return w, nil
}

func listen(ctx context.Context, dsn string) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("policy watcher: connecting: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("policy watcher: LISTEN %s: %w", Channel, err)
	}
	return conn, nil
}

// signal records a change; if one is already pending, the two are one reload.
func (w *Watcher) signal(payload string) {
	select {
	case w.changed <- payload:
	default:
	}
}

// receive waits for notifications on conn, reconnecting when it drops.
func (w *Watcher) receive(ctx context.Context, conn *pgx.Conn) {
	defer w.wg.Done()
	defer func() {
		if conn != nil {
			closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
			conn.Close(closeCtx)
			cancel()
		}
	}()
	const minBackoff, maxBackoff = 100 * time.Millisecond, 5 * time.Second
	backoff := minBackoff
	for {
		if conn == nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			c, err := listen(ctx, w.dsn)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				backoff = min(2*backoff, maxBackoff)
				w.log.Warn("policy watcher: reconnecting failed", "error", err, "retry_in", backoff)
				continue
			}
			conn, backoff = c, minBackoff
			w.log.Info("policy watcher: listening again")
			w.signal("reconnect")
		}
		n, err := conn.WaitForNotification(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			w.log.Warn("policy watcher: connection lost", "error", err)
			closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
			conn.Close(closeCtx)
			cancel()
			conn = nil
			continue
		}
		w.signal(n.Payload)
	}
}

// dispatch calls the callback once per pending change.
func (w *Watcher) dispatch(ctx context.Context) {
	defer w.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case payload := <-w.changed:
			w.mu.Lock()
			cb := w.callback
			w.mu.Unlock()
			cb(payload)
		}
	}
}

// SetUpdateCallback sets what a change runs (typically a LoadPolicy); the
// first call starts the calls.
func (w *Watcher) SetUpdateCallback(cb func(string)) error {
	if cb == nil {
		return fmt.Errorf("policy watcher: nil callback")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.callback = cb
	if !w.started {
		w.started = true
		ctx, cancel := context.WithCancel(context.Background())
		prev := w.cancel
		w.cancel = func() { prev(); cancel() }
		w.wg.Add(1)
		go w.dispatch(ctx)
	}
	return nil
}

// Update does nothing: casbin_rules' trigger has already notified, in the
// transaction that changed the rules.
func (w *Watcher) Update() error { return nil }

// Close stops listening; no callback runs after it returns.
func (w *Watcher) Close() {
	w.mu.Lock()
	cancel := w.cancel
	w.mu.Unlock()
	cancel()
	w.wg.Wait()
}
