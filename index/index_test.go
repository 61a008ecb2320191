package index

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/internal/shareddata"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func mainnet(t testing.TB) chain.Network {
	n, err := chain.NetworkByName("mainnet")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func openTemp(t testing.TB, dir string) *Index {
	t.Helper()
	ix, err := Open(dir, mainnet(t), Options{}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix
}

// ingestMainnet ingests the first 4,313 real mainnet blocks.
func ingestMainnet(t testing.TB, ix *Index, opt IngestOptions) Progress {
	t.Helper()
	p, err := ix.IngestBlkDir(context.Background(), shareddata.BlocksDir(t, "blk00000-heights-0-4312.dat"), opt)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestIngestMainnetFacts(t *testing.T) {
	ix := openTemp(t, t.TempDir())
	p := ingestMainnet(t, ix, IngestOptions{})
	tip := ix.Tip()
	if tip.Height != 4312 || p.Blocks != 4313 {
		t.Fatalf("tip %d, connected %d blocks", tip.Height, p.Blocks)
	}
	if txs, _, _, _ := tip.Counts(); txs != 4371 {
		t.Fatalf("txs = %d, want 4371 (shared/data/README.md)", txs)
	}
	// Block 170: the first person-to-person payment, Satoshi to Hal Finney.
	h, err := ParseTxID("f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16")
	if err != nil {
		t.Fatal(err)
	}
	tx, err := ix.FindTx(h)
	if err != nil {
		t.Fatal(err)
	}
	v, err := ix.Tx(tx)
	if err != nil {
		t.Fatal(err)
	}
	if v.Height != 170 || len(v.Outputs) != 2 || len(v.Inputs) != 1 {
		t.Fatalf("tx view %+v", v)
	}
	want := []OutView{
		{Vout: 0, ValueSat: 1000000000, Address: "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3", ScriptType: "p2pk", Spent: true},
		{Vout: 1, ValueSat: 4000000000, Address: "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S", ScriptType: "p2pk", Spent: true},
	}
	for i, w := range want {
		g := v.Outputs[i]
		if g.Vout != w.Vout || g.ValueSat != w.ValueSat || g.Address != w.Address || g.ScriptType != w.ScriptType {
			t.Errorf("output %d = %+v, want %+v", i, g, w)
		}
	}
	if in := v.Inputs[0]; in.PrevTxID != "0437cd7f8525ceed2324359c2d0ba26006d92d856a9c20fa0241106ee5a597c9" || in.PrevVout != 0 || in.ValueSat != 5000000000 || v.FeeSat != 0 {
		t.Errorf("input %+v fee %d", in, v.FeeSat)
	}
	// Hal Finney's address: received 10 BTC in block 170.
	id, _, err := ix.ParseAddr("1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3")
	if err != nil {
		t.Fatal(err)
	}
	a, err := ix.Address(id, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if a.FirstHeight != 170 || a.ReceivedSat < 1000000000 {
		t.Errorf("address view %+v", a)
	}
	// Totals: every block before the first halving pays 50 BTC; no fees yet
	// in 2009 except what verify sees; the UTXO total equals subsidy minus
	// nothing destroyed.
	r, err := ix.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r.Blocks != 4313 || r.Txs != 4371 {
		t.Errorf("verify report %+v", r)
	}
	if r.UTXOSat != 4313*50_00000000 {
		t.Errorf("UTXO total %d, want 4313 × 50 BTC", r.UTXOSat)
	}
}

func TestRollbackEqualsFreshBuild(t *testing.T) {
	fresh := openTemp(t, t.TempDir())
	ingestMainnet(t, fresh, IngestOptions{})
	want, err := fresh.Digest()
	if err != nil {
		t.Fatal(err)
	}
	ix := openTemp(t, t.TempDir())
	ingestMainnet(t, ix, IngestOptions{BatchBytes: 100_000})
	if err := ix.Rollback(150); err != nil {
		t.Fatal(err)
	}
	if got := ix.Tip().Height; got != 150 {
		t.Fatalf("tip after rollback = %d", got)
	}
	if _, err := ix.Verify(context.Background()); err != nil {
		t.Fatalf("verify after rollback: %v", err)
	}
	// Block 170's tx must be gone.
	h, _ := ParseTxID("f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16")
	if _, err := ix.FindTx(h); !errors.Is(err, ErrNotFound) {
		t.Fatalf("FindTx after rollback: %v", err)
	}
	ingestMainnet(t, ix, IngestOptions{})
	got, err := ix.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("digest after rollback+reingest %s, fresh build %s", got, want)
	}
}
