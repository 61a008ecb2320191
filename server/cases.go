package server

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/labels"
	"github.com/cointrail/cointrail/notes"
	"github.com/cointrail/cointrail/taint"
)

// CaseSpec is what a user gives to open a case: where the stolen funds
// are (seeds, as `cointrail trace` takes them), how to follow them (a taint
// model and stop rules) and which addresses to watch.
type CaseSpec struct {
	Name           string   `json:"name"`
	Seeds          []string `json:"seeds"`
	SeedFromHeight uint32   `json:"seed_from_height,omitempty"`
	SeedToHeight   uint32   `json:"seed_to_height,omitempty"`
	Model          string   `json:"model,omitempty"`           // default haircut
	MaxHops        int      `json:"max_hops,omitempty"`        // 0: unlimited
	MinSats        *int64   `json:"min_sats,omitempty"`        // default 1000
	StopAtService  *bool    `json:"stop_at_service,omitempty"` // default true
	StopAtCoinJoin bool     `json:"stop_at_coinjoin,omitempty"`
	Watch          []string `json:"watch,omitempty"`
	// Note, when given, becomes the case's first note (notes.Note on
	// case:ID); it is not part of the case definition.
	Note string `json:"note,omitempty"`
}

// Case is a stored case: its spec made explicit, plus the block its
// state was first computed at.
type Case struct {
	ID             uint32    `json:"id"`
	Name           string    `json:"name"`
	Seeds          []string  `json:"seeds"`
	SeedFromHeight uint32    `json:"seed_from_height"`
	SeedToHeight   uint32    `json:"seed_to_height"`
	Model          string    `json:"model"`
	MaxHops        int       `json:"max_hops"`
	MinSats        int64     `json:"min_sats"`
	StopAtService  bool      `json:"stop_at_service"`
	StopAtCoinJoin bool      `json:"stop_at_coinjoin"`
	Watch          []string  `json:"watch"`
	CreatedAt      time.Time `json:"created_at"`
	// AsOfHeight/AsOfHash: the tip the catch-up trace ran at; blocks up to
	// it are already in the state.
	AsOfHeight int64  `json:"as_of_height"`
	AsOfHash   string `json:"as_of_hash"`
	// Rebuild: a reorg undid blocks the catch-up trace had seen; the state
	// is traced again from the seeds once the new chain is in.
	Rebuild bool `json:"rebuild,omitempty"`
	// Error stops the case: its seeds left the chain or it outgrew a limit.
	Error string `json:"error,omitempty"`
}

// Limits on a case spec.
const (
	maxCaseName  = 200
	maxSeeds     = 100
	maxSeedLen   = 200
	maxWatch     = 1000
	maxCaseHops  = 100_000
	defaultMinSt = 1000
)

// ParseCaseSpec decodes and checks a case spec (JSON) for network net. It
// does not look at the index: seeds are resolved when the case is created.
func ParseCaseSpec(body []byte, net chain.Network) (CaseSpec, error) {
	var s CaseSpec
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("%w: case: %v", ErrBadInput, jsonError(err))
	}
	if dec.More() {
		return s, fmt.Errorf("%w: case: trailing data after the JSON object", ErrBadInput)
	}
	return s, s.Check(net)
}

