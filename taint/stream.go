package taint

import (
	"bufio"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"slices"
	"strconv"
)

// TraceStream is a finished trace whose result is written from the
// tracer's compact state instead of being held: the tainted outputs and
// edges are produced in the canonical order (by output id) on demand, and
// everything before them in the JSON (tip, parameters, seeds, summary) is
// computed once when the stream is made. Close releases the state.
type TraceStream struct {
	t    *tracer
	head Result // Outputs and Edges empty, Summary complete
	nOut int
}

// Head is the result without its outputs and edges: tip, model,
// parameters, seeds and the complete summary. It must not be modified.
func (s *TraceStream) Head() *Result { return &s.head }

// NumOutputs is the number of tainted outputs.
func (s *TraceStream) NumOutputs() int { return s.nOut }

// Close releases the trace's state files.
func (s *TraceStream) Close() error {
	if s.t != nil {
		s.t.ar.release()
		s.t = nil
	}
	return nil
}

// stream computes the head of the result (the summary needs one walk over
// the tainted outputs) and returns the stream.
func (t *tracer) stream(seeds []SeedInfo, truncated bool) (*TraceStream, error) {
	g := t.g
	tipH, tipHash := g.Tip()
	s := &TraceStream{t: t, nOut: t.nOut}
	r := &s.head
	*r = Result{TipHeight: tipH, TipHash: displayHash(tipHash), Model: t.p.Model, Params: t.p, Seeds: seeds,
		Outputs: []TaintedOutput{}, Edges: []Edge{}}
	r.Params.Progress = nil
	r.Params.Inputs = Inputs{}
	r.Inputs = t.p.Inputs
	r.Inputs.LabelFiles = slices.Clone(r.Inputs.LabelFiles)
	r.Inputs.Seeds = slices.Clone(r.Inputs.Seeds)
	r.Inputs.CapsBound = slices.Clone(r.Inputs.CapsBound)
	r.nOut = t.nOut
	hopCapBound := false
	sm := &r.Summary
	sm.TracedSat, sm.FeeSat, sm.InCoinJoinSat, sm.StoppedSat = t.traced, t.fee, t.inCoinJoin, t.stoppedExtra
	sm.TxsVisited, sm.CoinJoins, sm.Consolidations, sm.FanOuts = t.visited, t.coinJoins, t.consolidations, t.fanOuts
	sm.Truncated = truncated
	if t.firstTime <= t.lastTime {
		sm.FirstTime, sm.LastTime = t.firstTime, t.lastTime
	}
	type key struct{ label, category string }
	arrived := map[key]*Arrival{}
	cur := txCursor{g: g}
	for o, ok := t.present.next(0); ok; o, ok = t.present.next(o + 1) {
		rc := &t.st[o]
		sm.MaxHop = max(sm.MaxHop, int(rc.hops))
		switch rc.stop {
		case StopUnspent:
			sm.UnspentSat += rc.taint
		case StopArrival:
			var e Entity
			if t.attr != nil {
				if addr := g.OutAddr(o); addr != 0 {
					e, _ = t.attr.Entity(addr)
				}
			}
			cur.locate(o)
			h := cur.height
			k := key{e.Label, e.Category}
			a, ok := arrived[k]
			if !ok {
				a = &Arrival{Label: e.Label, Category: e.Category, FirstHeight: h}
				arrived[k] = a
			}
			a.Sat += rc.taint
			a.FirstHeight = min(a.FirstHeight, h)
		case StopDust:
			sm.DustSat += rc.taint
		case StopMaxHops, StopWindow, StopCoinJoin, StopLimit:
			sm.StoppedSat += rc.taint
			if rc.stop == StopMaxHops && t.maxHops != t.p.MaxHops && (t.p.MaxHops == 0 || int(rc.hops) < t.p.MaxHops) {
				hopCapBound = true
			}
		case StopMined:
			sm.MinedSat += rc.taint
		}
	}
	sm.Arrived = make([]Arrival, 0, len(arrived))
	for _, a := range arrived {
		sm.Arrived = append(sm.Arrived, *a)
	}
	slices.SortFunc(sm.Arrived, func(a, b Arrival) int {
		return cmp.Or(cmp.Compare(b.Sat, a.Sat), cmp.Compare(a.Label, b.Label), cmp.Compare(a.Category, b.Category))
	})
	sm.PeelChains = t.peelChains()
	if hopCapBound {
		r.Inputs.CapsBound = append(r.Inputs.CapsBound, Cap{Param: "max_hops", Value: t.maxHops})
	}
	if t.txCapBound {
		r.Inputs.CapsBound = append(r.Inputs.CapsBound, Cap{Param: "max_txs", Value: t.maxTxs})
	}
	r.Inputs.normalize()
	return s, nil
}

