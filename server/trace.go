package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cointrail/cointrail/attrib"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/report"
	"github.com/cointrail/cointrail/taint"
)

// TraceRequest is the body of POST /v1/trace: the flags of `cointrail
// trace` as JSON. Several comma-separated models give a JSON array of
// results, as the CLI's --format json does.
type TraceRequest struct {
	Seeds          []string `json:"seeds"`
	Model          string   `json:"model,omitempty"`     // default haircut; "fifo,haircut" or "all" for several
	Format         string   `json:"format,omitempty"`    // default json; any of report.Formats but text
	Direction      string   `json:"direction,omitempty"` // default forward
	MaxHops        int      `json:"max_hops,omitempty"`  // 0: no limit (as the CLI), capped at the server's max_hops
	MaxTxs         int      `json:"max_txs,omitempty"`   // 0: 1,000,000 (as the CLI), capped at job_max_txs; above sync_max_txs the trace runs as a job
	MinSats        *int64   `json:"min_sats,omitempty"`  // default 1000
	FromHeight     uint32   `json:"from_height,omitempty"`
	ToHeight       uint32   `json:"to_height,omitempty"`
	FromTime       int64    `json:"from_time,omitempty"`
	ToTime         int64    `json:"to_time,omitempty"`
	SeedFromHeight uint32   `json:"seed_from_height,omitempty"`
	SeedToHeight   uint32   `json:"seed_to_height,omitempty"`
	StopAtCoinJoin bool     `json:"stop_at_coinjoin,omitempty"`
	FeesToCoinbase bool     `json:"fees_to_coinbase,omitempty"`
	StopAtService  *bool    `json:"stop_at_service,omitempty"` // default true
	Async          bool     `json:"async,omitempty"`           // run as a job whatever its size

	models []taint.Model // Model parsed (params sets it, and Format's default)
}

// ParseTraceRequest decodes and checks a trace request against the
// server's limits and returns the trace parameters. Seeds are resolved
// later, against the index.
func ParseTraceRequest(body []byte, lim Limits) (TraceRequest, taint.Params, error) {
	var q TraceRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil {
		return q, taint.Params{}, fmt.Errorf("%w: trace: %s", ErrBadInput, jsonError(err))
	}
	if dec.More() {
		return q, taint.Params{}, fmt.Errorf("%w: trace: trailing data after the JSON object", ErrBadInput)
	}
	p, err := q.params(lim)
	return q, p, err
}

