package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cointrail/cointrail/internal/failpoint"
	"github.com/cointrail/cointrail/kv"
)

// Headers of a webhook delivery. The body is the alert's JSON; the
// signature is HMAC-SHA256 over exactly those bytes with the webhook's
// secret, hex, after "sha256=".
const (
	HeaderSignature   = "X-Cointrail-Signature"
	HeaderIdempotency = "Idempotency-Key"
	HeaderAlertID     = "X-Cointrail-Alert-Id"
	HeaderAttempt     = "X-Cointrail-Attempt"
)

// Sign returns the signature header value of body under secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature checks a signature header value in constant time.
func VerifySignature(secret string, body []byte, header string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(header))
}

// webhookID names a webhook in the queue keys: its URL's SHA-256, so the
// queue survives reordering the config.
func webhookID(url string) [8]byte {
	h := sha256.Sum256([]byte(url))
	var id [8]byte
	copy(id[:], h[:8])
	return id
}

// delivery is the state of one queued alert for one webhook.
type delivery struct {
	attempts uint32
	next     int64 // unix milliseconds before which no attempt is made
	lastErr  string
}

func encodeDelivery(d delivery) []byte {
	b := binary.BigEndian.AppendUint32(nil, d.attempts)
	b = binary.BigEndian.AppendUint64(b, uint64(d.next))
	return append(b, d.lastErr...)
}

func decodeDelivery(v []byte) (delivery, error) {
	if len(v) < 12 {
		return delivery{}, fmt.Errorf("%w: delivery row of %d bytes", ErrCorrupt, len(v))
	}
	return delivery{attempts: binary.BigEndian.Uint32(v), next: int64(binary.BigEndian.Uint64(v[4:])), lastErr: string(v[12:])}, nil
}

// deliverer sends one webhook its queued alerts, in alert order, one at a
// time: a receiver that is down delays only its own alerts. A 2xx answer
// deletes the queue row; anything else (or no answer) is retried after an
// exponential backoff. A crash between the answer and the delete sends the
// alert again with the same idempotency key: delivery is at least once.
type deliverer struct {
	st     kv.Store
	hook   Webhook
	name   string // the URL redacted (redact.go): for logs, errors, metrics
	id     [8]byte
	cfg    Delivery
	client *http.Client
	log    *slog.Logger
	m      *metrics
	wake   chan struct{}
}

func newDeliverer(st kv.Store, w Webhook, name string, cfg Delivery, m *metrics, log *slog.Logger) *deliverer {
	return &deliverer{st: st, hook: w, name: name, id: webhookID(w.URL), cfg: cfg, m: m, log: log.With("webhook", name),
		client: &http.Client{Timeout: cfg.Timeout}, wake: make(chan struct{}, 1)}
}

func (d *deliverer) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// head returns the first queued alert of this webhook.
func (d *deliverer) head() (uint64, delivery, bool, error) {
	p := append(key1(kQueue), d.id[:]...)
	it, err := d.st.NewIter(p, kv.PrefixEnd(p))
	if err != nil {
		return 0, delivery{}, false, err
	}
	defer it.Close()
	if !it.First() {
		return 0, delivery{}, false, it.Error()
	}
	k := it.Key()
	if len(k) != 18 {
		return 0, delivery{}, false, fmt.Errorf("%w: queue key %x", ErrCorrupt, k)
	}
	del, err := decodeDelivery(it.Value())
	return binary.BigEndian.Uint64(k[10:]), del, true, err
}

// pending counts the queued alerts.
func (d *deliverer) pending() int {
	n := 0
	p := append(key1(kQueue), d.id[:]...)
	_ = scanPrefix(d.st, p, func(k, v []byte) error { n++; return nil })
	return n
}