// peelChains links the visited peel steps whose input is the larger output
// of another visited peel step. Each step has one input, so the links form
// simple paths; those of at least MinPeelChain steps are reported in the
// order of their first step. A step's successor is the spender of its
// larger output if that is a visited peel step (its one input is then that
// output); a step starts a chain if its input is not the larger output of
// a visited peel step.
func (t *tracer) peelChains() []PeelChain {
	chains := []PeelChain{}
	g := t.g
	for tx, ok := t.peel.next(0); ok; tx, ok = t.peel.next(tx + 1) {
		in, _ := g.TxInputs(uint32(tx))
		if t.larger.has(g.InputPrevOut(in)) {
			continue
		}
		var c PeelChain
		last := uint32(tx)
		for q := uint32(tx); ; {
			first, _ := g.TxOutputs(q)
			v0, v1 := g.OutValue(first), g.OutValue(first+1)
			l := largerOf(v0, v1)
			c.Length++
			c.PeeledSat += [2]int64{v1, v0}[l]
			last = q
			next := g.OutSpender(first + uint64(l))
			if next == NoTx || !t.peel.has(uint64(next)) {
				break
			}
			if next <= q { // a loop of spenders: only a corrupt graph has one
				t.corrupt("output %d of tx %d is spent by tx %d, which does not come after it", first+uint64(l), q, next)
				break
			}
			q = next
		}
		if c.Length >= MinPeelChain {
			c.FirstTxID, c.LastTxID = t.txid(uint32(tx)), t.txid(last)
			chains = append(chains, c)
		}
	}
	return chains
}

// txCursor finds the creating transaction of outputs visited in increasing
// id order: a few steps forward, else a binary search, so a walk over all
// outputs reads the transaction table sequentially.
type txCursor struct {
	g          Graph
	valid      bool
	tx         uint32
	first, end uint64
	height     uint32
	hash       Hash
	hashDone   bool
	timeH      uint32
	timeS      string
}

// time is the RFC 3339 UTC time of the current transaction's block.
func (c *txCursor) time() string {
	if c.timeS == "" || c.timeH != c.height {
		c.timeH, c.timeS = c.height, UTC(c.g.BlockTime(c.height))
	}
	return c.timeS
}

func (c *txCursor) set(tx uint32) {
	first, n := c.g.TxOutputs(tx)
	c.tx, c.first, c.end, c.valid, c.hashDone = tx, first, first+uint64(n), true, false
	c.height = c.g.TxHeight(tx)
}

func (c *txCursor) locate(o uint64) {
	if c.valid && o >= c.first && o < c.end {
		return
	}
	if c.valid && o >= c.end {
		for i := 0; i < 8 && c.tx+1 < c.g.NumTxs(); i++ {
			c.set(c.tx + 1)
			if o < c.end {
				return
			}
		}
	}
	c.set(c.g.OutTx(o))
}

func (c *txCursor) txid() Hash {
	if !c.hashDone {
		c.hash, c.hashDone = displayHash(c.g.TxHash(c.tx)), true
	}
	return c.hash
}

// EachOutput calls fn for every tainted output in output id order. The
// TaintedOutput (and its Segments) is reused: fn must copy what it keeps.
// The graph is read again here: a corrupt record met on the way is returned
// at the end, after the outputs (the caller must not use what it wrote).
func (s *TraceStream) EachOutput(fn func(o *TaintedOutput) error) error {
	t := s.t
	g := t.g
	cur := txCursor{g: g}
	var o TaintedOutput
	var segBuf []Seg
	for id, ok := t.present.next(0); ok; id, ok = t.present.next(id + 1) {
		rc := &t.st[id]
		cur.locate(id)
		addr := g.OutAddr(id)
		o = TaintedOutput{Out: id, TxID: cur.txid(), Vout: uint32(id - cur.first), Address: g.AddrString(addr),
			ValueSat: g.OutValue(id), TaintSat: rc.taint, Hops: int(rc.hops),
			Spent: g.OutSpender(id) != NoTx, Stop: rc.stop, Height: cur.height, Time: cur.time()}
		if segs := t.segsOf(id); len(segs) > 0 {
			segBuf = append(segBuf[:0], segs...)
			o.Segments = segBuf
		}
		if t.attr != nil && addr != 0 {
			if e, ok := t.attr.Entity(addr); ok {
				o.Label, o.Category, o.LabelSource, o.LabelConfidence = e.Label, e.Category, e.Source, e.Confidence
			}
		}
		if err := fn(&o); err != nil {
			return err
		}
	}
	return t.fail(nil)
}

