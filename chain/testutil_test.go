package chain

import (
	"encoding/binary"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// sharedData returns the shared real-data directory (../shared/data seen
// from the repository root), failing the test when it is missing.
func sharedData(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's working directory")
		}
		dir = parent
	}
	data := filepath.Join(dir, "..", "shared", "data")
	if st, err := os.Stat(data); err != nil || !st.IsDir() {
		t.Fatalf("shared test data missing: %s", data)
	}
	return data
}

// mainnetFile is a file of ../shared/data/btc/mainnet.
func mainnetFile(t testing.TB, name string) string {
	return filepath.Join(sharedData(t), "btc", "mainnet", name)
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// splitFrames cuts framed blk data into its block payloads, without any of
// the package's code.
func splitFrames(t testing.TB, data []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for len(data) > 0 {
		if len(data) < 8 {
			t.Fatalf("trailing %d bytes", len(data))
		}
		n := int(binary.LittleEndian.Uint32(data[4:8]))
		out = append(out, data[8:8+n])
		data = data[8+n:]
	}
	return out
}

// earlyBlocks returns the raw blocks at heights 0..4312, in height order.
func earlyBlocks(t testing.TB) [][]byte {
	t.Helper()
	data, err := os.ReadFile(mainnetFile(t, "blk00000-heights-0-4312.dat"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := splitFrames(t, data)
	if len(blocks) != 4313 {
		t.Fatalf("blk00000-heights-0-4312.dat: %d blocks, want 4313", len(blocks))
	}
	return blocks
}

// frame wraps raw in a blk frame with net's magic.
func frame(net Network, raw []byte) []byte {
	m := net.MagicBytes()
	out := append([]byte(nil), m[:]...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(raw)))
	return append(out, raw...)
}

// Networks by name, for tests.
var (
	tMainnet = mustNetwork("mainnet")
	tTestnet = mustNetwork("testnet")
	tRegtest = mustNetwork("regtest")
	tSignet  = mustNetwork("signet")
)

func mustNetwork(name string) Network {
	n, err := NetworkByName(name)
	if err != nil {
		panic(err)
	}
	return n
}
