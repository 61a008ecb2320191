package sim

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/btcsuite/btcd/wire"
	"gopkg.in/yaml.v3"

	"github.com/cointrail/cointrail/chain"
)

// Truth is what really happened in a scenario: what an omniscient
// investigator would report. It is written as truth.json.
type Truth struct {
	Scenario string      `json:"scenario"`
	Seed     uint64      `json:"seed"`
	Config   TruthConfig `json:"config"`
	Network  string      `json:"network"`

	TheftTxid   string `json:"theft_txid"`
	TheftHeight int    `json:"theft_height"`
	TheftTime   string `json:"theft_time"`
	// VictimAddress is the hot wallet the theft emptied (VictimInputs coins).
	VictimAddress string `json:"victim_address"`
	VictimInputs  int    `json:"victim_inputs"`
	// AttackerAddress received the theft; it starts with the same
	// LookalikeChars characters after "bcrt1q" as LookalikeOf, an address
	// the victim pays routinely.
	AttackerAddress string `json:"attacker_address"`
	LookalikeOf     string `json:"lookalike_of"`
	LookalikeChars  int    `json:"lookalike_chars"`
	// StolenSat is the value of the theft's output. The theft's own fee
	// was paid with the victim's coins and is not part of it.
	StolenSat int64 `json:"stolen_sat"`

	// TaintedOutputs lists, in chain order, every output that holds
	// stolen coins: the thief's outputs and the deposits at services
	// (which carry a label and end the trail).
	TaintedOutputs []TaintedOutput `json:"tainted_outputs"`
	// Arrivals sums the stolen coins deposited per service label.
	Arrivals []Arrival `json:"arrivals"`
	// Unspent lists the thief's outputs still unspent at the tip.
	Unspent    []TaintedOutput `json:"unspent"`
	UnspentSat int64           `json:"unspent_sat"`
	// FeesSat is the miner fees the thief paid out of stolen coins,
	// CoinJoins included. ArrivedSat + UnspentSat + FeesSat = StolenSat.
	FeesSat    int64 `json:"fees_sat"`
	ArrivedSat int64 `json:"arrived_sat"`

	// Owners gives the actor behind every address that received an output
	// on the main chain, sorted by address, to score clustering.
	Owners []Owner `json:"owners"`
}

// TruthConfig echoes the generation settings.
type TruthConfig struct {
	Txs         int     `json:"txs"`
	TxsPerBlock int     `json:"txs_per_block"`
	Fast        bool    `json:"fast"`
	XOR         bool    `json:"xor"`
	Stale       int     `json:"stale"`
	FirstHeight int     `json:"first_height"`
	FirstTime   string  `json:"first_time"`
	ValueScale  float64 `json:"value_scale"`
}

// TaintedOutput is one output holding stolen coins.
type TaintedOutput struct {
	Txid      string `json:"txid"`
	Vout      uint32 `json:"vout"`
	StolenSat int64  `json:"stolen_sat"`
	Address   string `json:"address"`
	Height    int    `json:"height"`
	Label     string `json:"label,omitempty"` // the service it landed at
}

// Arrival is the stolen value that reached one service.
type Arrival struct {
	Label     string `json:"label"`
	StolenSat int64  `json:"stolen_sat"`
	Outputs   int    `json:"outputs"`
}

// Owner is the actor behind an address.
type Owner struct {
	Address string `json:"address"`
	Actor   string `json:"actor"`
}

// JSON is the truth as written to truth.json.
func (t *Truth) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(t, "", " ")
	if err != nil {
		return nil, fmt.Errorf("%w: truth: %w", ErrInternal, err)
	}
	return append(b, '\n'), nil
}

// truthRec collects the truth while the chain is generated.
type truthRec struct {
	owners   map[string]string
	tainted  []TaintedOutput
	live     map[wire.OutPoint]int // thief's unspent outputs → index in tainted
	arrivals map[string]*Arrival
	fees     int64
	stolen   int64
	theft    string
}

func newTruthRec() *truthRec {
	return &truthRec{owners: map[string]string{}, live: map[wire.OutPoint]int{}, arrivals: map[string]*Arrival{}}
}

// addrString is a's address as explorers show it.
func (e *engine) addrString(a *addr) string {
	_, k := chain.Classify(a.script)
	return k.Encode(e.net)
}

func (t *truthRec) owner(e *engine, a *addr) {
	t.owners[e.addrString(a)] = a.owner.name
}

// tx follows the stolen coins through one transaction. outs are the new
// coins by output index (nil for OP_RETURN).
func (t *truthRec) tx(e *engine, p *txPlan, outs []*utxo) {
	var in int64
	for _, u := range p.ins {
		if u.a.owner.role == roleAttacker {
			in += u.value
			delete(t.live, u.op)
		}
	}
	if in == 0 && !p.theft {
		return
	}
	var kept, arrived int64
	for i, o := range p.outs {
		if o.a == nil {
			continue
		}
		rec := TaintedOutput{Txid: p.txid.String(), Vout: uint32(i), StolenSat: o.value, Address: e.addrString(o.a), Height: int(e.height)}
		switch {
		case o.a.owner.role == roleAttacker:
			kept += o.value
			t.live[outs[i].op] = len(t.tainted)
		case !p.theft && o.a.owner.service():
			arrived += o.value
			rec.Label = o.a.owner.label
			ar := t.arrivals[rec.Label]
			if ar == nil {
				ar = &Arrival{Label: rec.Label}
				t.arrivals[rec.Label] = ar
			}
			ar.StolenSat += o.value
			ar.Outputs++
		default:
			continue // another CoinJoin participant's coin
		}
		t.tainted = append(t.tainted, rec)
	}
	if p.theft {
		t.stolen, t.theft = kept, p.txid.String()
		return
	}
	t.fees += in - kept - arrived
}

