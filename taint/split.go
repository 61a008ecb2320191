package taint

import (
	"cmp"
	"fmt"
	"math/bits"
	"slices"
)

// MaxSat is the most satoshis that can exist (21 million BTC); no value or
// sum of values in a valid transaction exceeds it.
const MaxSat = 21_000_000 * 100_000_000

// Seg is a tainted interval [Start, End) of satoshis inside one output's
// value, counted from the output's first satoshi.
type Seg struct {
	Start int64 `json:"start"`
	End   int64 `json:"end"`
}

// Flow is a value and the part of it that is tainted. For FIFO and LIFO the
// tainted part is Segs (sorted, disjoint, inside [0, Value), summing to
// Taint); a Flow with Taint > 0 and no Segs is tainted on its first Taint
// satoshis. The other models use only Taint.
type Flow struct {
	Value int64
	Taint int64
	Segs  []Seg
}

// Split applies model m to one transaction: ins are its inputs in order with
// their taint, outs its output values in order. It returns the taint of each
// output and, last, of the fee (whose Value is the fee). Except for Poison,
// the sum of the returned Taint equals the sum of the inputs' Taint.
func Split(m Model, ins []Flow, outs []int64) ([]Flow, error) {
	if !m.Valid() {
		return nil, fmt.Errorf("%w: model %s (valid: %s)", ErrBadParams, m, validModels)
	}
	if err := checkFlows("input", ins, m.segmented()); err != nil {
		return nil, err
	}
	if err := checkValues("output", outs); err != nil {
		return nil, err
	}
	var s splitter
	res, err := s.forward(m, ins, outs)
	if err != nil {
		return nil, err
	}
	return cloneFlows(res), nil
}

// Unsplit is Split run backwards: given the taint of a transaction's outputs
// it says which inputs (values ins, in order) the tainted value came from.
// The fee carries no taint backwards. Except for Poison, the sum of the
// returned Taint equals the sum of the outputs' Taint.
func Unsplit(m Model, ins []int64, outs []Flow) ([]Flow, error) {
	if !m.Valid() {
		return nil, fmt.Errorf("%w: model %s (valid: %s)", ErrBadParams, m, validModels)
	}
	if err := checkValues("input", ins); err != nil {
		return nil, err
	}
	if err := checkFlows("output", outs, m.segmented()); err != nil {
		return nil, err
	}
	var s splitter
	res, err := s.backward(m, ins, outs)
	if err != nil {
		return nil, err
	}
	return cloneFlows(res), nil
}

func checkValues(what string, vals []int64) error {
	var sum int64
	for i, v := range vals {
		if v < 0 || v > MaxSat {
			return fmt.Errorf("%w: %s %d value %d out of range [0, %d]", ErrBadParams, what, i, v, int64(MaxSat))
		}
		sum += v
		if sum > MaxSat {
			return fmt.Errorf("%w: %s values sum past %d", ErrBadParams, what, int64(MaxSat))
		}
	}
	return nil
}

func checkFlows(what string, fs []Flow, segmented bool) error {
	var sum int64
	for i, f := range fs {
		if f.Value < 0 || f.Value > MaxSat {
			return fmt.Errorf("%w: %s %d value %d out of range [0, %d]", ErrBadParams, what, i, f.Value, int64(MaxSat))
		}
		sum += f.Value
		if sum > MaxSat {
			return fmt.Errorf("%w: %s values sum past %d", ErrBadParams, what, int64(MaxSat))
		}
		if f.Taint < 0 || f.Taint > f.Value {
			return fmt.Errorf("%w: %s %d taint %d out of range [0, %d]", ErrBadParams, what, i, f.Taint, f.Value)
		}
		if !segmented || f.Segs == nil {
			continue
		}
		var t, end int64
		for k, sg := range f.Segs {
			if sg.Start < end || sg.End <= sg.Start || sg.End > f.Value {
				return fmt.Errorf("%w: %s %d segment %d [%d,%d) not sorted, disjoint and inside [0,%d)",
					ErrBadParams, what, i, k, sg.Start, sg.End, f.Value)
			}
			t += sg.End - sg.Start
			end = sg.End
		}
		if t != f.Taint {
			return fmt.Errorf("%w: %s %d segments sum to %d, taint is %d", ErrBadParams, what, i, t, f.Taint)
		}
	}
	return nil
}

func cloneFlows(fs []Flow) []Flow {
	out := make([]Flow, len(fs))
	for i, f := range fs {
		out[i] = Flow{Value: f.Value, Taint: f.Taint}
		if len(f.Segs) > 0 {
			out[i].Segs = slices.Clone(f.Segs)
		}
	}
	return out
}

