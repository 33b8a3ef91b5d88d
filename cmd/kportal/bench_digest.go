package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/uptrace/bun"

	"kportal/modules/notifications"
	"kportal/tenants"
	"kportal/workers"
)

func init() { scenarios["digest"] = bench{run: benchDigest, writes: true} }

// benchDigest runs the weekly summary for every person with a membership in
// the database (the national data set: 40,000) into an SMTP sink in this
// process (not maildev, which 40,000 e-mails would bury for everyone else),
// with the job worker in this process too, and compares with asynq's own
// throughput for an empty task on the same Redis, server and concurrency.
// Each run gives every person one new summary item (an outbox event and its
// delivery, marked relayed) and summarises a week no earlier run used.
func benchDigest(ctx context.Context, cfg *config) ([][2]string, error) {
	cfg.LogLevel = "error"
	a, err := open(ctx, cfg, false)
	if err != nil {
		return nil, err
	}
	defer a.close()
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	in := asynq.NewInspector(a.redis)
	defer in.Close()
	if servers, err := in.Servers(); err != nil {
		return nil, err
	} else if len(servers) > 0 {
		return nil, fmt.Errorf("%d asynq worker(s) already use Redis DB %d and would take the bench's jobs: set KPORTAL_REDIS_DB to a free one", len(servers), cfg.RedisDB)
	}

	sink, err := newSMTPSink()
	if err != nil {
		return nil, err
	}
	defer sink.close()
	mailer, err := workers.NewMailer("smtp://"+sink.addr+"/?disable_starttls=true", cfg.MailFrom)
	if err != nil {
		return nil, err
	}
	mod := notifications.New(a.db, nil, mailer, a.queue, cfg.BaseURL)

	var noops atomic.Int64
	mux := asynq.NewServeMux()
	mod.Tasks(mux)
	mux.HandleFunc("bench:noop", func(context.Context, *asynq.Task) error { noops.Add(1); return nil })
	srv := workers.NewServer(a.redis, cfg.Concurrency, quiet)
	if err := srv.Start(mux); err != nil {
		return nil, err
	}
	defer srv.Shutdown()

	var tenantIDs []uuid.UUID
	if err := a.db.NewSelect().Table("tenants").Column("id").Scan(ctx, &tenantIDs); err != nil {
		return nil, err
	}
	users, err := digestItems(ctx, a.db, tenantIDs)
	if err != nil {
		return nil, err
	}
	if users == 0 {
		return nil, fmt.Errorf("no people with a membership: seed the national data set first (kportal seed --national)")
	}
	clock, err := freeWeek(ctx, a.db, tenantIDs)
	if err != nil {
		return nil, err
	}
	mod.SetClock(func() time.Time { return clock })

	// asynq alone: the same number of empty tasks, queued from 8 goroutines
	// as the run queues its summaries, on the same server.
	start := time.Now()
	var wg sync.WaitGroup
	var enqueueErr atomic.Value
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < users; i += 8 {
				if _, err := a.queue.EnqueueContext(ctx, asynq.NewTask("bench:noop", nil, asynq.Queue(workers.QueueBulk))); err != nil {
					enqueueErr.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := enqueueErr.Load().(error); err != nil {
		return nil, err
	}
	if err := waitCount(ctx, func() int64 { return noops.Load() }, int64(users), 10*time.Minute); err != nil {
		return nil, fmt.Errorf("empty tasks: %w", err)
	}
	noopSeconds := time.Since(start).Seconds()

	if path := os.Getenv("KPORTAL_BENCH_CPUPROFILE"); path != "" { // the summaries' part
		f, err := os.Create(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	start = time.Now()
	queued, err := mod.RunDigest(ctx)
	if err != nil {
		return nil, err
	}
	runSeconds := time.Since(start).Seconds()
	if err := waitCount(ctx, func() int64 { return sink.messages.Load() }, int64(queued), 15*time.Minute); err != nil {
		return nil, fmt.Errorf("summaries: %w", err)
	}
	seconds := time.Since(start).Seconds()
	time.Sleep(time.Second) // a summary sent twice would arrive by now
	// The summaries' ids are kept for a week after (digestRetention); a bench
	// need not leave 40,000 of them in a shared Redis.
	_, _ = in.DeleteAllCompletedTasks(workers.QueueBulk)
	return [][2]string{
		{"users", fmt.Sprint(users)},
		{"seconds", fmt.Sprintf("%.1f", seconds)},
		{"emails_per_s", fmt.Sprintf("%.0f", float64(sink.messages.Load())/seconds)},
		{"asynq_noop_per_s", fmt.Sprintf("%.0f", float64(users)/noopSeconds)},
		{"claim_and_queue_s", fmt.Sprintf("%.1f", runSeconds)},
		{"emails", fmt.Sprint(sink.messages.Load())},
		{"duplicates", fmt.Sprint(sink.duplicates())},
		{"concurrency", fmt.Sprint(cfg.Concurrency)},
	}, nil
}

// digestItems gives every person with a membership one summary item in one of
// their tenants (an activity signed, relayed already) and returns how many
// people that is.
func digestItems(ctx context.Context, db *bun.DB, ids []uuid.UUID) (int, error) {
	for _, id := range ids {
		err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: id}, func(ctx context.Context, tx bun.Tx) error {
			_, err := tx.ExecContext(ctx, `WITH people AS (
					SELECT DISTINCT m.person_id FROM memberships m WHERE m.tenant_id = ?0
					  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.tenant_id = ?0 AND d.recipient_id = m.person_id AND d.digest AND d.digest_week IS NULL)),
				ev AS (
					INSERT INTO outbox (tenant_id, topic, recipient_id, payload, delivered_at)
					SELECT ?0, 'activity.signed', person_id, '{"bench": true}', now() FROM people
					RETURNING tenant_id, id, recipient_id, at),
				ins AS (
					INSERT INTO deliveries (tenant_id, event_id, recipient_id, type, title, link, created_at, home, email, digest)
					SELECT tenant_id, id, recipient_id, 'activity.signed', 'Supervisøren har signert «Appendektomi» (bench)', '/t/bench/aktiviteter', at, false, false, true FROM ev
					RETURNING 1)
				SELECT count(*) FROM ins`, id)
			return err
		})
		if err != nil {
			return 0, err
		}
	}
	// People in several tenants get one summary: count people, not items.
	return countMembers(ctx, db, ids)
}

// countMembers counts the distinct people with a membership in any tenant.
func countMembers(ctx context.Context, db *bun.DB, ids []uuid.UUID) (int, error) {
	seen := map[uuid.UUID]bool{}
	for _, id := range ids {
		var people []uuid.UUID
		err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: id}, func(ctx context.Context, tx bun.Tx) error {
			return tx.NewRaw("SELECT DISTINCT person_id FROM memberships WHERE tenant_id = ?", id).Scan(ctx, &people)
		})
		if err != nil {
			return 0, err
		}
		for _, p := range people {
			seen[p] = true
		}
	}
	return len(seen), nil
}