func (d *deliverer) run(ctx context.Context) {
	for ctx.Err() == nil {
		seq, del, ok, err := d.head()
		if err != nil {
			d.log.Error("webhook queue unreadable", "err", err)
			d.sleep(ctx, time.Second)
			continue
		}
		if !ok {
			select {
			case <-d.wake:
			case <-ctx.Done():
			}
			continue
		}
		if wait := time.Until(time.UnixMilli(del.next)); wait > 0 {
			d.sleep(ctx, wait)
			continue
		}
		qk := keyQueue(kQueue, d.id, seq)
		body, found, err := getOpt(d.st, keyU64(kAlert, seq))
		if err == nil && !found {
			err = fmt.Errorf("%w: queued alert %d is not stored", ErrCorrupt, seq)
		}
		if err == nil {
			err = d.post(ctx, seq, body, del.attempts+1)
		}
		if ctx.Err() != nil {
			return
		}
		b := d.st.NewBatch()
		if err == nil {
			failpoint.Hit("serve-delivered")
			b.Delete(qk)
			d.m.delivered.Add(1)
		} else {
			del.attempts++
			del.lastErr = err.Error()
			d.m.deliveryFailures.Add(1)
			if d.cfg.MaxAttempts > 0 && int(del.attempts) >= d.cfg.MaxAttempts {
				d.log.Warn("webhook delivery given up", "alert", seq, "attempts", del.attempts, "err", err)
				b.Delete(qk)
				b.Set(keyQueue(kDead, d.id, seq), encodeDelivery(del))
				d.m.deadLetters.Add(1)
			} else {
				backoff := d.backoff(del.attempts)
				del.next = time.Now().Add(backoff).UnixMilli()
				d.log.Info("webhook delivery failed, will retry", "alert", seq, "attempt", del.attempts, "retry_in", backoff, "err", err)
				b.Set(qk, encodeDelivery(del))
			}
		}
		// The queue row is bookkeeping: losing its update to a crash only
		// means one more delivery of an alert the receiver deduplicates.
		if cerr := b.Commit(false); cerr != nil {
			d.log.Error("webhook queue update failed", "err", cerr)
			d.sleep(ctx, time.Second)
		}
		b.Close()
	}
}

func (d *deliverer) backoff(attempts uint32) time.Duration {
	w := d.cfg.BackoffBase
	for i := uint32(1); i < attempts && w < d.cfg.BackoffMax; i++ {
		w *= 2
	}
	return min(w, d.cfg.BackoffMax)
}

func (d *deliverer) sleep(ctx context.Context, t time.Duration) {
	tm := time.NewTimer(t)
	defer tm.Stop()
	select {
	case <-tm.C:
	case <-ctx.Done():
	}
}

func (d *deliverer) post(ctx context.Context, seq uint64, body []byte, attempt uint32) error {
	var head struct {
		Key string `json:"idempotency_key"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return fmt.Errorf("%w: alert %d: %v", ErrCorrupt, seq, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.hook.URL, bytes.NewReader(body))
	if err != nil {
		return redactErr(err, d.name)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "cointrail")
	req.Header.Set(HeaderSignature, Sign(d.hook.Secret, body))
	req.Header.Set(HeaderIdempotency, head.Key)
	req.Header.Set(HeaderAlertID, strconv.FormatUint(seq, 10))
	req.Header.Set(HeaderAttempt, strconv.FormatUint(uint64(attempt), 10))
	resp, err := d.client.Do(req)
	if err != nil {
		// The error is logged and kept in the queue row: without the
		// URL's credentials.
		return redactErr(err, d.name)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

// pulse wakes every waiter when something new is committed (the SSE
// streams wait on it).
type pulse struct {
	mu sync.Mutex
	ch chan struct{}
}

func newPulse() *pulse { return &pulse{ch: make(chan struct{})} }

func (p *pulse) wait() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ch
}

func (p *pulse) fire() {
	p.mu.Lock()
	close(p.ch)
	p.ch = make(chan struct{})
	p.mu.Unlock()
}
