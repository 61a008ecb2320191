package server

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/cointrail/cointrail/kv"
)

// Alert kinds.
const (
	// KindTaintMoved: tainted value was spent into a new transaction.
	KindTaintMoved = "taint_moved"
	// KindServiceArrival: tainted value reached an address labelled as a
	// service (an exchange that can freeze it).
	KindServiceArrival = "service_arrival"
	// KindWatchHit: a watched address received value (tainted or not).
	KindWatchHit = "watch_hit"
	// KindRetraction: a reorg undid the block of an earlier alert.
	KindRetraction = "retraction"
	// KindReorgTooDeep: the node's chain forked deeper than reorg_limit;
	// following stopped.
	KindReorgTooDeep = "reorg_too_deep"
)

// Alert is one event delivered to webhooks, the SSE stream and the log.
// Its JSON is stored once and delivered byte for byte.
type Alert struct {
	ID             uint64        `json:"id"`
	IdempotencyKey string        `json:"idempotency_key"`
	Kind           string        `json:"kind"`
	Network        string        `json:"network"`
	Confirmed      bool          `json:"confirmed"`
	CaseID         uint32        `json:"case_id,omitempty"`
	CaseName       string        `json:"case_name,omitempty"`
	Model          string        `json:"model,omitempty"`
	TxID           string        `json:"txid,omitempty"`
	BlockHeight    *uint32       `json:"block_height,omitempty"`
	BlockHash      string        `json:"block_hash,omitempty"`
	AmountSat      int64         `json:"amount_sat"`              // tainted value that moved; for a watch hit without taint, value received
	ReceivedSat    int64         `json:"received_sat,omitempty"`  // value the case's watched addresses received in the tx
	FeeTaintSat    int64         `json:"fee_taint_sat,omitempty"` // taint lost to the fee
	Label          string        `json:"label,omitempty"`         // the service the most taint arrived at
	Category       string        `json:"category,omitempty"`      // its category
	Destinations   []Destination `json:"destinations,omitempty"`  // tainted or watched outputs of the tx
	Retracts       uint64        `json:"retracts,omitempty"`      // the alert a retraction withdraws
	Message        string        `json:"message"`                 // one line for humans
	CreatedAt      time.Time     `json:"created_at"`
}

// Destination is an output of an alerted transaction.
type Destination struct {
	Vout     uint32 `json:"vout"`
	Address  string `json:"address"`
	ValueSat int64  `json:"value_sat"`
	TaintSat int64  `json:"taint_sat"`
	Label    string `json:"label,omitempty"`
	Category string `json:"category,omitempty"`
	Watched  bool   `json:"watched,omitempty"`
}

// Ack records that someone handled an alert.
type Ack struct {
	At   time.Time `json:"at"`
	By   string    `json:"by"` // API key id, or "cli"
	Note string    `json:"note,omitempty"`
}

// AlertView is an alert as the API lists it.
type AlertView struct {
	Alert
	Ack *Ack `json:"ack,omitempty"`
}

// idempotencyKey is stable for an alert across every delivery attempt and
// restart (it is stored with the alert) and unique per alert.
func idempotencyKey(a *Alert) string {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], a.ID)
	h.Write([]byte("cointrail alert\x00" + a.Network + "\x00"))
	h.Write(n[:])
	fmt.Fprintf(h, "\x00%s\x00%d\x00%s\x00%s", a.Kind, a.CaseID, a.TxID, a.BlockHash)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func btcString(sat int64) string {
	sign := ""
	if sat < 0 {
		sign, sat = "-", -sat
	}
	return fmt.Sprintf("%s%d.%08d BTC", sign, sat/100_000_000, sat%100_000_000)
}