// EachEdge calls fn for every flow edge in the canonical order: by source
// transaction, its outputs' edges (by vout) before its fee edge. Forward,
// an output whose taint went on (stop "followed") has one edge to its
// spender carrying all its taint; backward, an output that got taint from
// its spender has one edge from it. The Edge is reused.
func (s *TraceStream) EachEdge(fn func(e *Edge) error) error {
	t := s.t
	g := t.g
	cur := txCursor{g: g}
	fees := t.fees
	var e Edge
	flush := func(below uint32, all bool) error {
		for len(fees) > 0 && (all || fees[0].payer < below) {
			f := fees[0]
			fees = fees[1:]
			e = Edge{FromTx: t.txid(f.payer), ToTx: t.txid(f.cb), Sat: f.sat, Fee: true}
			if err := fn(&e); err != nil {
				return err
			}
		}
		return nil
	}
	back := t.p.Direction == Backward
	for id, ok := t.present.next(0); ok; id, ok = t.present.next(id + 1) {
		rc := &t.st[id]
		sat := rc.taint
		if back {
			if rc.flags&fEdge == 0 {
				continue
			}
			if v, ok := t.edgeSat[id]; ok {
				sat = v
			}
		} else if rc.stop != StopFollowed {
			continue
		}
		cur.locate(id)
		if err := flush(cur.tx, false); err != nil {
			return err
		}
		e = Edge{FromTx: cur.txid(), ToTx: t.txid(g.OutSpender(id)), Vout: uint32(id - cur.first), Sat: sat}
		if err := fn(&e); err != nil {
			return err
		}
	}
	if err := flush(0, true); err != nil {
		return err
	}
	return t.fail(nil)
}

// Result builds the whole Result in memory, as Trace returns it.
func (s *TraceStream) Result() (*Result, error) {
	r := s.head
	r.Summary.Arrived = slices.Clone(r.Summary.Arrived)
	r.Summary.PeelChains = slices.Clone(r.Summary.PeelChains)
	r.Seeds = slices.Clone(r.Seeds)
	r.Outputs = make([]TaintedOutput, 0, s.nOut)
	if err := s.EachOutput(func(o *TaintedOutput) error {
		c := *o
		if len(c.Segments) > 0 {
			c.Segments = slices.Clone(c.Segments)
		} else {
			c.Segments = nil
		}
		r.Outputs = append(r.Outputs, c)
		return nil
	}); err != nil {
		return nil, err
	}
	if err := s.EachEdge(func(e *Edge) error { r.Edges = append(r.Edges, *e); return nil }); err != nil {
		return nil, err
	}
	return &r, nil
}

// headSuffix is how the JSON of the head ends: the empty outputs and edges
// the stream fills in.
const headSuffix = `"outputs":[],"edges":[]}`

// WriteJSON writes the canonical JSON of the result (the bytes of
// Result.JSON, without a trailing newline) and returns its result_sha256.
// The hash covers the bytes as they are written, so nothing is held.
func (s *TraceStream) WriteJSON(w io.Writer) ([32]byte, error) {
	var sum [32]byte
	head, err := json.Marshal(&s.head)
	if err != nil {
		return sum, fmt.Errorf("taint: encode result: %w", err)
	}
	if len(head) < len(headSuffix) || string(head[len(head)-len(headSuffix):]) != headSuffix {
		return sum, fmt.Errorf("taint: encode result: the head does not end with %s (internal error)", headSuffix)
	}
	jw := newHashWriter(w)
	jw.buf = append(jw.buf, head[:len(head)-len(headSuffix)]...)
	jw.buf = append(jw.buf, `"outputs":[`...)
	n := 0
	err = s.EachOutput(func(o *TaintedOutput) error {
		if n > 0 {
			jw.buf = append(jw.buf, ',')
		}
		n++
		jw.buf = appendOutputJSON(jw.buf, o)
		return jw.maybeFlush()
	})
	if err != nil {
		return sum, err
	}
	jw.buf = append(jw.buf, `],"edges":[`...)
	n = 0
	err = s.EachEdge(func(e *Edge) error {
		if n > 0 {
			jw.buf = append(jw.buf, ',')
		}
		n++
		jw.buf = appendEdgeJSON(jw.buf, e)
		return jw.maybeFlush()
	})
	if err != nil {
		return sum, err
	}
	jw.buf = append(jw.buf, ']')
	if err := jw.flush(); err != nil {
		return sum, err
	}
	jw.h.Write([]byte{'}'})
	jw.h.Sum(sum[:0])
	tail := append([]byte(hashKey), hex.EncodeToString(sum[:])...)
	tail = append(tail, '"', '}')
	if _, err := w.Write(tail); err != nil {
		return sum, err
	}
	return sum, nil
}

