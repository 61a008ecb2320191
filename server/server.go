package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/index"
)

// Server is a running `cointrail serve`: follower, case engine, webhook
// deliverers and the HTTP API over one open index.
type Server struct {
	cfg   Config
	ix    *index.Index
	e     *engine
	rpc   *chain.RPCClient
	log   *slog.Logger
	m     *metrics
	pulse *pulse
	jobs  *jobs
	rate  *limiter

	screens screeners
	inputs  inputsCache

	keysMu sync.RWMutex
	keys   map[[32]byte]APIKey

	deliverers []*deliverer
	follow     *follower
	mempool    *mempoolWatcher

	inflight sync.WaitGroup // requests being handled: none may outlive Run

	ln      net.Listener
	httpSrv *http.Server
	closing chan struct{} // closed when shutdown starts: long-lived streams end

	stateMu   sync.Mutex
	followErr string
	started   time.Time
}

// New prepares a server over an open index. cfg must be valid (Validate).
func New(cfg Config, ix *index.Index, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// No node: the index is served as it is (API and cases, no follow).
	var rpc *chain.RPCClient
	if cfg.RPC.URL != "" {
		var err error
		rpc, err = chain.NewRPCClient(chain.RPCConfig{URL: cfg.RPC.URL, User: cfg.RPC.User, Pass: cfg.RPC.Pass, CookieFile: cfg.RPC.Cookie, Timeout: 30 * time.Second}, log)
		if err != nil {
			return nil, err
		}
	}
	e, err := newEngine(ix, cfg.Limits, cfg.ReorgLimit, cfg.Webhooks, log)
	if err != nil {
		return nil, err
	}
	keys, err := loadAPIKeys(ix.Store)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, ix: ix, e: e, rpc: rpc, log: log, m: newMetrics(), pulse: newPulse(), keys: keys,
		rate: newLimiter(cfg.Limits.RatePerSec, cfg.Limits.RateBurst), closing: make(chan struct{}), started: time.Now()}
	s.jobs = newJobs(cfg.Limits.MaxJobs)
	urls := make([]string, len(cfg.Webhooks))
	for i, w := range cfg.Webhooks {
		urls[i] = w.URL
	}
	names := webhookNames(urls)
	for i, w := range cfg.Webhooks {
		s.deliverers = append(s.deliverers, newDeliverer(ix.Store, w, names[i], cfg.Delivery, s.m, log))
	}
	e.onAlerts = s.alerted
	if rpc == nil {
		return s, nil
	}
	s.follow = &follower{e: e, rpc: rpc, poll: cfg.PollInterval, reorgLimit: cfg.ReorgLimit, m: s.m, log: log,
		kick: make(chan struct{}, 1), raw: make(chan rawArrival, 16), groupBytes: 4 << 20}
	if cfg.Mempool.Enabled {
		s.mempool = &mempoolWatcher{e: e, rpc: rpc, interval: cfg.Mempool.Interval, m: s.m, log: log, txs: make(chan []byte, 1024)}
	}
	return s, nil
}

// alerted runs under the engine's lock after alerts commit: log them, wake
// the deliverers and the streams. It must not block.
func (s *Server) alerted(as []*Alert) {
	for _, a := range as {
		s.m.alerts.add(fmt.Sprintf("kind=%q", a.Kind), 1)
		s.log.Info("alert", "id", a.ID, "kind", a.Kind, "case", a.CaseID, "confirmed", a.Confirmed, "txid", a.TxID,
			"amount_sat", a.AmountSat, "label", a.Label, "message", a.Message)
	}
	for _, d := range s.deliverers {
		d.poke()
	}
	s.pulse.fire()
}

// Listen binds the API's address (cfg.Listen; port 0 picks one).
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("%w: listen on %s: %v", ErrBadInput, s.cfg.Listen, err)
	}
	s.ln = ln
	return nil
}

// Addr is the address the API listens on (after Listen).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Run serves until ctx ends, then shuts down gracefully: the API stops
// taking requests and finishes those in flight, the follower finishes the
// block in hand, deliverers stop between attempts. It returns the
// follower's error if following stopped (the API keeps serving until ctx
// ends in that case), or the listener's.
func (s *Server) Run(ctx context.Context) error {
	if s.ln == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	s.httpSrv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	s.httpSrv.RegisterOnShutdown(func() { close(s.closing) })
	if s.follow == nil {
		// The cases still move to the index's tip once, as a follower's
		// first round would: their state must describe the chain served.
		s.e.mu.Lock()
		err := s.e.reconcile(ctx)
		s.e.mu.Unlock()
		if err != nil {
			return err
		}
	}
	s.log.Info("serving", "listen", s.Addr(), "network", s.ix.Net.Name, "node", s.node(), "webhooks", len(s.deliverers))

	bg, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	httpErr := make(chan error, 1)
	go func() { httpErr <- s.httpSrv.Serve(s.ln) }()
	for _, d := range s.deliverers {
		wg.Go(func() { d.run(bg) })
	}
	if s.follow != nil {
		wg.Go(func() {
			if err := s.follow.run(bg); err != nil {
				s.followStopped(err)
			}
		})
		if s.mempool != nil {
			wg.Go(func() { s.mempool.run(bg) })
		}
		s.startZMQ(bg, &wg)
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-httpErr:
	}
	s.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if serr := s.httpSrv.Shutdown(sctx); serr != nil {
		s.log.Warn("requests still running after 10s; closing their connections", "err", serr)
		s.httpSrv.Close()
	}
	s.jobs.cancelAll()
	stop()
	wg.Wait()
	s.inflight.Wait() // handlers are bounded by the limits; the index closes after them
	s.e.mu.Lock()
	s.e.clusters.close()
	s.e.mu.Unlock()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	if err == nil && s.followErr != "" {
		err = errors.New(s.followErr)
	}
	return err
}

// node names the followed node's RPC endpoint, or "none" when the index is
// served without one.
func (s *Server) node() string {
	if s.rpc == nil {
		return "none"
	}
	return s.rpc.Endpoint()
}

// followStopped records why following stopped and raises an alert when it
// was a reorg deeper than the limit.
func (s *Server) followStopped(err error) {
	s.m.followerUp.Store(0)
	s.stateMu.Lock()
	s.followErr = err.Error()
	s.stateMu.Unlock()
	s.log.Error("following the node stopped", "err", err)
	if !errors.Is(err, ErrReorgTooDeep) {
		return
	}
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	t := s.e.newTxn()
	defer t.b.Close()
	tip := s.ix.Tip()
	h := tip.Height
	s.e.addAlert(t, &Alert{Kind: KindReorgTooDeep, Confirmed: true, BlockHeight: &h, BlockHash: tip.Hash.String(), Message: err.Error()})
	if cerr := s.e.commit(t); cerr != nil {
		s.log.Error("could not store the reorg alert", "err", cerr)
	}
}