func (t *truthRec) finish(e *engine) *Truth {
	d := e.scen
	tr := &Truth{
		Scenario: e.cfg.Scenario, Seed: e.cfg.Seed, Network: e.net.Name,
		Config: TruthConfig{Txs: e.cfg.Txs, TxsPerBlock: e.cfg.TxsPerBlock, Fast: e.cfg.Fast, XOR: e.cfg.XOR,
			Stale: e.cfg.Stale, FirstHeight: int(e.h0), FirstTime: time.Unix(e.blockTime(e.h0), 0).UTC().Format(time.RFC3339),
			ValueScale: e.vs},
		TheftTxid: t.theft, TheftHeight: int(d.theftHeight), TheftTime: time.Unix(e.blockTime(d.theftHeight), 0).UTC().Format(time.RFC3339),
		VictimAddress: e.addrString(d.hot), VictimInputs: dmmHotCoins,
		AttackerAddress: e.addrString(d.look), LookalikeOf: e.addrString(d.payee), LookalikeChars: d.lookChars,
		StolenSat: t.stolen, TaintedOutputs: t.tainted, FeesSat: t.fees,
	}
	idx := make([]int, 0, len(t.live))
	for _, i := range t.live {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	for _, i := range idx {
		tr.Unspent = append(tr.Unspent, t.tainted[i])
		tr.UnspentSat += t.tainted[i].StolenSat
	}
	for _, a := range t.arrivals {
		tr.Arrivals = append(tr.Arrivals, *a)
		tr.ArrivedSat += a.StolenSat
	}
	slices.SortFunc(tr.Arrivals, func(a, b Arrival) int { return strings.Compare(a.Label, b.Label) })
	tr.Owners = make([]Owner, 0, len(t.owners))
	for a, o := range t.owners {
		tr.Owners = append(tr.Owners, Owner{a, o})
	}
	slices.SortFunc(tr.Owners, func(a, b Owner) int { return strings.Compare(a.Address, b.Address) })
	return tr
}

// tagPack is labels.yaml: a GraphSense TagPack of what an investigator
// knows on the day of the theft.
type tagPack struct {
	Title       string `yaml:"title"`
	Creator     string `yaml:"creator"`
	Description string `yaml:"description"`
	Lastmod     string `yaml:"lastmod"`
	Currency    string `yaml:"currency"`
	Network     string `yaml:"network"`
	Source      string `yaml:"source"`
	Confidence  string `yaml:"confidence"`
	Tags        []tag  `yaml:"tags"`
}

type tag struct {
	Address          string `yaml:"address"`
	Label            string `yaml:"label"`
	Category         string `yaml:"category"`
	Abuse            string `yaml:"abuse,omitempty"`
	Confidence       string `yaml:"confidence,omitempty"`
	IsClusterDefiner bool   `yaml:"is_cluster_definer"`
}

func (e *engine) tagPack() ([]byte, error) {
	d := e.scen
	day := time.Unix(e.blockTime(d.theftHeight), 0).UTC().Format(time.DateOnly)
	tp := tagPack{
		Title:   "DMM Bitcoin theft (simulated)",
		Creator: "cointrail sim",
		Description: "Synthetic regtest re-enactment of the May 31, 2024 theft of 4,502.9 BTC from DMM Bitcoin " +
			"(scenario dmm-2024): the victim's wallets, the thief's first address and the services investigators " +
			"know on the day of the theft.",
		Lastmod: day, Currency: "BTC", Network: e.net.Name,
		Source:     fmt.Sprintf("cointrail sim --scenario %s --seed %d", e.cfg.Scenario, e.cfg.Seed),
		Confidence: "forensic_investigation",
	}
	add := func(a *addr, label, cat, abuse, conf string, definer bool) {
		if a == nil || a.script == nil {
			return
		}
		tp.Tags = append(tp.Tags, tag{e.addrString(a), label, cat, abuse, conf, definer})
	}
	add(d.hot, labelDMM, "exchange", "", "ownership", true)
	add(d.payee, labelDMM, "exchange", "", "ownership", true)
	add(d.look, labelThief, "perpetrator", "service_hack", "", false)
	for _, x := range e.exchanges[1:4] {
		add(x.reuse[1], x.label, "exchange", "", "", true)
		add(x.coldAddr[1], x.label, "exchange", "", "", true)
		for _, a := range x.known {
			add(a, x.label, "exchange", "", "", true)
		}
	}
	add(e.mixer.reuse[1], labelMixer, "mixing_service", "", "", true)
	for _, a := range e.mixer.known {
		add(a, labelMixer, "mixing_service", "", "", true)
	}
	b, err := yaml.Marshal(tp)
	if err != nil {
		return nil, fmt.Errorf("%w: tagpack: %w", ErrInternal, err)
	}
	return b, nil
}
