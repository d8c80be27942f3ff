package server

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"parley/internal/app"
	"parley/internal/dispatch"
)

// metrics is the Prometheus registry of one process (no global registry:
// tests run several servers in one process).
type metrics struct {
	reg        *prometheus.Registry
	attempts   *prometheus.CounterVec
	deliveries *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	maint      prometheus.Counter
}

func newMetrics(a *app.App) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_delivery_attempts_total",
			Help: "Delivery attempts to bot callbacks, by bot and outcome (success, retryable, permanent, gone).",
		}, []string{"bot", "outcome"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_deliveries_total",
			Help: "Deliveries ended by an attempt, by bot and final state (succeeded, failed).",
		}, []string{"bot", "state"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "parley_delivery_attempt_duration_seconds",
			Help:    "Duration of delivery attempts, from the request to the end of the capped response.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"outcome"}),
		maint: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_maintenance_runs_total",
			Help: "Runs of the periodic work (expiry of old deliveries, outbox clean-up) on this node; in a cluster one node at a time runs it.",
		}),
	}
	m.reg.MustRegister(m.attempts, m.deliveries, m.latency, m.maint, &queueCollector{app: a},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// dispatch returns the engine's hooks into these metrics.
func (m *metrics) dispatch() *dispatch.Metrics {
	return &dispatch.Metrics{
		Attempt: func(bot, outcome string, d time.Duration) {
			m.attempts.WithLabelValues(bot, outcome).Inc()
			m.latency.WithLabelValues(outcome).Observe(d.Seconds())
		},
		Completed:   func(bot, state string) { m.deliveries.WithLabelValues(bot, state).Inc() },
		Maintenance: m.maint.Inc,
	}
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// queueCollector reads the delivery queue at scrape time, so the gauges are
// never stale.
type queueCollector struct{ app *app.App }

var (
	queueDepthDesc = prometheus.NewDesc("parley_delivery_queue_depth", "Pending deliveries (due or waiting for a retry).", nil, nil)
	queueAgeDesc   = prometheus.NewDesc("parley_delivery_oldest_due_seconds", "How long the oldest due delivery has been waiting; 0 when none is due.", nil, nil)
)

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDepthDesc
	ch <- queueAgeDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pending, oldest, err := c.app.QueueStats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(queueDepthDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(pending))
	ch <- prometheus.MustNewConstMetric(queueAgeDesc, prometheus.GaugeValue, oldest.Seconds())
}
