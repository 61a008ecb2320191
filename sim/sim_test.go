package sim

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"gopkg.in/yaml.v3"

	"github.com/cointrail/cointrail/chain"
)

var regtest = func() chain.Network {
	n, err := chain.NetworkByName("regtest")
	if err != nil {
		panic(err)
	}
	return n
}()

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Scenario: "mtgox-2014"}, `sim: bad config: unknown scenario "mtgox-2014" (known: dmm-2024)`},
		{Config{Txs: -1}, "sim: bad config: Txs -1 is negative"},
		{Config{TxsPerBlock: 5001}, "sim: bad config: TxsPerBlock 5001 is outside 0..5000"},
		{Config{Stale: 11}, "sim: bad config: Stale 11 is outside 0..10"},
		{Config{Stale: -1}, "sim: bad config: Stale -1 is outside 0..10"},
	} {
		_, err := WriteDir(context.Background(), tc.cfg, t.TempDir(), nil)
		if !errors.Is(err, ErrBadConfig) || err.Error() != tc.want {
			t.Errorf("%+v: got %v, want %q", tc.cfg, err, tc.want)
		}
	}
	if got := Scenarios(); !slices.Equal(got, []string{"dmm-2024"}) {
		t.Errorf("Scenarios() = %v", got)
	}
}

type prevOut struct {
	value    int64
	script   []byte
	height   int
	coinbase bool
}

// replay checks every block of the main chain as a node would, with btcd's
// own sanity checks and script engine, and returns the final UTXO set.
func replay(t *testing.T, main []*wire.MsgBlock) (map[wire.OutPoint]prevOut, map[chain.ScriptType]int) {
	t.Helper()
	utxos := map[wire.OutPoint]prevOut{}
	spentTypes := map[chain.ScriptType]int{}
	params := &chaincfg.RegressionNetParams
	for h, blk := range main {
		if h == 0 {
			continue
		}
		b := btcutil.NewBlock(blk)
		if err := blockchain.CheckBlockSanity(b, params.PowLimit, blockchain.NewMedianTime()); err != nil {
			t.Fatalf("height %d: %v", h, err)
		}
		if err := blockchain.ValidateWitnessCommitment(b); err != nil {
			t.Fatalf("height %d: %v", h, err)
		}
		if blockchain.GetBlockWeight(b) > blockchain.MaxBlockWeight {
			t.Fatalf("height %d: weight %d", h, blockchain.GetBlockWeight(b))
		}
		if h < 432 && blk.Header.Version&6 != 6 {
			t.Fatalf("height %d: version %08x does not signal SegWit and Taproot", h, blk.Header.Version)
		}
		if blk.Header.Timestamp.Unix() <= main[h-1].Header.Timestamp.Unix() {
			t.Fatalf("height %d: time %v not after its parent's", h, blk.Header.Timestamp)
		}
		var fees int64
		for ti, tx := range blk.Transactions {
			if h < 432 && tx.HasWitness() {
				t.Fatalf("height %d: witness data before SegWit is active", h)
			}
			if ti == 0 {
				continue
			}
			prev := map[wire.OutPoint]*wire.TxOut{}
			var in, out int64
			for _, ti := range tx.TxIn {
				p, ok := utxos[ti.PreviousOutPoint]
				if !ok {
					t.Fatalf("height %d: tx %s spends missing or spent %v", h, tx.TxHash(), ti.PreviousOutPoint)
				}
				if p.coinbase && h-p.height < 100 {
					t.Fatalf("height %d: tx %s spends a coinbase of height %d", h, tx.TxHash(), p.height)
				}
				delete(utxos, ti.PreviousOutPoint)
				prev[ti.PreviousOutPoint] = &wire.TxOut{Value: p.value, PkScript: p.script}
				in += p.value
				st, _ := chain.Classify(p.script)
				spentTypes[st]++
			}
			for _, o := range tx.TxOut {
				out += o.Value
			}
			if in < out {
				t.Fatalf("height %d: tx %s pays %d out of %d", h, tx.TxHash(), out, in)
			}
			fees += in - out
			fetch := txscript.NewMultiPrevOutFetcher(prev)
			hashes := txscript.NewTxSigHashes(tx, fetch)
			for i, ti := range tx.TxIn {
				p := prev[ti.PreviousOutPoint]
				vm, err := txscript.NewEngine(p.PkScript, tx, i, txscript.StandardVerifyFlags, nil, hashes, p.Value, fetch)
				if err == nil {
					err = vm.Execute()
				}
				if err != nil {
					t.Fatalf("height %d: tx %s input %d: %v", h, tx.TxHash(), i, err)
				}
			}
		}
		var cbOut int64
		for _, o := range blk.Transactions[0].TxOut {
			cbOut += o.Value
		}
		if want := subsidy(int32(h)) + fees; cbOut != want {
			t.Fatalf("height %d: coinbase pays %d, want %d", h, cbOut, want)
		}
		for _, tx := range blk.Transactions {
			id := tx.TxHash()
			for i, o := range tx.TxOut {
				if st, _ := chain.Classify(o.PkScript); st != chain.ScriptOpReturn {
					utxos[wire.OutPoint{Hash: id, Index: uint32(i)}] = prevOut{o.Value, o.PkScript, h, blockchain.IsCoinBaseTx(tx)}
				}
			}
		}
	}
	return utxos, spentTypes
}