// Check validates a spec and fills in its defaults.
func (s *CaseSpec) Check(net chain.Network) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: case: %s", ErrBadInput, fmt.Sprintf(format, a...))
	}
	s.Name = strings.TrimSpace(s.Name)
	switch {
	case s.Name == "":
		return bad("name is empty")
	case s.Note != "" && notes.CheckText(s.Note) != nil:
		return bad("note: %v", notes.CheckText(s.Note))
	case len(s.Name) > maxCaseName || !labels.Printable(s.Name):
		return bad("name: at most %d bytes of one line of UTF-8 without control characters", maxCaseName)
	case len(s.Seeds) == 0:
		return bad("no seeds (TXID:VOUT, TXID or ADDRESS, optionally @SATS)")
	case len(s.Seeds) > maxSeeds:
		return bad("%d seeds, at most %d", len(s.Seeds), maxSeeds)
	case len(s.Watch) > maxWatch:
		return bad("%d watched addresses, at most %d", len(s.Watch), maxWatch)
	case s.MaxHops < 0 || s.MaxHops > maxCaseHops:
		return bad("max_hops %d: want 0 (unlimited) .. %d", s.MaxHops, maxCaseHops)
	case s.MinSats != nil && (*s.MinSats < 0 || *s.MinSats > taint.MaxSat):
		return bad("min_sats %d out of range", *s.MinSats)
	case s.SeedToHeight != 0 && s.SeedFromHeight > s.SeedToHeight:
		return bad("seed_from_height %d is above seed_to_height %d", s.SeedFromHeight, s.SeedToHeight)
	}
	for i, sd := range s.Seeds {
		if sd = strings.TrimSpace(sd); sd == "" || len(sd) > maxSeedLen || !utf8.ValidString(sd) {
			return bad("seed %d: empty or longer than %d bytes", i, maxSeedLen)
		}
		s.Seeds[i] = sd
	}
	if s.Model == "" {
		s.Model = taint.Haircut.String()
	}
	m, err := taint.ParseModel(s.Model)
	if err != nil {
		return fmt.Errorf("%w: case: %w", ErrBadInput, err)
	}
	s.Model = m.String()
	if s.MinSats == nil {
		v := int64(defaultMinSt)
		s.MinSats = &v
	}
	if s.StopAtService == nil {
		t := true
		s.StopAtService = &t
	}
	for i, w := range s.Watch {
		if len(w) > maxSeedLen {
			return bad("watch %d: longer than %d bytes", i, maxSeedLen)
		}
		if _, err := chain.ParseAddress(net, strings.TrimSpace(w)); err != nil {
			return fmt.Errorf("%w: case: watch %d: %w", ErrBadInput, i, err)
		}
		s.Watch[i] = strings.TrimSpace(w)
	}
	return nil
}

func (s *CaseSpec) toCase(id uint32, now time.Time) Case {
	return Case{ID: id, Name: s.Name, Seeds: slices.Clone(s.Seeds), SeedFromHeight: s.SeedFromHeight, SeedToHeight: s.SeedToHeight,
		Model: s.Model, MaxHops: s.MaxHops, MinSats: *s.MinSats, StopAtService: *s.StopAtService, StopAtCoinJoin: s.StopAtCoinJoin,
		Watch: append([]string{}, s.Watch...), CreatedAt: now.UTC().Truncate(time.Second), AsOfHeight: -1}
}

func (c *Case) model() taint.Model {
	m, _ := taint.ParseModel(c.Model)
	return m
}

func (c *Case) params(maxTxs int) taint.Params {
	return taint.Params{Model: c.model(), Direction: taint.Forward, MaxHops: c.MaxHops, MinSats: c.MinSats, MaxTxs: maxTxs,
		StopAtService: c.StopAtService, StopAtCoinJoin: c.StopAtCoinJoin}
}

// CaseSummary is where a case's taint is now. For every model but poison
// TracedSat = UnspentSat + ArrivedSat + FeeSat + DustSat + StoppedSat, the
// same buckets `cointrail trace` reports for the same seeds at the same tip.
type CaseSummary struct {
	TracedSat      int64           `json:"traced_sat"`
	UnspentSat     int64           `json:"unspent_sat"`
	UnspentOutputs int             `json:"unspent_outputs"`
	ArrivedSat     int64           `json:"arrived_sat"`
	Arrived        []taint.Arrival `json:"arrived"`
	FeeSat         int64           `json:"fee_sat"`
	DustSat        int64           `json:"dust_sat"`
	StoppedSat     int64           `json:"stopped_sat"`
	InCoinJoinSat  int64           `json:"in_coinjoin_sat"`
	TxsVisited     int             `json:"txs_visited"`
	CoinJoins      int             `json:"coinjoins"`
	Consolidations int             `json:"consolidations"`
	FanOuts        int             `json:"fan_outs"`
	MaxHop         int             `json:"max_hop"`
	LastHeight     int64           `json:"last_height"` // the last block that moved the case's taint (-1: none since the catch-up)
}

func (s *CaseSummary) addArrival(label, category string, sat int64, height uint32) {
	for i := range s.Arrived {
		a := &s.Arrived[i]
		if a.Label == label && a.Category == category {
			a.Sat += sat
			a.FirstHeight = min(a.FirstHeight, height)
			s.sortArrived()
			s.ArrivedSat += sat
			return
		}
	}
	s.Arrived = append(s.Arrived, taint.Arrival{Label: label, Category: category, Sat: sat, FirstHeight: height})
	s.ArrivedSat += sat
	s.sortArrived()
}

