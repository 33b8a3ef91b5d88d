// Package hook is a typed event hook: modules bind handlers to another
// module's events without importing its internals (after PocketBase's tools/hook).
package hook

import (
	"context"
	"sync"
)

// Hook holds the handlers bound to one event type.
type Hook[T any] struct {
	mu       sync.RWMutex
	handlers []func(ctx context.Context, e T) error
}

// Bind adds a handler; handlers run in the order they were bound.
func (h *Hook[T]) Bind(fn func(ctx context.Context, e T) error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.handlers = append(h.handlers, fn)
}

// Trigger runs every handler with e and stops at the first error, which it
// returns: a handler that fails inside the business transaction rolls it back.
func (h *Hook[T]) Trigger(ctx context.Context, e T) error {
	h.mu.RLock()
	hs := append([]func(context.Context, T) error(nil), h.handlers...)
	h.mu.RUnlock()
	for _, fn := range hs {
		if err := fn(ctx, e); err != nil {
			return err
		}
	}
	return nil
}
