package testenv

import (
	"fmt"
	"maps"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
)

// WaitQueuesDrained waits until no asynq queue in redis holds a pending,
// active, scheduled or retrying task, and fails the test after limit. It is
// how a test proves that nothing more will happen: once the queues are
// drained, every job has run to its end (its e-mail handed to the SMTP server)
// and no retry is waiting. Completed and archived tasks do not count.
//
// One look at each queue is not enough: a task of one queue may queue another
// in a queue already looked at, and finish before the next is looked at. So
// the queues count as drained only when two looks in a row find them empty
// with the same number of tasks processed, i.e. nothing ran in between.
func WaitQueuesDrained(t testing.TB, redis asynq.RedisConnOpt, limit time.Duration) {
	t.Helper()
	in := asynq.NewInspector(redis)
	defer in.Close()
	deadline := time.Now().Add(limit)
	var last map[string]int // queue → tasks processed, when all were empty
	for {
		busy, processed, err := queueState(in)
		if err != nil {
			t.Fatalf("asynq queues: %v", err)
		}
		if len(busy) == 0 && last != nil && maps.Equal(last, processed) {
			return
		}
		last = nil
		if len(busy) == 0 {
			last = processed
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for the job queues to drain; still %s%s", limit, strings.Join(busy, ", "), retrying(in))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// queueState returns what each queue still holds ("mail: 1 pending") and how
// many tasks each has processed in all.
func queueState(in *asynq.Inspector) (busy []string, processed map[string]int, err error) {
	names, err := in.Queues()
	if err != nil {
		return nil, nil, err
	}
	sort.Strings(names)
	processed = map[string]int{}
	for _, q := range names {
		qi, err := in.GetQueueInfo(q)
		if err != nil {
			return nil, nil, err
		}
		processed[q] = qi.ProcessedTotal
		for _, c := range []struct {
			n    int
			what string
		}{{qi.Pending, "pending"}, {qi.Active, "active"}, {qi.Scheduled, "scheduled"}, {qi.Retry, "retry"}, {qi.Aggregating, "aggregating"}} {
			if c.n > 0 {
				busy = append(busy, fmt.Sprintf("%s: %d %s", q, c.n, c.what))
			}
		}
	}
	return busy, processed, nil
}

// retrying says which tasks wait for a retry and why, for the failure message.
func retrying(in *asynq.Inspector) string {
	names, _ := in.Queues()
	var out []string
	for _, q := range names {
		tasks, _ := in.ListRetryTasks(q, asynq.PageSize(5))
		for _, ti := range tasks {
			out = append(out, fmt.Sprintf("%s %s (retry %d at %s: %s)", q, ti.Type, ti.Retried, ti.NextProcessAt.Format(time.TimeOnly), ti.LastErr))
		}
	}
	if len(out) == 0 {
		return ""
	}
	return "; retrying: " + strings.Join(out, "; ")
}