func (q *TraceRequest) params(lim Limits) (taint.Params, error) {
	bad := func(format string, a ...any) (taint.Params, error) {
		return taint.Params{}, fmt.Errorf("%w: trace: %s", ErrBadInput, fmt.Sprintf(format, a...))
	}
	switch {
	case len(q.Seeds) == 0:
		return bad("no seeds (TXID:VOUT, TXID or ADDRESS, optionally @SATS)")
	case len(q.Seeds) > maxSeeds:
		return bad("%d seeds, at most %d", len(q.Seeds), maxSeeds)
	case q.MaxHops < 0 || q.MaxHops > lim.MaxHops:
		return bad("max_hops %d: this server allows 1..%d (0: no limit, capped at %d)", q.MaxHops, lim.MaxHops, lim.MaxHops)
	case q.MaxTxs < 0 || q.MaxTxs > lim.JobMaxTxs:
		return bad("max_txs %d: this server allows 1..%d (0: %d, capped at %d)", q.MaxTxs, lim.JobMaxTxs, taint.DefaultParams().MaxTxs, lim.JobMaxTxs)
	}
	for i, s := range q.Seeds {
		if s == "" || len(s) > maxSeedLen {
			return bad("seed %d: empty or longer than %d bytes", i, maxSeedLen)
		}
	}
	p := taint.DefaultParams()
	var err error
	q.models = []taint.Model{p.Model}
	if q.Model != "" {
		if q.models, err = taint.ParseModels(q.Model); err != nil {
			return p, fmt.Errorf("%w: trace: %w", ErrBadInput, err)
		}
		p.Model = q.models[0]
	}
	switch q.Format {
	case "":
		q.Format = "json"
	case "text":
		return bad("format text is the CLI's summary; ask for json (or csv, graphml, html, freeze, freeze-json, seizable, seizable-json)")
	default:
		if !slices.Contains(report.Formats, q.Format) {
			return bad("unknown format %q (want json, csv, graphml, html, freeze, freeze-json, seizable or seizable-json)", q.Format)
		}
	}
	if strings.HasPrefix(q.Format, "freeze") || strings.HasPrefix(q.Format, "seizable") {
		if q.Direction != "" && !strings.EqualFold(q.Direction, "forward") {
			return bad("format %s lists where the taint went: it needs direction forward", q.Format)
		}
	}
	if q.Direction != "" {
		if p.Direction, err = taint.ParseDirection(q.Direction); err != nil {
			return p, fmt.Errorf("%w: trace: %w", ErrBadInput, err)
		}
	}
	// The defaults are the CLI's (taint.DefaultParams); the server's
	// limits are caps, which a result reports when they bind and which
	// otherwise leave it byte-identical to the CLI's.
	p.MaxHops, p.HopCap = q.MaxHops, lim.MaxHops
	if q.MaxTxs != 0 {
		p.MaxTxs = q.MaxTxs
	}
	if p.MaxTxs > lim.JobMaxTxs {
		p.TxCap = lim.JobMaxTxs
	}
	if q.MinSats != nil {
		p.MinSats = *q.MinSats
	}
	if q.StopAtService != nil {
		p.StopAtService = *q.StopAtService
	}
	p.FromHeight, p.ToHeight, p.FromTime, p.ToTime = q.FromHeight, q.ToHeight, q.FromTime, q.ToTime
	p.StopAtCoinJoin, p.FeesToCoinbase = q.StopAtCoinJoin, q.FeesToCoinbase
	if q.SeedToHeight != 0 && q.SeedFromHeight > q.SeedToHeight {
		return bad("seed_from_height %d is above seed_to_height %d", q.SeedFromHeight, q.SeedToHeight)
	}
	// taint validates the rest (window order, min_sats, fees_to_coinbase
	// backward) when the trace runs; check now so a job fails early.
	if _, err := taint.Trace(context.Background(), emptyGraph{}, nil, nil, p, nil); err != nil && !isNoSeeds(err) {
		return p, fmt.Errorf("%w: trace: %w", ErrBadInput, err)
	}
	return p, nil
}

// inputsCache keeps the inputs and the attribution of the last tip: the
// index and cluster digests read the whole index and clustering, and
// neither they nor the labels (fixed while the server runs) change between
// blocks. A trace uses the attribution `cointrail trace` builds
// (attrib.Build: labels, and the clustering where it defines entities), so
// the API and the CLI give the same result on the same index. Read under
// the chain read lock.
type inputsCache struct {
	mu     sync.Mutex
	height int64
	hash   string
	in     *taint.Inputs
	attr   *attrib.Map
}

func (c *inputsCache) get(ctx context.Context, ix *index.Index, seeds []string, w index.SeedWindow) (taint.Inputs, *attrib.Map, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := ix.Status()
	if c.in == nil || c.height != st.TipHeight || c.hash != st.TipHash {
		in, err := attrib.Evidence(ctx, ix, nil, index.SeedWindow{})
		if err != nil {
			return in, nil, err
		}
		attr, err := attrib.Build(ix, nil)
		if err != nil {
			return in, nil, err
		}
		c.height, c.hash, c.in, c.attr = st.TipHeight, st.TipHash, &in, attr
	}
	in := *c.in
	in.Seeds, in.SeedFromHeight, in.SeedToHeight = append([]string{}, seeds...), w.FromHeight, w.ToHeight
	return in, c.attr, nil
}

// effTxs is the most transactions a trace of p visits.
func effTxs(p taint.Params) int {
	if p.TxCap > 0 && (p.MaxTxs == 0 || p.TxCap < p.MaxTxs) {
		return p.TxCap
	}
	return p.MaxTxs
}

