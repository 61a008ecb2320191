package report

import (
	"bufio"
	"cmp"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strconv"

	"github.com/cointrail/cointrail/labels"
	"github.com/cointrail/cointrail/taint"
)

// Deposit is a freeze-list row: the first output of a labelled entity on a
// path of the taint — where the entity received it, the account it must
// freeze. With the default stop at services every arrival is one; with
// --no-stop-at-service a labelled output whose transaction spends taint
// from the same entity is a move inside it, not a deposit.
type Deposit struct {
	Model    string `json:"model"`
	Entity   string `json:"entity"`
	Category string `json:"category"`
	Address  string `json:"address"`
	TxID     string `json:"txid"`
	Vout     uint32 `json:"vout"`
	Height   uint32 `json:"height"`
	Time     string `json:"time"` // RFC 3339 UTC, of its block
	TaintSat int64  `json:"taint_sat"`
	ValueSat int64  `json:"value_sat"`
	Hops     int    `json:"hops"`
}

// Seizable is a seizable-list row: a tainted output that is still unspent.
type Seizable struct {
	Model    string `json:"model"`
	Address  string `json:"address"`
	TxID     string `json:"txid"`
	Vout     uint32 `json:"vout"`
	Height   uint32 `json:"height"`
	Time     string `json:"time"`
	TaintSat int64  `json:"taint_sat"`
	ValueSat int64  `json:"value_sat"`
	Hops     int    `json:"hops"`
	Label    string `json:"label"`
	Category string `json:"category"`
}

// FreezeHeader and SeizableHeader head the CSV lists.
var (
	FreezeHeader   = []string{"model", "entity", "category", "address", "txid", "vout", "height", "time", "taint_sat", "value_sat", "hops"}
	SeizableHeader = []string{"model", "address", "txid", "vout", "height", "time", "taint_sat", "value_sat", "hops", "label", "category"}
)

// ErrForwardOnly marks a freeze or seizable list asked of a backward trace.
var ErrForwardOnly = errors.New("report: freeze and seizable lists need a forward trace")

// source is one model's outputs and edges, from a Result or a TraceStream.
type source struct {
	head    *taint.Result
	outputs func(func(*taint.TaintedOutput) error) error
	edges   func(func(*taint.Edge) error) error
}

func resultSources(rs []*taint.Result) []source {
	out := make([]source, len(rs))
	for i, r := range rs {
		out[i] = source{head: r,
			outputs: func(fn func(*taint.TaintedOutput) error) error {
				for j := range r.Outputs {
					if err := fn(&r.Outputs[j]); err != nil {
						return err
					}
				}
				return nil
			},
			edges: func(fn func(*taint.Edge) error) error {
				for j := range r.Edges {
					if err := fn(&r.Edges[j]); err != nil {
						return err
					}
				}
				return nil
			}}
	}
	return out
}

func streamSources(ss []*taint.TraceStream) []source {
	out := make([]source, len(ss))
	for i, s := range ss {
		out[i] = source{head: s.Head(), outputs: s.EachOutput, edges: s.EachEdge}
	}
	return out
}

type outKey struct {
	tx   taint.Hash
	vout uint32
}

