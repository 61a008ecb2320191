package labels

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/kv"
)

var (
	mainnet = mustNetwork("mainnet")
	testnet = mustNetwork("testnet")
	regtest = mustNetwork("regtest")
	testNow = time.Date(2025, 12, 1, 10, 30, 0, 0, time.UTC)
)

func mustNetwork(name string) chain.Network {
	n, err := chain.NetworkByName(name)
	if err != nil {
		panic(err)
	}
	return n
}

func openStore(t testing.TB) kv.Store {
	t.Helper()
	s, err := kv.OpenPebble(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testLog(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), nil))
}

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func fileSHA(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// encodeOn re-renders a mainnet address on another network (same key).
func encodeOn(t testing.TB, addr string, net chain.Network) string {
	t.Helper()
	k, err := chain.ParseAddress(mainnet, addr)
	if err != nil {
		t.Fatal(err)
	}
	return k.Encode(net)
}

// lite is a Label without its provenance, to keep tables short.
type lite struct {
	Address, TxHash, Label, Category, Source, Confidence string
	Level                                                int
	Abuse, Actor, Context, Lastmod                       string
	Definer                                              bool
}

func lites(ls []Label) []lite {
	var out []lite
	for _, l := range ls {
		out = append(out, lite{l.Address, l.TxHash, l.Label, l.Category, l.Source, l.Confidence,
			l.ConfidenceLevel, l.Abuse, l.Actor, l.Context, l.Lastmod, l.IsClusterDefiner})
	}
	return out
}

func listAll(t testing.TB, store kv.Store, net chain.Network) []Label {
	t.Helper()
	ls, err := List(store, net, Query{})
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

func count(t testing.TB, store kv.Store) int {
	t.Helper()
	n, err := Count(store)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