func (s *CaseSummary) sortArrived() {
	slices.SortFunc(s.Arrived, func(a, b taint.Arrival) int {
		if a.Sat != b.Sat {
			if a.Sat > b.Sat {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Label+"\x00"+a.Category, b.Label+"\x00"+b.Category)
	})
}

// liveOut is an unspent output holding a case's taint. stop is
// taint.StopFollowed for one whose taint moves on when it is spent, or the
// reason it will not (dust, max_hops, coinjoin).
type liveOut struct {
	taint int64
	hops  uint32
	stop  taint.Stop
	segs  []taint.Seg
}

func (l *liveOut) encode() []byte {
	b := binary.AppendUvarint(nil, uint64(l.taint))
	b = binary.AppendUvarint(b, uint64(l.hops))
	b = append(b, stopCode(l.stop))
	b = binary.AppendUvarint(b, uint64(len(l.segs)))
	for _, s := range l.segs {
		b = binary.AppendUvarint(b, uint64(s.Start))
		b = binary.AppendUvarint(b, uint64(s.End-s.Start))
	}
	return b
}

func decodeLiveOut(b []byte) (*liveOut, error) {
	var l liveOut
	r := byteReader{b: b}
	l.taint = int64(r.uvarint())
	l.hops = uint32(r.uvarint())
	var ok bool
	if l.stop, ok = stopOfCode(r.byte()); !ok {
		return nil, fmt.Errorf("%w: tainted output row: unknown stop code", ErrCorrupt)
	}
	n := r.uvarint()
	if n > uint64(len(b)) {
		return nil, fmt.Errorf("%w: tainted output row: %d segments in %d bytes", ErrCorrupt, n, len(b))
	}
	if n > 0 {
		l.segs = make([]taint.Seg, n)
		for i := range l.segs {
			s := int64(r.uvarint())
			l.segs[i] = taint.Seg{Start: s, End: s + int64(r.uvarint())}
		}
	}
	if r.bad || len(r.b) != 0 || l.taint < 0 || l.taint > taint.MaxSat {
		return nil, fmt.Errorf("%w: tainted output row does not decode", ErrCorrupt)
	}
	return &l, nil
}

// The stop reasons an unspent tainted output can carry have their own
// codes in the store, so the stored format does not follow taint.Stop's
// numbering.
var stopCodes = []taint.Stop{taint.StopFollowed, taint.StopDust, taint.StopMaxHops, taint.StopCoinJoin}

func stopCode(s taint.Stop) byte {
	for i, c := range stopCodes {
		if c == s {
			return byte(i)
		}
	}
	panic(fmt.Sprintf("server: stop %s cannot be stored", s)) // stopFor returns only these
}

func stopOfCode(b byte) (taint.Stop, bool) {
	if int(b) < len(stopCodes) {
		return stopCodes[b], true
	}
	return 0, false
}

// arrival is taint that reached a labelled service.
type arrival struct {
	taint    int64
	hops     uint32
	height   uint32
	label    string
	category string
}

func (a *arrival) encode() []byte {
	b := binary.AppendUvarint(nil, uint64(a.taint))
	b = binary.AppendUvarint(b, uint64(a.hops))
	b = binary.AppendUvarint(b, uint64(a.height))
	b = binary.AppendUvarint(b, uint64(len(a.label)))
	b = append(b, a.label...)
	b = binary.AppendUvarint(b, uint64(len(a.category)))
	return append(b, a.category...)
}

func decodeArrival(b []byte) (*arrival, error) {
	var a arrival
	r := byteReader{b: b}
	a.taint = int64(r.uvarint())
	a.hops = uint32(r.uvarint())
	a.height = uint32(r.uvarint())
	a.label = r.str()
	a.category = r.str()
	if r.bad || len(r.b) != 0 {
		return nil, fmt.Errorf("%w: arrival row does not decode", ErrCorrupt)
	}
	return &a, nil
}

// byteReader reads uvarints and length-prefixed strings, remembering
// whether anything was short instead of failing at every step.
type byteReader struct {
	b   []byte
	bad bool
}

func (r *byteReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		r.b = nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *byteReader) byte() byte {
	if len(r.b) == 0 {
		r.bad = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *byteReader) bytes(n uint64) []byte {
	if n > uint64(len(r.b)) {
		r.bad = true
		r.b = nil
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *byteReader) str() string { return string(r.bytes(r.uvarint())) }

func (r *byteReader) u64() uint64 {
	b := r.bytes(8)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// jsonError makes a JSON decoding error one short line.
func jsonError(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return strings.ReplaceAll(s, "\n", " ")
}