// emptyGraph lets params be validated by taint.Trace itself without an
// index: with no seeds it fails right after validation.
type emptyGraph struct{}

func (emptyGraph) NumTxs() uint32                    { return 0 }
func (emptyGraph) TxOutputs(uint32) (uint64, uint32) { return 0, 0 }
func (emptyGraph) TxInputs(uint32) (uint64, uint32)  { return 0, 0 }
func (emptyGraph) InputPrevOut(uint64) uint64        { return 0 }
func (emptyGraph) OutValue(uint64) int64             { return 0 }
func (emptyGraph) OutAddr(uint64) uint32             { return 0 }
func (emptyGraph) OutType(uint64) uint8              { return 0 }
func (emptyGraph) OutSpender(uint64) uint32          { return taint.NoTx }
func (emptyGraph) OutTx(uint64) uint32               { return 0 }
func (emptyGraph) TxHeight(uint32) uint32            { return 0 }
func (emptyGraph) BlockTime(uint32) int64            { return 0 }
func (emptyGraph) TxHash(uint32) [32]byte            { return [32]byte{} }
func (emptyGraph) AddrString(uint32) string          { return "" }
func (emptyGraph) Tip() (uint32, [32]byte)           { return 0, [32]byte{} }
func (emptyGraph) Err() error                        { return nil }
func (emptyGraph) Corrupt(err error) error           { return err }

func isNoSeeds(err error) bool {
	return errors.Is(err, taint.ErrBadParams) && bytes.HasSuffix([]byte(err.Error()), []byte("no seeds"))
}

// runTrace resolves the seeds and traces under the chain read lock.
func (s *Server) runTrace(ctx context.Context, q TraceRequest, p taint.Params) ([]byte, error) {
	var buf bytes.Buffer
	if err := s.streamTrace(ctx, q, p, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// streamTrace traces under the chain read lock and writes the canonical
// JSON to w from the trace's compact state (taint.Stream): a trace job's
// result goes to a file and is never held whole in memory.
func (s *Server) streamTrace(ctx context.Context, q TraceRequest, p taint.Params, w io.Writer) error {
	s.e.mu.RLock()
	defer s.e.mu.RUnlock()
	sw := index.SeedWindow{FromHeight: q.SeedFromHeight, ToHeight: q.SeedToHeight}
	var err error
	var attr *attrib.Map
	if p.Inputs, attr, err = s.inputs.get(ctx, s.ix, q.Seeds, sw); err != nil {
		return err
	}
	var seeds []taint.Seed
	for _, sd := range q.Seeds {
		outs, err := s.ix.ResolveSeed(sd, sw)
		if err != nil {
			return err
		}
		for _, o := range outs {
			seeds = append(seeds, taint.Seed{Out: o.Out, Amount: o.Amount})
		}
	}
	var ss []*taint.TraceStream
	defer func() {
		for _, st := range ss {
			st.Close()
		}
	}()
	for _, m := range q.models {
		pm := p
		pm.Model = m
		st, err := taint.Stream(ctx, &index.Graph{Index: s.ix}, attr, seeds, pm, taint.StreamOptions{}, s.log)
		if st != nil {
			ss = append(ss, st)
		}
		if errors.Is(err, taint.ErrLimit) {
			if lim := effTxs(p); lim < p.MaxTxs {
				return fmt.Errorf("%w: the trace visits more than %d transactions (max_txs=%d; the server caps it at %d)", ErrLimit, lim, p.MaxTxs, lim)
			}
			return fmt.Errorf("%w: the trace visits more than max_txs=%d transactions; ask for more (up to %d) and it runs as a job", ErrLimit, p.MaxTxs, s.cfg.Limits.JobMaxTxs)
		}
		if err != nil {
			return err
		}
	}
	return report.WriteStreams(w, ss, q.Format, report.HTMLOptions{Title: "cointrail trace " + strings.Join(q.Seeds, " ")})
}

func (s *Server) handleTrace(w http.ResponseWriter, r *http.Request, _ *APIKey) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	q, p, err := ParseTraceRequest(body, s.cfg.Limits)
	if err != nil {
		return err
	}
	startJob := func() error {
		j, err := s.jobs.start(q.Format, func(ctx context.Context, w io.Writer) error { return s.streamTrace(ctx, q, p, w) })
		if err != nil {
			w.Header().Set("Retry-After", "5")
			return err
		}
		w.Header().Set("Location", "/v1/trace/jobs/"+j.ID)
		writeJSON(w, http.StatusAccepted, j.view())
		return nil
	}
	syncMax := s.cfg.Limits.SyncMaxTxs
	if q.Async || q.MaxTxs > syncMax {
		return startJob()
	}
	// A trace of the default max_txs runs at once within sync_max_txs
	// transactions (a cap that, unless it binds, leaves the result as it
	// is) and becomes a job when it needs more.
	ps := p
	budget := effTxs(p) > syncMax
	if budget {
		ps.TxCap = syncMax
	}
	out, err := s.runTrace(r.Context(), q, ps)
	if budget && errors.Is(err, ErrLimit) {
		return startJob()
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", report.ContentType(q.Format))
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(out)
	return err
}

func (s *Server) handleTraceJob(w http.ResponseWriter, r *http.Request, _ *APIKey) error {
	j, ok := s.jobs.get(r.PathValue("id"))
	if !ok {
		return fmt.Errorf("%w: no trace job %q (jobs are kept in memory: a restart forgets them)", ErrNotFound, r.PathValue("id"))
	}
	if r.URL.Query().Get("result") == "raw" {
		return j.serveResult(w, r)
	}
	writeJSON(w, http.StatusOK, j.view())
	return nil
}

func readBody(r *http.Request) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r.Body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: reading the request body: %v", ErrBadInput, err)
	}
	return buf.Bytes(), nil
}

