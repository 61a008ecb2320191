package server

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cointrail/cointrail/attrib"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/labels"
)

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request, _ *APIKey) error {
	s.stateMu.Lock()
	ferr := s.followErr
	s.stateMu.Unlock()
	if ferr != "" {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ok": false, "error": ferr})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	return nil
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request, _ *APIKey) error {
	g := gauges{pending: map[string]int{}, jobs: s.jobs.count()}
	if t := s.ix.Tip(); !t.Empty {
		g.tipHeight = int64(t.Height)
	} else {
		g.tipHeight = -1
	}
	s.e.mu.RLock()
	g.cases = len(s.e.cases)
	for _, c := range s.e.cases {
		g.taintedOutputs += len(c.live)
	}
	s.e.mu.RUnlock()
	for _, d := range s.deliverers {
		g.pending[d.name] = d.pending() // redacted for every key: scrapes are stored
	}
	var buf bytes.Buffer
	s.m.write(&buf, g)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, err := w.Write(buf.Bytes())
	return err
}

// StatusResponse is GET /v1/status: the index's status plus the server's.
type StatusResponse struct {
	index.StatusView
	Node            string         `json:"node"`
	Following       bool           `json:"following"`
	FollowerError   string         `json:"follower_error,omitempty"`
	CaseHeight      int64          `json:"case_height"` // the block the case state reflects
	Cases           int            `json:"cases"`
	LastAlertID     uint64         `json:"last_alert_id"`
	WebhooksPending map[string]int `json:"webhooks_pending"`
	UptimeSeconds   int64          `json:"uptime_seconds"`
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request, k *APIKey) error {
	st := StatusResponse{StatusView: s.ix.Status(), Node: s.node(), WebhooksPending: map[string]int{},
		UptimeSeconds: int64(time.Since(s.started).Seconds()), CaseHeight: -1}
	s.stateMu.Lock()
	st.FollowerError = s.followErr
	s.stateMu.Unlock()
	st.Following = st.FollowerError == "" && s.m.followerUp.Load() == 1
	s.e.mu.RLock()
	if s.e.follow.ok {
		st.CaseHeight = int64(s.e.follow.height)
	}
	st.Cases = len(s.e.cases)
	st.LastAlertID = s.e.nextSeq - 1
	s.e.mu.RUnlock()
	for _, d := range s.deliverers {
		// Webhook URLs carry credentials: only an admin key sees them.
		name := d.name
		if k != nil && k.Role == RoleAdmin {
			name = d.hook.URL
		}
		st.WebhooksPending[name] = d.pending()
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (s *Server) handleTx(w http.ResponseWriter, r *http.Request, _ *APIKey) error {
	h, err := index.ParseTxID(r.PathValue("txid"))
	if err != nil {
		return err
	}
	tx, err := s.ix.FindTx(h)
	if err != nil {
		return err
	}
	v, err := s.ix.Tx(tx)
	if err != nil {
		return err
	}
	d, err := attrib.DetailOfTx(s.ix, v)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// AddressResponse is GET /v1/address/{address}: the index's view, the
// address's labels and notes, and the cases watching it.
type AddressResponse struct {
	attrib.AddressDetail
	WatchedBy []uint32 `json:"watched_by"`
}

func (s *Server) handleAddress(w http.ResponseWriter, r *http.Request, _ *APIKey) error {
	offset, err := queryInt(r, "offset", 0, 0, 1<<30)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", min(100, s.cfg.Limits.MaxPage), 1, s.cfg.Limits.MaxPage)
	if err != nil {
		return err
	}
	id, key, err := s.ix.ParseAddr(r.PathValue("address"))
	if err != nil {
		return err
	}
	v, err := s.ix.Address(id, offset, limit)
	if err != nil {
		return err
	}
	d, err := attrib.DetailOfAddress(s.ix, v)
	if err != nil {
		return err
	}
	resp := AddressResponse{AddressDetail: d, WatchedBy: []uint32{}}
	s.e.mu.RLock()
	if in, ok := s.e.book.byKey[key]; ok {
		resp.WatchedBy = append(resp.WatchedBy, in.watchers...)
	}
	s.e.mu.RUnlock()
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) handleBlock(w http.ResponseWriter, r *http.Request, _ *APIKey) error {
	h, err := s.ix.ParseBlockArg(r.PathValue("block"))
	if err != nil {
		return err
	}
	v, err := s.ix.Block(h)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) handleLabels(w http.ResponseWriter, r *http.Request, _ *APIKey) error {
	q := r.URL.Query()
	lq := labels.Query{Address: q.Get("address"), Label: q.Get("label"), Source: q.Get("source"), Category: q.Get("category")}
	var err error
	if lq.Limit, err = queryInt(r, "limit", min(100, s.cfg.Limits.MaxPage), 1, s.cfg.Limits.MaxPage); err != nil {
		return err
	}
	if lq.Offset, err = queryInt(r, "offset", 0, 0, 1<<30); err != nil {
		return err
	}
	for _, f := range []string{lq.Address, lq.Label, lq.Source, lq.Category} {
		if len(f) > 200 {
			return fmt.Errorf("%w: label query fields are at most 200 bytes", ErrBadInput)
		}
	}
	ls, err := labels.List(s.ix.Store, s.ix.Net, lq)
	if err != nil {
		return err
	}
	if ls == nil {
		ls = []labels.Label{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"offset": lq.Offset, "limit": lq.Limit, "labels": ls})
	return nil
}

// cases

func (s *Server) handleCases(w http.ResponseWriter, r *http.Request, _ *APIKey) error {
	writeJSON(w, http.StatusOK, map[string]any{"cases": s.e.caseViews()})
	return nil
}

func (s *Server) handleCreateCase(w http.ResponseWriter, r *http.Request, _ *APIKey) error {
	var spec CaseSpec
	if err := decodeBody(r, &spec); err != nil {
		return err
	}
	v, err := s.e.createCase(r.Context(), spec)
	if err != nil {
		return err
	}
	w.Header().Set("Location", fmt.Sprintf("/v1/cases/%d", v.ID))
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func caseID(r *http.Request) (uint32, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, err
	}
	if id > 1<<32-1 {
		return 0, fmt.Errorf("%w: no case %d", ErrNotFound, id)
	}
	return uint32(id), nil
}

func (s *Server) handleCase(w http.ResponseWriter, r *http.Request, _ *APIKey) error {
	id, err := caseID(r)
	if err != nil {
		return err
	}
	v, err := s.e.caseView(id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) handlePatchCase(w http.ResponseWriter, r *http.Request, _ *APIKey) error {
	id, err := caseID(r)
	if err != nil {
		return err
	}
	var p CasePatch
	if err := decodeBody(r, &p); err != nil {
		return err
	}
	v, err := s.e.updateCase(id, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) handleDeleteCase(w http.ResponseWriter, r *http.Request, _ *APIKey) error {
	id, err := caseID(r)
	if err != nil {
		return err
	}
	if err := s.e.deleteCase(id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleFunds(w http.ResponseWriter, r *http.Request, _ *APIKey) error {
	id, err := caseID(r)
	if err != nil {
		return err
	}
	offset, err := queryInt(r, "offset", 0, 0, 1<<30)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", min(100, s.cfg.Limits.MaxPage), 1, s.cfg.Limits.MaxPage)
	if err != nil {
		return err
	}
	v, err := s.e.funds(id, offset, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// alerts

func (s *Server) alertQuery(r *http.Request) (AlertQuery, error) {
	var q AlertQuery
	var err error
	if q.After, err = queryUint64(r, "after"); err != nil {
		return q, err
	}
	c, err := queryUint64(r, "case")
	if err != nil {
		return q, err
	}
	if c > 1<<32-1 {
		return q, fmt.Errorf("%w: case %d", ErrBadInput, c)
	}
	q.Case = uint32(c)
	if q.Unacked, err = queryBool(r, "unacked"); err != nil {
		return q, err
	}
	switch o := r.URL.Query().Get("order"); o {
	case "", "asc":
	case "desc":
		q.Descending = true
	default:
		return q, fmt.Errorf("%w: query parameter order=%q: want asc or desc", ErrBadInput, o)
	}
	q.Limit, err = queryInt(r, "limit", min(100, s.cfg.Limits.MaxPage), 1, s.cfg.Limits.MaxPage)
	return q, err
}

func (s *Server) handleAlerts(w http.ResponseWriter, r *http.Request, _ *APIKey) error {
	q, err := s.alertQuery(r)
	if err != nil {
		return err
	}
	as, err := ListAlerts(s.ix.Store, q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"alerts": as})
	return nil
}

func (s *Server) handleAlert(w http.ResponseWriter, r *http.Request, _ *APIKey) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	av, err := loadAlert(s.ix.Store, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, av)
	return nil
}

func (s *Server) handleAck(w http.ResponseWriter, r *http.Request, k *APIKey) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var body struct {
		Note string `json:"note"`
	}
	if r.ContentLength != 0 {
		if err := decodeBody(r, &body); err != nil {
			return err
		}
	}
	av, err := ackAlert(s.ix.Store, id, k.ID, body.Note, time.Now())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, av)
	return nil
}

// handleStream is a server-sent event stream of alerts: every alert after
// ?after= (or the Last-Event-ID header; default: from now on) and then each
// new one as it is committed, as `id: N`, `event: alert`, `data: JSON`.
// A comment line every 15 s keeps proxies from closing it.
func (s *Server) handleStream(w http.ResponseWriter, r *http.Request, _ *APIKey) error {
	q, err := s.alertQuery(r)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("after") == "" {
		if id := r.Header.Get("Last-Event-ID"); id != "" {
			if q.After, err = strconv.ParseUint(strings.TrimSpace(id), 10, 64); err != nil {
				return fmt.Errorf("%w: Last-Event-ID %q: want an alert id", ErrBadInput, id)
			}
		} else {
			s.e.mu.RLock()
			q.After = s.e.nextSeq - 1
			s.e.mu.RUnlock()
		}
	}
	q.Limit, q.Descending = 100, false
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	s.m.sseClients.Add(1)
	defer s.m.sseClients.Add(-1)
	heartbeat := time.NewTicker(15 * time.Second)
	defer heartbeat.Stop()
	for {
		wake := s.pulse.wait()
		as, err := ListAlerts(s.ix.Store, q)
		if err != nil {
			return err
		}
		for _, a := range as {
			b := encodeAlert(&a.Alert)
			if _, err := fmt.Fprintf(w, "id: %d\nevent: alert\ndata: %s\n\n", a.ID, b); err != nil {
				return nil
			}
			q.After = a.ID
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
		if len(as) == q.Limit {
			continue
		}
		select {
		case <-wake:
		case <-heartbeat.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return nil
			}
		case <-r.Context().Done():
			return nil
		case <-s.closing:
			return nil
		}
	}
}

// API keys

func (s *Server) handleListKeys(w http.ResponseWriter, r *http.Request, _ *APIKey) error {
	ks, err := ListAPIKeys(s.ix.Store)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": ks})
	return nil
}

// CreatedKey is the answer to creating a key: the only time the key is shown.
type CreatedKey struct {
	APIKey
	Key string `json:"key"`
}

func (s *Server) handleCreateKey(w http.ResponseWriter, r *http.Request, _ *APIKey) error {
	var body struct {
		Role string `json:"role"`
		Name string `json:"name"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	role, err := ParseRole(body.Role)
	if err != nil {
		return err
	}
	key, rec, err := CreateAPIKey(s.ix.Store, role, body.Name, time.Now())
	if err != nil {
		return err
	}
	s.keysMu.Lock()
	s.keys[hashKey(key)] = rec
	s.keysMu.Unlock()
	writeJSON(w, http.StatusCreated, CreatedKey{APIKey: rec, Key: key})
	return nil
}

func (s *Server) handleRevokeKey(w http.ResponseWriter, r *http.Request, k *APIKey) error {
	id := r.PathValue("id")
	if id == k.ID {
		return fmt.Errorf("%w: a key cannot revoke itself", ErrBadInput)
	}
	if err := RevokeAPIKey(s.ix.Store, id); err != nil {
		return err
	}
	s.keysMu.Lock()
	for h, rec := range s.keys {
		if rec.ID == id {
			delete(s.keys, h)
		}
	}
	s.keysMu.Unlock()
	w.WriteHeader(http.StatusNoContent)
	return nil
}