// message writes the alert's one line.
func (a *Alert) message() string {
	where := "in the mempool"
	if a.BlockHeight != nil {
		where = fmt.Sprintf("at block %d", *a.BlockHeight)
	}
	cs := fmt.Sprintf("case %d (%s)", a.CaseID, a.CaseName)
	switch a.Kind {
	case KindServiceArrival:
		// amount_sat is all the taint the tx moved; the part that reached
		// the named service may be less (the rest went elsewhere): say both.
		at := a.arrivedAt(a.Label)
		if at == a.AmountSat {
			return fmt.Sprintf("%s: %s tainted (%s) arrived at %s (%s) in tx %s %s", cs, btcString(at), a.Model, a.Label, a.Category, a.TxID, where)
		}
		return fmt.Sprintf("%s: %s tainted (%s) moved in tx %s %s, %s of it to %s (%s)", cs, btcString(a.AmountSat), a.Model, a.TxID, where, btcString(at), a.Label, a.Category)
	case KindWatchHit:
		if a.AmountSat > 0 && a.ReceivedSat == 0 {
			return fmt.Sprintf("%s: %s tainted (%s) reached a watched address in tx %s %s", cs, btcString(a.AmountSat), a.Model, a.TxID, where)
		}
		return fmt.Sprintf("%s: a watched address received %s in tx %s %s", cs, btcString(a.ReceivedSat), a.TxID, where)
	case KindTaintMoved:
		return fmt.Sprintf("%s: %s tainted (%s) moved in tx %s %s", cs, btcString(a.AmountSat), a.Model, a.TxID, where)
	case KindRetraction:
		return fmt.Sprintf("%s: alert %d withdrawn: block %s at height %d left the best chain", cs, a.Retracts, a.BlockHash, *a.BlockHeight)
	}
	return a.Message
}

func (a *Alert) arrivedAt(label string) int64 {
	var n int64
	for _, d := range a.Destinations {
		if d.Label == label {
			n += d.TaintSat
		}
	}
	return n
}

func encodeAlert(a *Alert) []byte {
	b, _ := json.Marshal(a) // plain data: cannot fail
	return b
}

// loadAlert reads alert seq and its acknowledgement.
func loadAlert(st kv.Store, seq uint64) (*AlertView, error) {
	v, ok, err := getOpt(st, keyU64(kAlert, seq))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: no alert %d", ErrNotFound, seq)
	}
	var av AlertView
	if err := json.Unmarshal(v, &av.Alert); err != nil {
		return nil, fmt.Errorf("%w: alert %d: %v", ErrCorrupt, seq, err)
	}
	if ack, ok, err := getOpt(st, keyU64(kAck, seq)); err != nil {
		return nil, err
	} else if ok {
		av.Ack = &Ack{}
		if err := json.Unmarshal(ack, av.Ack); err != nil {
			return nil, fmt.Errorf("%w: ack of alert %d: %v", ErrCorrupt, seq, err)
		}
	}
	return &av, nil
}

// AlertQuery selects alerts: after an id, of a case, unacknowledged only;
// Limit bounds the page.
type AlertQuery struct {
	After      uint64
	Case       uint32
	Unacked    bool
	Limit      int
	Descending bool
}

// ListAlerts pages alerts in id order.
func ListAlerts(st kv.Store, q AlertQuery) ([]AlertView, error) {
	out := []AlertView{}
	var lo, hi []byte
	seqOf := func(k []byte) uint64 { return binary.BigEndian.Uint64(k[len(k)-8:]) }
	if q.Case != 0 {
		lo = keyU32U64(kCaseAlert, q.Case, q.After+1)
		hi = kv.PrefixEnd(keyU32(kCaseAlert, q.Case))
	} else {
		lo = keyU64(kAlert, q.After+1)
		hi = kv.PrefixEnd(key1(kAlert))
	}
	if q.After == ^uint64(0) {
		return out, nil
	}
	it, err := st.NewIter(lo, hi)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	move, start := it.Next, it.First
	if q.Descending {
		move, start = it.Prev, it.Last
	}
	for ok := start(); ok && len(out) < q.Limit; ok = move() {
		av, err := loadAlert(st, seqOf(it.Key()))
		if err != nil {
			return nil, err
		}
		if q.Unacked && av.Ack != nil {
			continue
		}
		out = append(out, *av)
	}
	return out, it.Error()
}

// ackAlert records an acknowledgement (the first one wins: acking twice
// returns the stored ack).
func ackAlert(st kv.Store, seq uint64, by, note string, now time.Time) (*AlertView, error) {
	av, err := loadAlert(st, seq)
	if err != nil {
		return nil, err
	}
	if av.Ack != nil {
		return av, nil
	}
	if len(note) > 1000 {
		return nil, fmt.Errorf("%w: ack note longer than 1000 bytes", ErrBadInput)
	}
	ack := Ack{At: now.UTC().Truncate(time.Millisecond), By: by, Note: strings.TrimSpace(note)}
	v, _ := json.Marshal(ack)
	b := st.NewBatch()
	defer b.Close()
	b.Set(keyU64(kAck, seq), v)
	if err := b.Commit(true); err != nil {
		return nil, err
	}
	av.Ack = &ack
	return av, nil
}