// jobs runs large traces in the background, one at a time (each holds the
// chain read lock, which delays the next block), and keeps the last
// max_jobs of them in memory.
type jobs struct {
	mu     sync.Mutex
	max    int
	byID   map[string]*job
	order  []string
	run    sync.Mutex // one job traces at a time
	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
}

type job struct {
	ID       string
	format   string // of the result (report.Formats)
	mu       sync.Mutex
	state    string // queued, running, done, failed
	file     string // the result's canonical JSON, on disk
	size     int64
	err      error
	created  time.Time
	finished time.Time
}

// JobView is GET /v1/trace/jobs/{id}. A finished job's result is a file on
// disk; up to inlineResult bytes it is also inlined as Result. Any result,
// however large, is served as is by GET /v1/trace/jobs/{id}?result=raw,
// which honours HTTP Range requests, so a client pages through a result of
// gigabytes by byte ranges and the server never holds it.
type JobView struct {
	ID          string          `json:"id"`
	State       string          `json:"state"`
	CreatedAt   time.Time       `json:"created_at"`
	FinishedAt  *time.Time      `json:"finished_at,omitempty"`
	Error       *APIError       `json:"error,omitempty"`
	ResultBytes int64           `json:"result_bytes,omitempty"`
	Result      json.RawMessage `json:"result,omitempty"`
}

// inlineResult is the largest job result inlined in its JobView.
const inlineResult = 8 << 20

var errTooManyJobs = errors.New("server: too many trace jobs")

func newJobs(max int) *jobs {
	ctx, cancel := context.WithCancel(context.Background())
	return &jobs{max: max, byID: map[string]*job{}, ctx: ctx, cancel: cancel}
}

