package testenv_test

import (
	"context"
	"io"
	"log/slog"
	"net/smtp"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"kportal/storage/testenv"
	"kportal/workers"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The queues are drained only when a task due later has run, and so has the
// task it queued in another queue.
func TestHardeningWaitQueuesDrainedWaitsForLateAndChainedTasks(t *testing.T) {
	env := testenv.Get(t)
	redis := asynq.RedisClientOpt{Addr: testenv.RedisAddr, DB: env.RedisDB}
	q := asynq.NewClient(redis)
	defer q.Close()
	var late, chained atomic.Int32
	mux := asynq.NewServeMux()
	mux.HandleFunc("test:late", func(ctx context.Context, _ *asynq.Task) error {
		late.Add(1)
		_, err := q.EnqueueContext(ctx, asynq.NewTask("test:chained", nil), asynq.Queue(workers.QueueBulk))
		return err
	})
	mux.HandleFunc("test:chained", func(context.Context, *asynq.Task) error {
		time.Sleep(300 * time.Millisecond) // a job that takes a while
		chained.Add(1)
		return nil
	})
	srv := workers.NewServer(redis, 2, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	if _, err := q.Enqueue(asynq.NewTask("test:late", nil), asynq.Queue(workers.QueueMail), asynq.ProcessIn(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	testenv.WaitQueuesDrained(t, redis, 30*time.Second)
	if late.Load() != 1 || chained.Load() != 1 {
		t.Fatalf("drained with late %d, chained %d; want 1 and 1", late.Load(), chained.Load())
	}
}

// After SyncMail, maildev lists what was handed to it before.
func TestHardeningSyncMailListsWhatWasSentBefore(t *testing.T) {
	u, err := url.Parse(testenv.SMTPURL)
	if err != nil {
		t.Fatal(err)
	}
	to := testenv.UniqueEmail("foer")
	for i := 0; i < 3; i++ {
		msg := "From: test@kportal.localhost\r\nTo: " + to + "\r\nSubject: foer\r\n\r\nfoer\r\n"
		if err := smtp.SendMail(u.Host, nil, "test@kportal.localhost", []string{to}, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	testenv.SyncMail(t)
	if n := len(testenv.MailsTo(t, to)); n != 3 {
		t.Fatalf("maildev lists %d of the 3 e-mails sent before the marker", n)
	}
}
