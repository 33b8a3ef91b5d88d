package workers

import (
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

// QueueCollector exports asynq's queue figures (read from Redis at scrape
// time), so any kportal process shows the state of every worker.
type QueueCollector struct {
	in                                     *asynq.Inspector
	size, pending, active, retry, archived *prometheus.Desc
	processed, failed                      *prometheus.Desc
}

// NewQueueCollector returns a collector over in.
func NewQueueCollector(in *asynq.Inspector) *QueueCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("kportal_jobs_"+name, help, []string{"queue"}, nil)
	}
	return &QueueCollector{
		in:        in,
		size:      d("queue_size", "Jobs in the queue, in any state."),
		pending:   d("pending", "Jobs waiting to run."),
		active:    d("active", "Jobs running now."),
		retry:     d("retry", "Jobs waiting for a retry."),
		archived:  d("archived", "Jobs that gave up."),
		processed: d("processed_total", "Jobs processed (succeeded or failed)."),
		failed:    d("failed_total", "Jobs that failed."),
	}
}

func (q *QueueCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{q.size, q.pending, q.active, q.retry, q.archived, q.processed, q.failed} {
		ch <- d
	}
}

func (q *QueueCollector) Collect(ch chan<- prometheus.Metric) {
	for name := range Queues {
		info, err := q.in.GetQueueInfo(name)
		if err != nil {
			continue // a queue that never had a job does not exist yet
		}
		g := func(d *prometheus.Desc, v int) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), name)
		}
		g(q.size, info.Size)
		g(q.pending, info.Pending)
		g(q.active, info.Active)
		g(q.retry, info.Retry)
		g(q.archived, info.Archived)
		ch <- prometheus.MustNewConstMetric(q.processed, prometheus.CounterValue, float64(info.ProcessedTotal), name)
		ch <- prometheus.MustNewConstMetric(q.failed, prometheus.CounterValue, float64(info.FailedTotal), name)
	}
}