func (js *jobs) start(format string, fn func(context.Context, io.Writer) error) (*job, error) {
	js.mu.Lock()
	defer js.mu.Unlock()
	if len(js.order) >= js.max {
		// Forget the oldest finished job; if none has finished, refuse.
		drop := -1
		for i, id := range js.order {
			j := js.byID[id]
			j.mu.Lock()
			done := j.state == "done" || j.state == "failed"
			j.mu.Unlock()
			if done {
				drop = i
				break
			}
		}
		if drop < 0 {
			return nil, fmt.Errorf("%w: %d trace jobs are queued or running (max_jobs); retry later", errTooManyJobs, len(js.order))
		}
		js.byID[js.order[drop]].remove()
		delete(js.byID, js.order[drop])
		js.order = append(js.order[:drop], js.order[drop+1:]...)
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	j := &job{ID: hex.EncodeToString(id[:]), state: "queued", created: time.Now().UTC(), format: format}
	js.byID[j.ID] = j
	js.order = append(js.order, j.ID)
	js.wg.Add(1)
	go func() {
		defer js.wg.Done()
		js.run.Lock()
		defer js.run.Unlock()
		j.mu.Lock()
		j.state = "running"
		j.mu.Unlock()
		file, size, err := runToFile(js.ctx, fn)
		j.mu.Lock()
		defer j.mu.Unlock()
		j.finished = time.Now().UTC()
		if err != nil {
			j.state, j.err = "failed", err
			return
		}
		j.state, j.file, j.size = "done", file, size
	}()
	return j, nil
}

func (js *jobs) get(id string) (*job, bool) {
	js.mu.Lock()
	defer js.mu.Unlock()
	j, ok := js.byID[id]
	return j, ok
}

func (js *jobs) count() int {
	js.mu.Lock()
	defer js.mu.Unlock()
	return len(js.order)
}

// cancelAll stops every job and waits for them: none may touch the index
// after the server returns. Their result files go too (jobs live in memory:
// a restart forgets them).
func (js *jobs) cancelAll() {
	js.cancel()
	js.wg.Wait()
	js.mu.Lock()
	defer js.mu.Unlock()
	for _, j := range js.byID {
		j.remove()
	}
}

// runToFile runs fn writing to a new temp file and returns the file.
func runToFile(ctx context.Context, fn func(context.Context, io.Writer) error) (string, int64, error) {
	f, err := os.CreateTemp("", "cointrail-job-*.json")
	if err != nil {
		return "", 0, fmt.Errorf("trace job result file: %w", err)
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	err = fn(ctx, bw)
	if err == nil {
		err = bw.Flush()
	}
	size, _ := f.Seek(0, io.SeekCurrent)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", 0, err
	}
	return f.Name(), size, nil
}

func (j *job) remove() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.file != "" {
		os.Remove(j.file)
		j.file = ""
	}
}

// serveResult sends the result file as is (Range requests honoured).
func (j *job) serveResult(w http.ResponseWriter, r *http.Request) error {
	j.mu.Lock()
	file, state := j.file, j.state
	j.mu.Unlock()
	if file == "" {
		return fmt.Errorf("%w: trace job %s is %s: no result", ErrNotFound, j.ID, state)
	}
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("%w: trace job %s: its result is gone", ErrNotFound, j.ID)
	}
	defer f.Close()
	w.Header().Set("Content-Type", report.ContentType(j.format))
	http.ServeContent(w, r, "", time.Time{}, f)
	return nil
}

func (j *job) view() JobView {
	j.mu.Lock()
	defer j.mu.Unlock()
	v := JobView{ID: j.ID, State: j.state, CreatedAt: j.created, ResultBytes: j.size}
	// Only JSON inlines (Result is a JSON value); other formats are
	// fetched with ?result=raw.
	if j.file != "" && j.size <= inlineResult && report.ContentType(j.format) == "application/json" {
		if b, err := os.ReadFile(j.file); err == nil {
			v.Result = b
		}
	}
	if !j.finished.IsZero() {
		f := j.finished
		v.FinishedAt = &f
	}
	if j.err != nil {
		var e APIError
		e.Error.Status = status(j.err)
		e.Error.Code = statusCodes[e.Error.Status]
		e.Error.Message = j.err.Error()
		v.Error = &e
	}
	return v
}