// shapes counts the transaction shapes the background must contain.
type shapes struct {
	whirlpool, wasabi, joinmarket, batch, sweep, payment, peelHops int
}

func countShapes(main []*wire.MsgBlock) shapes {
	var s shapes
	pools := []int64{100_000, 1_000_000, 5_000_000, 50_000_000}
	spender := map[wire.OutPoint]*wire.MsgTx{}
	for _, b := range main {
		for _, tx := range b.Transactions[1:] {
			for _, in := range tx.TxIn {
				spender[in.PreviousOutPoint] = tx
			}
		}
	}
	for _, b := range main {
		for _, tx := range b.Transactions[1:] {
			nin, nout := len(tx.TxIn), len(tx.TxOut)
			count := map[int64]int{}
			std := 0
			for _, o := range tx.TxOut {
				count[o.Value]++
				if slices.Contains(wasabiDenoms, o.Value) {
					std++
				}
			}
			maxEq, eqVal := 0, int64(0)
			for v, c := range count {
				if c > maxEq || c == maxEq && v > eqVal {
					maxEq, eqVal = c, v
				}
			}
			switch {
			case nin == 5 && nout == 5 && maxEq == 5 && slices.Contains(pools, eqVal):
				s.whirlpool++
			case nin >= 50 && std*10 >= nout*7:
				s.wasabi++
			case maxEq >= 3 && nout == 2*maxEq && nin >= maxEq:
				s.joinmarket++
			case nin == 1 && nout >= 20:
				s.batch++
			case nin >= 5 && nout == 1:
				s.sweep++
			case nin == 1 && nout == 2:
				s.payment++
				// A peel hop: one of the two outputs is spent by another
				// 1-in 2-out transaction.
				for i := range tx.TxOut {
					if next := spender[wire.OutPoint{Hash: tx.TxHash(), Index: uint32(i)}]; next != nil && len(next.TxIn) == 1 && len(next.TxOut) == 2 {
						s.peelHops++
						break
					}
				}
			}
		}
	}
	return s
}

func TestWriteDirScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and validates a chain")
	}
	dir := t.TempDir()
	res, err := WriteDir(context.Background(), Config{Scenario: "dmm-2024", Seed: 11, Txs: 500, TxsPerBlock: 8}, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	blocks := blkFiles(t, dir+"/blocks")
	main, stale := mainChain(t, blocks)
	if len(stale) != 0 {
		t.Fatalf("%d stale blocks without Config.Stale", len(stale))
	}
	if len(main) != res.Blocks+1 || main[len(main)-1].BlockHash() != res.TipHash {
		t.Fatalf("chain of %d blocks to %s, result says %d + genesis to %s", len(main), main[len(main)-1].BlockHash(), res.Blocks, res.TipHash)
	}
	ntx := 0
	for _, b := range main[1:] {
		ntx += len(b.Transactions)
	}
	if ntx != res.Txs {
		t.Fatalf("%d transactions, result says %d", ntx, res.Txs)
	}
	utxos, spent := replay(t, main)

	// Every script type is created and spent.
	for _, st := range []chain.ScriptType{chain.ScriptP2PKH, chain.ScriptP2SH, chain.ScriptP2WPKH, chain.ScriptP2WSH, chain.ScriptP2TR} {
		if spent[st] == 0 {
			t.Errorf("no %s output is spent", st)
		}
	}
	sh := countShapes(main)
	t.Logf("blocks %d, txs %d, shapes %+v", res.Blocks, res.Txs, sh)
	if sh.whirlpool == 0 || sh.wasabi == 0 || sh.joinmarket == 0 || sh.batch == 0 || sh.sweep == 0 || sh.peelHops < 10 || sh.payment < 100 {
		t.Errorf("missing shapes: %+v", sh)
	}
	checkTruth(t, dir, res, main, utxos)
}