// freeWeek is a Wednesday 07:00 in Oslo of a week no earlier run used (from
// 2030 on, so a bench never takes a real week): every run sends everyone a
// summary, so the weeks one person has summaries for are the weeks used.
func freeWeek(ctx context.Context, db *bun.DB, tenantIDs []uuid.UUID) (time.Time, error) {
	var person uuid.UUID
	for _, id := range tenantIDs {
		var ps []uuid.UUID
		err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: id}, func(ctx context.Context, tx bun.Tx) error {
			return tx.NewRaw("SELECT person_id FROM memberships WHERE tenant_id = ? LIMIT 1", id).Scan(ctx, &ps)
		})
		if err != nil {
			return time.Time{}, err
		}
		if len(ps) > 0 {
			person = ps[0]
			break
		}
	}
	var used []string
	err := tenants.WithTenantTx(ctx, db, tenants.Scope{PersonID: person}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw("SELECT week FROM digests WHERE person_id = ?", person).Scan(ctx, &used)
	})
	if err != nil {
		return time.Time{}, err
	}
	for c := time.Date(2030, 1, 2, 7, 0, 0, 0, workers.Oslo); ; c = c.AddDate(0, 0, 7) {
		if !slices.Contains(used, notifications.Week(c)) {
			return c, nil
		}
	}
}

func waitCount(ctx context.Context, count func() int64, want int64, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for count() < want {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d after %s", count(), want, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// smtpSink is the least SMTP server net/smtp talks to: it accepts every
// message, counts them and the recipients it saw more than once.
type smtpSink struct {
	ln       net.Listener
	addr     string
	messages atomic.Int64
	mu       sync.Mutex
	seen     map[string]int
}

func newSMTPSink() (*smtpSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &smtpSink{ln: ln, addr: ln.Addr().String(), seen: map[string]int{}}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s, nil
}

func (s *smtpSink) close() { s.ln.Close() }

func (s *smtpSink) duplicates() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.seen {
		if c > 1 {
			n += c - 1
		}
	}
	return n
}

func (s *smtpSink) serve(c net.Conn) {
	defer c.Close()
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	say := func(line string) { w.WriteString(line + "\r\n"); w.Flush() }
	say("220 sink")
	var rcpt string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250 sink")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			rcpt = strings.ToLower(strings.TrimSpace(line[8:]))
			say("250 ok")
		case cmd == "DATA":
			say("354 go on")
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return // cut off before the end: no message, as in any SMTP server
				}
				if l == ".\r\n" || l == ".\n" {
					break
				}
			}
			s.mu.Lock()
			s.seen[rcpt]++
			s.mu.Unlock()
			s.messages.Add(1)
			say("250 queued")
		case cmd == "QUIT":
			say("221 bye")
			return
		default:
			say("250 ok")
		}
	}
}