// splitter holds the scratch space of Split and Unsplit so the trace engine
// applies a model to millions of transactions without allocating. Results
// (and their Segs) are valid until the next call.
type splitter struct {
	out    []Flow
	lens   []int64
	amt    []int64
	segBuf []Seg
	segOff []int
	segEnd []int
	stream []Seg
	order  []int
	rank   []ranked
}

type ranked struct {
	key uint64 // haircut: remainder; TIHO: value
	idx int
}

// byKeyDesc orders by key, highest first, then by index, lowest first.
func byKeyDesc(a, b ranked) int {
	if c := cmp.Compare(b.key, a.key); c != 0 {
		return c
	}
	return cmp.Compare(a.idx, b.idx)
}

// mulDiv returns a·b/c and its remainder in 128-bit arithmetic. It needs
// a·b < c·2^64, which holds whenever a <= c (a share of a total).
func mulDiv(a, b, c uint64) (q, r uint64) {
	hi, lo := bits.Mul64(a, b)
	return bits.Div64(hi, lo, c)
}

func (s *splitter) reset(n int) {
	s.out = slices.Grow(s.out[:0], n)[:n]
	s.lens = slices.Grow(s.lens[:0], n)[:n]
	s.amt = slices.Grow(s.amt[:0], n)[:n]
	s.segOff = slices.Grow(s.segOff[:0], n)[:n]
	s.segEnd = slices.Grow(s.segEnd[:0], n)[:n]
	clear(s.out)
	clear(s.amt)
	s.segBuf = s.segBuf[:0]
}

// forward: inputs → outputs, then the fee.
func (s *splitter) forward(m Model, ins []Flow, outs []int64) ([]Flow, error) {
	var v, t, o int64
	for _, in := range ins {
		if in.Value < 0 || in.Taint < 0 || in.Taint > in.Value {
			return nil, fmt.Errorf("%w: input value %d taint %d", ErrCorrupt, in.Value, in.Taint)
		}
		v += in.Value
		t += in.Taint
	}
	for _, x := range outs {
		if x < 0 {
			return nil, fmt.Errorf("%w: output value %d", ErrCorrupt, x)
		}
		o += x
	}
	if v > MaxSat {
		return nil, fmt.Errorf("%w: inputs sum to %d sat, more than exist", ErrCorrupt, v)
	}
	fee := v - o
	if fee < 0 {
		return nil, fmt.Errorf("%w: outputs (%d sat) exceed inputs (%d sat)", ErrCorrupt, o, v)
	}
	n := len(outs)
	s.reset(n + 1)
	copy(s.lens, outs)
	s.lens[n] = fee
	if t > 0 {
		switch m {
		case Poison:
			copy(s.amt, s.lens)
		case Haircut:
			s.apportion(t, v, s.lens)
		case TIHO:
			// The fee is taken from every input pro rata first, so the fee
			// carries T·fee/V of the taint (rounded down); the rest fills the
			// outputs largest first.
			q, _ := mulDiv(uint64(fee), uint64(t), uint64(v))
			s.highestFirst(t-int64(q), s.lens[:n])
			s.amt[n] = int64(q)
		case FIFO, LIFO:
			s.stream = s.stream[:0]
			var p int64
			for _, in := range ins {
				s.pushFlow(p, in)
				p += in.Value
			}
			s.slotOrder(m, n)
			s.cut(s.lens)
		}
	}
	for j := range s.out {
		s.out[j].Value = s.lens[j]
		s.out[j].Taint = s.amt[j]
	}
	s.attachSegs(m)
	return s.out, nil
}

// backward: outputs → inputs. The fee carries no taint.
func (s *splitter) backward(m Model, ins []int64, outs []Flow) ([]Flow, error) {
	var v, t, o int64
	for _, x := range ins {
		if x < 0 {
			return nil, fmt.Errorf("%w: input value %d", ErrCorrupt, x)
		}
		v += x
	}
	for _, f := range outs {
		if f.Value < 0 || f.Taint < 0 || f.Taint > f.Value {
			return nil, fmt.Errorf("%w: output value %d taint %d", ErrCorrupt, f.Value, f.Taint)
		}
		o += f.Value
		t += f.Taint
	}
	if v > MaxSat {
		return nil, fmt.Errorf("%w: inputs sum to %d sat, more than exist", ErrCorrupt, v)
	}
	if o > v {
		return nil, fmt.Errorf("%w: outputs (%d sat) exceed inputs (%d sat)", ErrCorrupt, o, v)
	}
	s.reset(len(ins))
	copy(s.lens, ins)
	if t > 0 {
		switch m {
		case Poison:
			copy(s.amt, s.lens)
		case Haircut:
			s.apportion(t, v, s.lens)
		case TIHO:
			s.highestFirst(t, s.lens)
		case FIFO, LIFO:
			// Lay the outputs and the fee on the input stream where the
			// forward rule put them, then cut that stream by the inputs.
			n := len(outs)
			s.slotOrder(m, n)
			s.stream = s.stream[:0]
			var p int64
			for _, j := range s.order {
				if j == n {
					p += v - o
					continue
				}
				s.pushFlow(p, outs[j])
				p += outs[j].Value
			}
			s.order = s.order[:0]
			for i := range ins {
				s.order = append(s.order, i)
			}
			s.cut(s.lens)
		}
	}
	for i := range s.out {
		s.out[i].Value = s.lens[i]
		s.out[i].Taint = s.amt[i]
	}
	s.attachSegs(m)
	return s.out, nil
}