// checkTruth checks truth.json and labels.yaml against the chain.
func checkTruth(t *testing.T, dir string, res *Result, main []*wire.MsgBlock, utxos map[wire.OutPoint]prevOut) {
	t.Helper()
	var tr Truth
	if err := json.Unmarshal(readFile(t, dir+"/truth.json"), &tr); err != nil {
		t.Fatal(err)
	}
	owners := map[string]string{}
	for _, o := range tr.Owners {
		owners[o.Address] = o.Actor
	}
	addrOf := func(script []byte) string {
		_, k := chain.Classify(script)
		return k.Encode(regtest)
	}
	txs := map[string]*wire.MsgTx{}
	outs := map[wire.OutPoint]*wire.TxOut{}
	for _, b := range main[1:] {
		for _, tx := range b.Transactions {
			txs[tx.TxHash().String()] = tx
			for i, o := range tx.TxOut {
				outs[wire.OutPoint{Hash: tx.TxHash(), Index: uint32(i)}] = o
				if a := addrOf(o.PkScript); a != "" && owners[a] == "" {
					t.Fatalf("output address %s has no owner in truth.json", a)
				}
			}
		}
	}

	// The theft: nine coins of the victim's P2SH hot wallet, one output to
	// the look-alike.
	theft := txs[tr.TheftTxid]
	if theft == nil {
		t.Fatalf("theft %s not in the chain", tr.TheftTxid)
	}
	if len(theft.TxIn) != 9 || len(theft.TxOut) != 1 || theft.TxOut[0].Value != tr.StolenSat || addrOf(theft.TxOut[0].PkScript) != tr.AttackerAddress {
		t.Fatalf("theft %s: %d in, %d out", tr.TheftTxid, len(theft.TxIn), len(theft.TxOut))
	}
	for _, in := range theft.TxIn {
		o := outs[in.PreviousOutPoint]
		if st, _ := chain.Classify(o.PkScript); st != chain.ScriptP2SH || addrOf(o.PkScript) != tr.VictimAddress {
			t.Fatalf("theft input %v: %s %s", in.PreviousOutPoint, st, addrOf(o.PkScript))
		}
	}
	if tr.StolenSat != 450_290_000_000 {
		t.Errorf("stolen %s, want 4502.9 BTC from genesis", sat(tr.StolenSat))
	}
	if p := "bcrt1q"; !strings.HasPrefix(tr.AttackerAddress, p) || tr.LookalikeChars != 3 ||
		tr.AttackerAddress[:len(p)+3] != tr.LookalikeOf[:len(p)+3] || tr.AttackerAddress == tr.LookalikeOf {
		t.Errorf("attacker %s does not look like %s", tr.AttackerAddress, tr.LookalikeOf)
	}
	if owners[tr.AttackerAddress] != "attacker" || owners[tr.VictimAddress] != "exchange-dmm-bitcoin" || owners[tr.LookalikeOf] != "exchange-dmm-bitcoin" {
		t.Errorf("owners: attacker %q, victim %q", owners[tr.AttackerAddress], owners[tr.VictimAddress])
	}

	// Every tainted output is in the chain as stated; the thief's unspent
	// ones are exactly the thief's coins unspent at the tip.
	arrived := map[string]int64{}
	for _, o := range tr.TaintedOutputs {
		op := wire.OutPoint{Index: o.Vout}
		if tx := txs[o.Txid]; tx != nil {
			op.Hash = tx.TxHash()
		}
		out := outs[op]
		if out == nil || out.Value != o.StolenSat || addrOf(out.PkScript) != o.Address {
			t.Fatalf("tainted output %s:%d not in the chain as %d to %s", o.Txid, o.Vout, o.StolenSat, o.Address)
		}
		owner := owners[o.Address]
		if o.Label == "" && owner != "attacker" || o.Label != "" && !strings.HasPrefix(owner, "exchange-") && !strings.HasPrefix(owner, "mixer-") {
			t.Fatalf("tainted output %s:%d labelled %q is owned by %s", o.Txid, o.Vout, o.Label, owner)
		}
		arrived[o.Label] += o.StolenSat
	}
	var unspent int64
	want := map[wire.OutPoint]bool{}
	for op, p := range utxos {
		if owners[addrOf(p.script)] == "attacker" {
			want[op] = true
			unspent += p.value
		}
	}
	for _, o := range tr.Unspent {
		op := wire.OutPoint{Hash: txs[o.Txid].TxHash(), Index: o.Vout}
		if !want[op] {
			t.Fatalf("truth says %s:%d is unspent stolen coin", o.Txid, o.Vout)
		}
		delete(want, op)
	}
	if len(want) != 0 || unspent != tr.UnspentSat {
		t.Fatalf("%d unspent thief coins missing from truth; %d sat unspent, truth says %d", len(want), unspent, tr.UnspentSat)
	}
	var arr int64
	labels := map[string]bool{}
	for _, a := range tr.Arrivals {
		labels[a.Label] = true
		if a.StolenSat != arrived[a.Label] || a.StolenSat <= 0 {
			t.Errorf("arrival %s: %d, tainted outputs say %d", a.Label, a.StolenSat, arrived[a.Label])
		}
		arr += a.StolenSat
	}
	for _, l := range []string{labelA, labelB, labelC, labelMixer} {
		if !labels[l] {
			t.Errorf("nothing arrived at %s", l)
		}
	}
	// Fees out of stolen coins, recomputed from the chain and the owners.
	var fees int64
	for _, b := range main[1:] {
		for _, tx := range b.Transactions[1:] {
			var in, kept int64
			for _, ti := range tx.TxIn {
				if o := outs[ti.PreviousOutPoint]; owners[addrOf(o.PkScript)] == "attacker" {
					in += o.Value
				}
			}
			if in == 0 {
				continue
			}
			for _, o := range tx.TxOut {
				switch own := owners[addrOf(o.PkScript)]; {
				case own == "attacker", strings.HasPrefix(own, "exchange-"), strings.HasPrefix(own, "mixer-"):
					kept += o.Value
				}
			}
			fees += in - kept
		}
	}
	if fees != tr.FeesSat || arr != tr.ArrivedSat || arr+tr.UnspentSat+tr.FeesSat != tr.StolenSat {
		t.Fatalf("arrived %d + unspent %d + fees %d (chain: %d) != stolen %d", arr, tr.UnspentSat, tr.FeesSat, fees, tr.StolenSat)
	}
	t.Logf("stolen %s: arrived %s, unspent %s, fees %d sat, %d tainted outputs", sat(tr.StolenSat), sat(arr), sat(tr.UnspentSat), tr.FeesSat, len(tr.TaintedOutputs))

	// labels.yaml: a TagPack naming the victim, the thief and the services.
	var tp struct {
		Title, Creator, Currency, Network, Source, Confidence, Lastmod string
		Tags                                                           []struct {
			Address, Label, Category, Abuse string
			Definer                         bool `yaml:"is_cluster_definer"`
		}
	}
	if err := yaml.Unmarshal(readFile(t, dir+"/labels.yaml"), &tp); err != nil {
		t.Fatal(err)
	}
	if tp.Currency != "BTC" || tp.Network != "regtest" || tp.Source == "" || tp.Confidence == "" || tp.Lastmod != "2024-05-31" {
		t.Errorf("TagPack header: %+v", tp)
	}
	got := map[string]string{}
	for _, tag := range tp.Tags {
		if owners[tag.Address] == "" {
			t.Errorf("label %s for %s, which never received coins", tag.Label, tag.Address)
		}
		got[tag.Address] = tag.Label + "/" + tag.Category + "/" + tag.Abuse
	}
	if got[tr.VictimAddress] != "DMM Bitcoin/exchange/" || got[tr.AttackerAddress] != labelThief+"/perpetrator/service_hack" {
		t.Errorf("victim labelled %q, thief %q", got[tr.VictimAddress], got[tr.AttackerAddress])
	}
	if string(res.TagPack) != string(readFile(t, dir+"/labels.yaml")) {
		t.Error("Result.TagPack differs from labels.yaml")
	}
}