// hashWriter buffers writes to w and hashes what it passes on.
type hashWriter struct {
	w   io.Writer
	h   hash.Hash
	buf []byte
}

func newHashWriter(w io.Writer) *hashWriter {
	return &hashWriter{w: w, h: sha256.New(), buf: make([]byte, 0, 128<<10)}
}

func (j *hashWriter) maybeFlush() error {
	if len(j.buf) < 64<<10 {
		return nil
	}
	return j.flush()
}

func (j *hashWriter) flush() error {
	j.h.Write(j.buf)
	_, err := j.w.Write(j.buf)
	j.buf = j.buf[:0]
	return err
}

// appendOutputJSON appends o exactly as encoding/json encodes a
// TaintedOutput.
func appendOutputJSON(b []byte, o *TaintedOutput) []byte {
	b = append(b, `{"txid":"`...)
	b = hex.AppendEncode(b, o.TxID[:])
	b = append(b, `","vout":`...)
	b = strconv.AppendUint(b, uint64(o.Vout), 10)
	b = append(b, `,"address":`...)
	b = appendJSONString(b, o.Address)
	b = append(b, `,"value_sat":`...)
	b = strconv.AppendInt(b, o.ValueSat, 10)
	b = append(b, `,"taint_sat":`...)
	b = strconv.AppendInt(b, o.TaintSat, 10)
	if len(o.Segments) > 0 {
		b = append(b, `,"segments":[`...)
		for i, sg := range o.Segments {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"start":`...)
			b = strconv.AppendInt(b, sg.Start, 10)
			b = append(b, `,"end":`...)
			b = strconv.AppendInt(b, sg.End, 10)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"hops":`...)
	b = strconv.AppendInt(b, int64(o.Hops), 10)
	b = append(b, `,"spent":`...)
	b = strconv.AppendBool(b, o.Spent)
	b = append(b, `,"stop":`...)
	b = appendJSONString(b, o.Stop.String())
	b = append(b, `,"label":`...)
	b = appendJSONString(b, o.Label)
	b = append(b, `,"category":`...)
	b = appendJSONString(b, o.Category)
	b = append(b, `,"height":`...)
	b = strconv.AppendUint(b, uint64(o.Height), 10)
	b = append(b, `,"time":`...)
	b = appendJSONString(b, o.Time)
	return append(b, '}')
}

// appendEdgeJSON appends e exactly as encoding/json encodes an Edge.
func appendEdgeJSON(b []byte, e *Edge) []byte {
	b = append(b, `{"from_txid":"`...)
	b = hex.AppendEncode(b, e.FromTx[:])
	b = append(b, `","to_txid":"`...)
	b = hex.AppendEncode(b, e.ToTx[:])
	b = append(b, `","vout":`...)
	b = strconv.AppendUint(b, uint64(e.Vout), 10)
	b = append(b, `,"sat":`...)
	b = strconv.AppendInt(b, e.Sat, 10)
	if e.Fee {
		b = append(b, `,"fee":true`...)
	}
	return append(b, '}')
}

// appendJSONString appends s as encoding/json does: printable ASCII other
// than `"`, `\`, `<`, `>` and `&` as is, anything else through json.Marshal.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// WriteJSONAll writes the results of several streams as Result.JSON would
// for one (no brackets) or as a JSON array of them, then a newline: the
// bytes `cointrail trace --format json` prints.
func WriteJSONAll(w io.Writer, ss []*TraceStream) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if len(ss) > 1 {
		bw.WriteByte('[')
	}
	for i, s := range ss {
		if i > 0 {
			bw.WriteByte(',')
		}
		if _, err := s.WriteJSON(bw); err != nil {
			return err
		}
	}
	if len(ss) > 1 {
		bw.WriteByte(']')
	}
	bw.WriteByte('\n')
	return bw.Flush()
}
