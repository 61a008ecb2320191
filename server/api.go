package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/labels"
	"github.com/cointrail/cointrail/notes"
	"github.com/cointrail/cointrail/taint"
)

// route is one API endpoint. Need is the role a key must have; "" means
// no key (only /healthz).
type route struct {
	method, pattern string
	need            Role
	h               func(w http.ResponseWriter, r *http.Request, k *APIKey) error
}

// routes is the API. The OpenAPI document (docs/api/openapi.yaml) lists
// exactly these; a test keeps the two in step.
func (s *Server) routes() []route {
	return []route{
		{"GET", "/healthz", "", s.handleHealth},
		{"GET", "/metrics", RoleRead, s.handleMetrics},
		{"GET", "/v1/status", RoleRead, s.handleStatus},
		{"GET", "/v1/tx/{txid}", RoleRead, s.handleTx},
		{"GET", "/v1/address/{address}", RoleRead, s.handleAddress},
		{"GET", "/v1/block/{block}", RoleRead, s.handleBlock},
		{"POST", "/v1/trace", RoleRead, s.handleTrace},
		{"GET", "/v1/trace/jobs/{id}", RoleRead, s.handleTraceJob},
		{"GET", "/v1/screen/{target}", RoleRead, s.handleScreen},
		{"POST", "/v1/screen", RoleRead, s.handleScreenBulk},
		{"GET", "/v1/labels", RoleRead, s.handleLabels},
		{"GET", "/v1/entities/{ref}", RoleRead, s.handleEntity},
		{"GET", "/v1/cases", RoleRead, s.handleCases},
		{"POST", "/v1/cases", RoleAdmin, s.handleCreateCase},
		{"GET", "/v1/cases/{id}", RoleRead, s.handleCase},
		{"PATCH", "/v1/cases/{id}", RoleAdmin, s.handlePatchCase},
		{"DELETE", "/v1/cases/{id}", RoleAdmin, s.handleDeleteCase},
		{"GET", "/v1/cases/{id}/funds", RoleRead, s.handleFunds},
		{"GET", "/v1/notes", RoleRead, s.handleNotes},
		{"POST", "/v1/notes", RoleAdmin, s.handleAddNote},
		{"DELETE", "/v1/notes/{id}", RoleAdmin, s.handleDeleteNote},
		{"GET", "/v1/alerts", RoleRead, s.handleAlerts},
		{"GET", "/v1/alerts/stream", RoleRead, s.handleStream},
		{"GET", "/v1/alerts/{id}", RoleRead, s.handleAlert},
		{"POST", "/v1/alerts/{id}/ack", RoleAdmin, s.handleAck},
		{"GET", "/v1/apikeys", RoleAdmin, s.handleListKeys},
		{"POST", "/v1/apikeys", RoleAdmin, s.handleCreateKey},
		{"DELETE", "/v1/apikeys/{id}", RoleAdmin, s.handleRevokeKey},
	}
}

// Handler is the API's HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		mux.Handle(rt.method+" "+rt.pattern, s.wrap(rt))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, fmt.Errorf("%w: no endpoint %s %s (see docs/api/openapi.yaml)", ErrNotFound, r.Method, r.URL.Path))
	})
	return mux
}

// statusRecorder remembers the status code for metrics.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(c int) {
	if r.code == 0 {
		r.code = c
	}
	r.ResponseWriter.WriteHeader(c)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// wrap runs a route: authentication, role, rate limit, body limit, the
// handler, errors as JSON, metrics.
func (s *Server) wrap(rt route) http.Handler {
	name := rt.method + " " + rt.pattern
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.inflight.Add(1)
		defer s.inflight.Done()
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("panic in handler", "route", name, "panic", p)
				if rec.code == 0 {
					writeError(rec, fmt.Errorf("%w: %v", ErrInternal, p))
				}
			}
			s.m.observeRequest(name, rec.code, time.Since(start))
		}()
		var key *APIKey
		if rt.need != "" {
			k, err := s.authenticate(r)
			if err == nil && !k.Role.allows(rt.need) {
				err = fmt.Errorf("%w: %s needs an %s key, key %s is %s", ErrForbidden, name, rt.need, k.ID, k.Role)
			}
			if err != nil {
				writeError(rec, err)
				return
			}
			if ok, wait := s.rate.allow(k.ID, time.Now()); !ok {
				s.m.rateLimited.Add(1)
				rec.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
				writeError(rec, fmt.Errorf("%w: key %s is over %g requests/s (burst %d)", errRateLimited, k.ID, s.cfg.Limits.RatePerSec, s.cfg.Limits.RateBurst))
				return
			}
			key = &k
		}
		r.Body = http.MaxBytesReader(rec, r.Body, s.cfg.Limits.MaxBodyBytes)
		if err := rt.h(rec, r, key); err != nil {
			if status(err) >= 500 {
				s.log.Error("request failed", "route", name, "err", err)
			}
			if rec.code == 0 {
				writeError(rec, err)
			}
		}
	})
}