func TestDeterminism(t *testing.T) {
	if testing.Short() {
		t.Skip("generates chains")
	}
	gen := func(cfg Config) map[string][]byte {
		dir := t.TempDir()
		if _, err := WriteDir(context.Background(), cfg, dir, nil); err != nil {
			t.Fatal(err)
		}
		return dirFiles(t, dir)
	}
	cfg := Config{Scenario: "dmm-2024", Seed: 5, Txs: 300, TxsPerBlock: 5}
	a, b := gen(cfg), gen(cfg)
	names := make([]string, 0, len(a))
	for n := range a {
		names = append(names, n)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"blocks/blk00000.dat", "labels.yaml", "truth.json"}) {
		t.Fatalf("files %v", names)
	}
	for name, data := range a {
		if string(b[name]) != string(data) {
			t.Errorf("%s differs between two runs with the same seed", name)
		}
	}
	cfg.Seed = 6
	c := gen(cfg)
	for _, name := range []string{"blocks/blk00000.dat", "truth.json", "labels.yaml"} {
		if string(c[name]) == string(a[name]) {
			t.Errorf("%s is the same for seeds 5 and 6", name)
		}
	}
}

func TestXORAndStale(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Seed: 9, Txs: 100, TxsPerBlock: 10, Fast: true, XOR: true, Stale: 3,
		StartTime: time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)}
	res, err := WriteDir(context.Background(), cfg, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Truth != nil || res.TagPack != nil {
		t.Error("truth without a scenario")
	}
	key := readFile(t, dir+"/blocks/xor.dat")
	if want := xorKey(9); len(key) != 8 || string(key) != string(want[:]) || string(key) == "\x00\x00\x00\x00\x00\x00\x00\x00" {
		t.Fatalf("xor.dat %x", key)
	}
	raw := readFile(t, dir+"/blocks/blk00000.dat")
	magic := regtest.MagicBytes()
	if string(raw[:4]) == string(magic[:]) {
		t.Fatal("blk00000.dat starts with the plain magic despite XOR")
	}
	if len(raw)%blkPadTo != 0 {
		t.Errorf("blk00000.dat is %d bytes, not padded to 16 MiB", len(raw))
	}
	main, stale := mainChain(t, blkFiles(t, dir+"/blocks"))
	if len(main) != res.Blocks+1 || len(stale) != 3 {
		t.Fatalf("%d main blocks (result %d + genesis), %d stale", len(main), res.Blocks, len(stale))
	}
	if got := main[432].Header.Timestamp; !got.Equal(cfg.StartTime) { // the first main-phase block
		t.Errorf("first main-phase block at %v, want %v", got, cfg.StartTime)
	}
	// The stale blocks form one branch off the main chain, shorter than
	// the main chain after the fork, with the same transactions as the
	// main blocks at their heights but another coinbase.
	pos := map[string]int{}
	for i, b := range main {
		pos[b.BlockHash().String()] = i
	}
	fork, ok := pos[stale[0].Header.PrevBlock.String()]
	if !ok {
		t.Fatal("first stale block does not fork off the main chain")
	}
	for i, s := range stale {
		if i > 0 && s.Header.PrevBlock != stale[i-1].BlockHash() {
			t.Fatalf("stale block %d does not extend stale block %d", i, i-1)
		}
		m := main[fork+1+i]
		if len(s.Transactions) != len(m.Transactions) || s.Transactions[0].TxHash() == m.Transactions[0].TxHash() {
			t.Fatalf("stale block %d: %d txs vs %d on the main chain", i, len(s.Transactions), len(m.Transactions))
		}
		for j := 1; j < len(s.Transactions); j++ {
			if s.Transactions[j].TxHash() != m.Transactions[j].TxHash() {
				t.Fatalf("stale block %d tx %d differs from the main chain's", i, j)
			}
		}
	}
	if fork+len(stale) >= len(main)-1 {
		t.Fatalf("stale branch of %d after block %d does not lose to %d blocks", len(stale), fork, len(main))
	}
	replayFast(t, main)
}