// deposits lists the deposits of one model, sorted by time (then height,
// entity, txid, vout). Only labelled outputs are held, so memory follows
// the deposits, not the trace.
func (src source) deposits() ([]Deposit, error) {
	if src.head.Params.Direction != taint.Forward {
		return nil, ErrForwardOnly
	}
	m := src.head.Model.String()
	labelled := map[outKey]string{}
	var cands []Deposit
	err := src.outputs(func(o *taint.TaintedOutput) error {
		if o.Label == "" {
			return nil
		}
		labelled[outKey{o.TxID, o.Vout}] = o.Label
		cands = append(cands, Deposit{Model: m, Entity: o.Label, Category: o.Category, Address: o.Address, TxID: o.TxID.String(),
			Vout: o.Vout, Height: o.Height, Time: o.Time, TaintSat: o.TaintSat, ValueSat: o.ValueSat, Hops: o.Hops})
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Transactions that spend taint from an entity's output, by entity.
	type txLabel struct {
		tx    string
		label string
	}
	inside := map[txLabel]bool{}
	if err := src.edges(func(e *taint.Edge) error {
		if l, ok := labelled[outKey{e.FromTx, e.Vout}]; ok && !e.Fee {
			inside[txLabel{e.ToTx.String(), l}] = true
		}
		return nil
	}); err != nil {
		return nil, err
	}
	out := cands[:0]
	for _, d := range cands {
		if !inside[txLabel{d.TxID, d.Entity}] {
			out = append(out, d)
		}
	}
	slices.SortStableFunc(out, func(a, b Deposit) int {
		return cmp.Or(cmp.Compare(a.Time, b.Time), cmp.Compare(a.Height, b.Height), cmp.Compare(a.Entity, b.Entity),
			cmp.Compare(a.TxID, b.TxID), cmp.Compare(a.Vout, b.Vout))
	})
	return out, nil
}

// seizable lists the unspent tainted outputs of one model, largest taint
// first (then txid, vout).
func (src source) seizable() ([]Seizable, error) {
	if src.head.Params.Direction != taint.Forward {
		return nil, ErrForwardOnly
	}
	m := src.head.Model.String()
	var out []Seizable
	err := src.outputs(func(o *taint.TaintedOutput) error {
		if o.Spent || o.TaintSat == 0 {
			return nil
		}
		out = append(out, Seizable{Model: m, Address: o.Address, TxID: o.TxID.String(), Vout: o.Vout, Height: o.Height, Time: o.Time,
			TaintSat: o.TaintSat, ValueSat: o.ValueSat, Hops: o.Hops, Label: o.Label, Category: o.Category})
		return nil
	})
	slices.SortStableFunc(out, func(a, b Seizable) int {
		return cmp.Or(cmp.Compare(b.TaintSat, a.TaintSat), cmp.Compare(a.TxID, b.TxID), cmp.Compare(a.Vout, b.Vout))
	})
	return out, err
}

// Deposits returns the freeze list of each result, in the order of rs.
func Deposits(rs []*taint.Result) ([][]Deposit, error) {
	var out [][]Deposit
	for _, s := range resultSources(rs) {
		d, err := s.deposits()
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// SeizableOutputs returns the seizable list of each result, in the order of rs.
func SeizableOutputs(rs []*taint.Result) ([][]Seizable, error) {
	var out [][]Seizable
	for _, s := range resultSources(rs) {
		d, err := s.seizable()
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// FreezeStreams writes the freeze list of streamed traces: CSV under
// FreezeHeader, or (asJSON) a JSON array of Deposit, model after model in
// the order given, each sorted by time.
func FreezeStreams(w io.Writer, ss []*taint.TraceStream, asJSON bool) error {
	var all []Deposit
	for _, s := range streamSources(ss) {
		d, err := s.deposits()
		if err != nil {
			return err
		}
		all = append(all, d...)
	}
	if asJSON {
		return writeJSONList(w, all)
	}
	return writeCSV(w, FreezeHeader, len(all), func(i int, row []string) {
		d := &all[i]
		row[0], row[1], row[2], row[3] = d.Model, labels.Escape(d.Entity), labels.Escape(d.Category), d.Address
		row[4], row[5], row[6], row[7] = d.TxID, strconv.FormatUint(uint64(d.Vout), 10), strconv.FormatUint(uint64(d.Height), 10), d.Time
		row[8], row[9], row[10] = strconv.FormatInt(d.TaintSat, 10), strconv.FormatInt(d.ValueSat, 10), strconv.Itoa(d.Hops)
	})
}

// SeizableStreams writes the seizable list of streamed traces: CSV under
// SeizableHeader, or (asJSON) a JSON array of Seizable, model after model,
// each largest taint first.
func SeizableStreams(w io.Writer, ss []*taint.TraceStream, asJSON bool) error {
	var all []Seizable
	for _, s := range streamSources(ss) {
		d, err := s.seizable()
		if err != nil {
			return err
		}
		all = append(all, d...)
	}
	if asJSON {
		return writeJSONList(w, all)
	}
	return writeCSV(w, SeizableHeader, len(all), func(i int, row []string) {
		d := &all[i]
		row[0], row[1], row[2], row[3] = d.Model, d.Address, d.TxID, strconv.FormatUint(uint64(d.Vout), 10)
		row[4], row[5], row[6], row[7] = strconv.FormatUint(uint64(d.Height), 10), d.Time, strconv.FormatInt(d.TaintSat, 10), strconv.FormatInt(d.ValueSat, 10)
		row[8], row[9], row[10] = strconv.Itoa(d.Hops), labels.Escape(d.Label), labels.Escape(d.Category)
	})
}

func writeCSV(w io.Writer, header []string, n int, fill func(int, []string)) error {
	bw := bufio.NewWriter(w)
	cw := csv.NewWriter(bw)
	if err := cw.Write(header); err != nil {
		return err
	}
	row := make([]string, len(header))
	for i := range n {
		fill(i, row)
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

func writeJSONList[T any](w io.Writer, v []T) error {
	if v == nil {
		v = []T{}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
