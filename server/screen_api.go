package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/cointrail/cointrail/cluster"
	"github.com/cointrail/cointrail/screen"
)

func isScreenNotFound(err error) bool {
	return errors.Is(err, screen.ErrNotFound) || errors.Is(err, cluster.ErrNotFound) || errors.Is(err, cluster.ErrNotBuilt)
}

func isScreenBadInput(err error) bool {
	return errors.Is(err, screen.ErrBadInput) || errors.Is(err, cluster.ErrBadInput)
}

// screeners caches one screen.Screener per hop count: a Screener loads the
// labels (and the clustering) once, so it is rebuilt only when the tip has
// moved (new addresses may have appeared that labels name).
type screeners struct {
	mu  sync.Mutex
	m   map[int]*cachedScreener
	tip chainhash.Hash
}

type cachedScreener struct {
	once sync.Once
	s    *screen.Screener
	err  error
}

func (s *Server) screener(hops int) (*screen.Screener, error) {
	c := &s.screens
	c.mu.Lock()
	if tip := s.ix.Tip().Hash; tip != c.tip || c.m == nil {
		c.m, c.tip = map[int]*cachedScreener{}, tip
	}
	cs, ok := c.m[hops]
	if !ok {
		cs = &cachedScreener{}
		c.m[hops] = cs
	}
	c.mu.Unlock()
	cs.once.Do(func() {
		cs.s, cs.err = screen.New(s.ix, screen.Options{Hops: hops, MaxTxs: s.cfg.Limits.SyncMaxTxs}, s.log)
	})
	return cs.s, cs.err
}

func (s *Server) screenOne(ctx context.Context, target string, hops int) (*screen.Report, error) {
	sc, err := s.screener(hops)
	if err != nil {
		return nil, err
	}
	s.e.mu.RLock()
	defer s.e.mu.RUnlock()
	return sc.Screen(ctx, target)
}

func (s *Server) screenHops(r *http.Request) (int, error) {
	return queryInt(r, "hops", screen.DefaultHops, 1, screen.MaxHops)
}

func (s *Server) handleScreen(w http.ResponseWriter, r *http.Request, _ *APIKey) error {
	hops, err := s.screenHops(r)
	if err != nil {
		return err
	}
	t := r.PathValue("target")
	if len(t) > maxSeedLen {
		return fmt.Errorf("%w: screen target longer than %d bytes", ErrBadInput, maxSeedLen)
	}
	rep, err := s.screenOne(r.Context(), t, hops)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// BulkScreenRequest is the body of POST /v1/screen.
type BulkScreenRequest struct {
	Targets []string `json:"targets"`
	Hops    int      `json:"hops,omitempty"` // default screen.DefaultHops
}

// BulkScreenItem is one target's report or error.
type BulkScreenItem struct {
	Target string         `json:"target"`
	Report *screen.Report `json:"report,omitempty"`
	Error  *APIError      `json:"error,omitempty"`
}

// ParseBulkScreen decodes and checks a bulk screen request.
func ParseBulkScreen(body []byte, maxBulk int) (BulkScreenRequest, error) {
	var q BulkScreenRequest
	if err := decodeJSON(body, &q); err != nil {
		return q, fmt.Errorf("%w: screen: %s", ErrBadInput, err)
	}
	switch {
	case len(q.Targets) == 0:
		return q, fmt.Errorf("%w: screen: no targets", ErrBadInput)
	case len(q.Targets) > maxBulk:
		return q, fmt.Errorf("%w: screen: %d targets, at most %d per request", ErrBadInput, len(q.Targets), maxBulk)
	case q.Hops < 0 || q.Hops > screen.MaxHops:
		return q, fmt.Errorf("%w: screen: hops %d (want 1..%d, 0 for %d)", ErrBadInput, q.Hops, screen.MaxHops, screen.DefaultHops)
	}
	for i, t := range q.Targets {
		if t == "" || len(t) > maxSeedLen {
			return q, fmt.Errorf("%w: screen: target %d empty or longer than %d bytes", ErrBadInput, i, maxSeedLen)
		}
	}
	if q.Hops == 0 {
		q.Hops = screen.DefaultHops
	}
	return q, nil
}

func (s *Server) handleScreenBulk(w http.ResponseWriter, r *http.Request, _ *APIKey) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	q, err := ParseBulkScreen(body, s.cfg.Limits.MaxBulk)
	if err != nil {
		return err
	}
	out := make([]BulkScreenItem, 0, len(q.Targets))
	for _, t := range q.Targets {
		it := BulkScreenItem{Target: t}
		rep, err := s.screenOne(r.Context(), t, q.Hops)
		if err != nil {
			if status(err) >= 500 {
				return err
			}
			var e APIError
			e.Error.Status = status(err)
			e.Error.Code = statusCodes[e.Error.Status]
			e.Error.Message = err.Error()
			it.Error = &e
		}
		it.Report = rep
		out = append(out, it)
	}
	writeJSON(w, http.StatusOK, map[string]any{"hops": q.Hops, "results": out})
	return nil
}

func (s *Server) handleEntity(w http.ResponseWriter, r *http.Request, _ *APIKey) error {
	offset, err := queryInt(r, "offset", 0, 0, 1<<30)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", min(100, s.cfg.Limits.MaxPage), 1, s.cfg.Limits.MaxPage)
	if err != nil {
		return err
	}
	ref := r.PathValue("ref")
	if len(ref) > maxSeedLen {
		return fmt.Errorf("%w: entity reference longer than %d bytes", ErrBadInput, maxSeedLen)
	}
	s.e.mu.RLock()
	v, err := cluster.Entity(s.ix, ref, offset, limit)
	s.e.mu.RUnlock()
	if errors.Is(err, cluster.ErrRebuild) {
		return fmt.Errorf("%w: %v", errConflict, err)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

var errConflict = errors.New("server: conflict")
