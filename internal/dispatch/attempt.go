package dispatch

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"strconv"
	"time"

	"parley/internal/app"
	"parley/internal/chat"
	"parley/internal/webhook"
)

// Headers parley adds to every callback, beside Standard Webhooks' three.
const (
	HeaderAttempt     = "Parley-Attempt"      // 1 for the first attempt of a delivery
	HeaderLastFailure = "Parley-Last-Failure" // why the previous attempt failed
	HeaderSequence    = "Parley-Sequence"     // per-bot sequence number of the delivery
	HeaderBot         = "Parley-Bot"          // the bot's uid
)

// attempt POSTs one delivery, gives back its request slots (posted) and
// records the outcome. It reports whether the engine must look for due
// work when the claim is released, and the delivery that became the
// lane's head, if any (see app.CompleteAttempt; next is true when the
// outcome could not be recorded).
func (e *Engine) attempt(ctx context.Context, c claim) (next bool, successor int64) {
	d, t := &c.d, c.target
	timeout := e.cfg.Timeout
	if t.Timeout > 0 {
		timeout = t.Timeout
	}
	n := d.Attempts + 1
	start := e.now()
	a := chat.Attempt{N: n, StartedAt: start.UnixMilli()}

	status, body, truncated, retryAfter, headers, err := e.post(ctx, d, t, n, start, timeout)
	e.posted(c)
	a.LatencyMs = e.now().Sub(start).Milliseconds()
	a.StatusCode, a.RequestHeaders = status, headers
	a.ResponseTruncated = truncated || len(body) > storedBodyBytes
	a.ResponseBody = string(body[:min(len(body), storedBodyBytes)])
	outcome, class := webhook.Classify(status, err)
	a.ErrorClass = string(class)
	if err != nil {
		a.Error = err.Error()
	}
	report := app.AttemptReport{Attempt: a, ResponseBody: body, Probe: c.probe}
	switch outcome {
	case webhook.Success:
		report.Outcome = chat.OutcomeSuccess
	case webhook.Retry:
		report.Outcome = chat.OutcomeRetryable
		next, giveUp := e.cfg.Retry.Next(n, time.UnixMilli(d.QueuedAt), e.now(), retryAfter, jitter)
		if !giveUp {
			report.NextAttemptAt = next
		}
	case webhook.Gone:
		report.Outcome = chat.OutcomeGone
	default:
		report.Outcome = chat.OutcomePermanent
	}
	if e.metrics != nil {
		e.metrics.observeAttempt(d.Bot, report.Outcome, time.Duration(a.LatencyMs)*time.Millisecond)
		switch {
		case report.Outcome == chat.OutcomeSuccess:
			e.metrics.observeCompleted(d.Bot, chat.DeliverySucceeded)
		case report.NextAttemptAt.IsZero():
			e.metrics.observeCompleted(d.Bot, chat.DeliveryFailed)
		}
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	next, successor, err = e.app.CompleteAttempt(rctx, d, e.cfg.Health, report)
	if err != nil {
		// The delivery is attempted again (after its lease, on several
		// nodes): at least once.
		e.log.Error("dispatch: record attempt", "delivery", d.ID, "bot", d.Bot, "err", err)
		return true, 0
	}
	return next, successor
}

// post sends the request and reads the capped answer.
func (e *Engine) post(ctx context.Context, d *chat.Delivery, t *app.DeliveryTarget, n int, now time.Time, timeout time.Duration) (
	status int, body []byte, truncated bool, retryAfter time.Duration, shown map[string]string, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ts := now.Unix()
	sig, err := webhook.SignAll(t.Secrets, d.WebhookID, ts, d.Payload)
	if err != nil {
		return 0, nil, false, 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(d.Payload))
	if err != nil {
		return 0, nil, false, 0, nil, err
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", e.cfg.UserAgent)
	h.Set("webhook-id", d.WebhookID)
	h.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	h.Set("webhook-signature", sig)
	h.Set(HeaderAttempt, strconv.Itoa(n))
	h.Set(HeaderSequence, strconv.FormatInt(d.Seq, 10))
	h.Set(HeaderBot, d.Bot)
	if d.LastErrorClass != "" {
		reason := d.LastErrorClass
		if d.LastStatus != 0 {
			reason += " (" + strconv.Itoa(d.LastStatus) + ")"
		}
		h.Set(HeaderLastFailure, reason)
	}
	shown = make(map[string]string, len(h)+1)
	for k := range h {
		shown[k] = h.Get(k)
	}
	if t.UseBasicAuth {
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(t.Username+":"+t.Password)))
		shown["Authorization"] = "Basic ••••••" // the log never shows the password
	}
	res, err := e.client.Do(req)
	if err != nil {
		return 0, nil, false, 0, shown, err
	}
	defer res.Body.Close()
	body, truncated, rerr := webhook.ReadCapped(res.Body, e.cfg.MaxResponseBytes)
	retryAfter = webhook.ParseRetryAfter(res.Header.Get("Retry-After"), e.now())
	if rerr != nil && res.StatusCode/100 != 2 {
		// The status is what counts; a body cut short does not change it.
		rerr = nil
	}
	return res.StatusCode, body, truncated, retryAfter, shown, rerr
}