// replayFast checks the chain structure of a fast-mode chain (no script
// validation: its signatures are dummies).
func replayFast(t *testing.T, main []*wire.MsgBlock) {
	t.Helper()
	utxos := map[wire.OutPoint]int64{}
	for h, blk := range main[1:] {
		if err := blockchain.CheckBlockSanity(btcutil.NewBlock(blk), chaincfg.RegressionNetParams.PowLimit, blockchain.NewMedianTime()); err != nil {
			t.Fatalf("height %d: %v", h+1, err)
		}
		for _, tx := range blk.Transactions {
			if !blockchain.IsCoinBaseTx(tx) {
				var in, out int64
				for _, ti := range tx.TxIn {
					v, ok := utxos[ti.PreviousOutPoint]
					if !ok {
						t.Fatalf("height %d: spends missing %v", h+1, ti.PreviousOutPoint)
					}
					delete(utxos, ti.PreviousOutPoint)
					in += v
				}
				for _, o := range tx.TxOut {
					out += o.Value
				}
				if in < out {
					t.Fatalf("height %d: %d out of %d", h+1, out, in)
				}
			}
			for i, o := range tx.TxOut {
				utxos[wire.OutPoint{Hash: tx.TxHash(), Index: uint32(i)}] = o.Value
			}
		}
	}
}