// apportion gives slot i floor(w_i·t/v) and hands the t - Σ floors
// leftover satoshis one each to the largest remainders, ties to the lowest
// index. Σw = v and t <= v, so every share fits and no slot exceeds ⌈w_i·t/v⌉.
func (s *splitter) apportion(t, v int64, w []int64) {
	s.rank = s.rank[:0]
	var sum int64
	for i, wi := range w {
		q, r := mulDiv(uint64(wi), uint64(t), uint64(v))
		s.amt[i] = int64(q)
		sum += int64(q)
		if r > 0 {
			s.rank = append(s.rank, ranked{key: r, idx: i})
		}
	}
	if extra := int(t - sum); extra > 0 {
		slices.SortFunc(s.rank, byKeyDesc)
		for _, rk := range s.rank[:extra] {
			s.amt[rk.idx]++
		}
	}
}

// highestFirst pours t into the slots of values w, largest value first
// (ties to the lowest index), each slot filled up to its value.
func (s *splitter) highestFirst(t int64, w []int64) {
	s.rank = s.rank[:0]
	for i, wi := range w {
		if wi > 0 {
			s.rank = append(s.rank, ranked{key: uint64(wi), idx: i})
		}
	}
	slices.SortFunc(s.rank, byKeyDesc)
	for _, rk := range s.rank {
		if t == 0 {
			break
		}
		x := min(t, int64(rk.key))
		s.amt[rk.idx] = x
		t -= x
	}
}

// slotOrder sets the order in which n outputs and the fee (slot n) lie on
// the stream of input value: FIFO outputs in order then the fee; LIFO the
// reverse (the stream is consumed from its end), so the fee is the stream's
// beginning.
func (s *splitter) slotOrder(m Model, n int) {
	s.order = s.order[:0]
	if m == FIFO {
		for j := 0; j <= n; j++ {
			s.order = append(s.order, j)
		}
		return
	}
	for j := n; j >= 0; j-- {
		s.order = append(s.order, j)
	}
}

// pushFlow appends f's tainted intervals, shifted to stream position p,
// merging intervals that touch.
func (s *splitter) pushFlow(p int64, f Flow) {
	if f.Taint == 0 {
		return
	}
	if f.Segs == nil {
		s.pushSeg(p, p+f.Taint)
		return
	}
	for _, sg := range f.Segs {
		s.pushSeg(p+sg.Start, p+sg.End)
	}
}

func (s *splitter) pushSeg(a, b int64) {
	if k := len(s.stream) - 1; k >= 0 && s.stream[k].End == a {
		s.stream[k].End = b
		return
	}
	s.stream = append(s.stream, Seg{a, b})
}

// cut lays the slots of lengths lens on the stream one after the other in
// s.order and gives each the tainted intervals that fall inside it,
// relative to its own start.
func (s *splitter) cut(lens []int64) {
	k := 0
	var a int64
	for _, j := range s.order {
		b := a + lens[j]
		for k < len(s.stream) && s.stream[k].End <= a {
			k++
		}
		off := len(s.segBuf)
		var t int64
		for i := k; i < len(s.stream) && s.stream[i].Start < b; i++ {
			lo, hi := max(s.stream[i].Start, a), min(s.stream[i].End, b)
			if hi > lo {
				s.segBuf = append(s.segBuf, Seg{lo - a, hi - a})
				t += hi - lo
			}
		}
		s.segOff[j], s.segEnd[j] = off, len(s.segBuf)
		s.amt[j] = t
		a = b
	}
}

func (s *splitter) attachSegs(m Model) {
	if !m.segmented() {
		return
	}
	for j := range s.out {
		if s.amt[j] == 0 {
			s.out[j].Segs = nil
			continue
		}
		off, end := s.segOff[j], s.segEnd[j]
		s.out[j].Segs = s.segBuf[off:end:end]
	}
}