var errRateLimited = errors.New("server: rate limited")

func (s *Server) authenticate(r *http.Request) (APIKey, error) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return APIKey{}, fmt.Errorf("%w: send an API key as `Authorization: Bearer KEY`", ErrUnauthorized)
	}
	s.keysMu.RLock()
	k, ok := s.keys[hashKey(strings.TrimSpace(tok))]
	s.keysMu.RUnlock()
	if !ok {
		return APIKey{}, fmt.Errorf("%w: unknown API key", ErrUnauthorized)
	}
	return k, nil
}

// status maps an error to its HTTP status.
func status(err error) int {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, errRateLimited), errors.Is(err, errTooManyJobs):
		return http.StatusTooManyRequests
	case errors.Is(err, ErrNotFound), errors.Is(err, index.ErrNotFound), errors.Is(err, notes.ErrNotFound), isScreenNotFound(err):
		return http.StatusNotFound
	case errors.Is(err, ErrLimit), errors.Is(err, taint.ErrLimit):
		return http.StatusUnprocessableEntity
	case errors.Is(err, ErrBadInput), errors.Is(err, index.ErrBadInput), errors.Is(err, taint.ErrBadParams),
		errors.Is(err, labels.ErrBadInput), errors.Is(err, chain.ErrBadInput), errors.Is(err, chain.ErrWrongNetwork), errors.Is(err, notes.ErrBadInput), isScreenBadInput(err):
		return http.StatusBadRequest
	case errors.Is(err, errConflict):
		return http.StatusConflict
	case errors.Is(err, context.Canceled):
		return 499
	}
	return http.StatusInternalServerError
}

var statusCodes = map[int]string{400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 409: "conflict", 413: "body_too_large",
	422: "limit_exceeded", 429: "rate_limited", 499: "cancelled", 500: "internal_error", 503: "unavailable"}

// APIError is the body of every error answer.
type APIError struct {
	Error struct {
		Status  int    `json:"status"`
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, err error) {
	var e APIError
	e.Error.Status = status(err)
	e.Error.Code = statusCodes[e.Error.Status]
	e.Error.Message = strings.ReplaceAll(err.Error(), "\n", " ")
	if e.Error.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="cointrail"`)
	}
	writeJSON(w, e.Error.Status, e)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b = []byte(`{"error":{"status":500,"code":"internal_error","message":"encoding the answer failed"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

// decodeJSON decodes body strictly into v: unknown fields and trailing
// data are errors.
func decodeJSON(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.New(jsonError(err))
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// decodeBody reads a JSON request body strictly into v.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return fmt.Errorf("%w: request body: %s", ErrBadInput, jsonError(err))
	}
	if dec.More() {
		return fmt.Errorf("%w: request body: trailing data after the JSON value", ErrBadInput)
	}
	return nil
}

// query parameter helpers

func queryInt(r *http.Request, name string, def, lo, hi int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		return 0, fmt.Errorf("%w: query parameter %s=%q: want an integer in %d..%d", ErrBadInput, name, s, lo, hi)
	}
	return v, nil
}

func queryUint64(r *http.Request, name string) (uint64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: query parameter %s=%q: want a non-negative integer", ErrBadInput, name, s)
	}
	return v, nil
}

func queryBool(r *http.Request, name string) (bool, error) {
	switch s := r.URL.Query().Get(name); s {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	default:
		return false, fmt.Errorf("%w: query parameter %s=%q: want true or false", ErrBadInput, name, s)
	}
}

func pathID(r *http.Request, name string) (uint64, error) {
	s := r.PathValue(name)
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("%w: %s %q: want a positive integer", ErrBadInput, name, s)
	}
	return v, nil
}

// limiter is a token bucket per API key.
type limiter struct {
	mu    sync.Mutex
	rate  float64
	burst float64
	m     map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(rate float64, burst int) *limiter {
	return &limiter{rate: rate, burst: float64(burst), m: map[string]*bucket{}}
}

// allow takes a token for id, or says how long until one is there.
func (l *limiter) allow(id string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.m[id]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.m[id] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}
