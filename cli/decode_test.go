package cli

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/cointrail/cointrail/internal/shareddata"
)

// TestDecodeReportsValidity decodes a real block and the same block with
// one byte changed in its body and one in its header: every printed block
// says whether its proof of work and merkle root hold.
func TestDecodeReportsValidity(t *testing.T) {
	raw, err := os.ReadFile(shareddata.Path(t, "btc", "mainnet", "raw-413567.bin"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	body := bytes.Clone(raw)
	body[len(body)-5] ^= 1
	nonce := bytes.Clone(raw)
	nonce[76] ^= 1
	files := map[string][]byte{"good.bin": raw, "body.bin": body, "nonce.bin": nonce}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h := chainhash.DoubleHashH(raw[:80])
	hn := chainhash.DoubleHashH(nonce[:80])
	tests := []struct {
		file, pow, merkle string
	}{
		{"good.bin", "ok", "ok"},
		{"body.bin", "ok", "INVALID (merkle root: the transactions hash to "},
		{"nonce.bin", fmt.Sprintf("INVALID (proof of work: hash %s is above the target of its bits %08x)", hn, binary.LittleEndian.Uint32(raw[72:])), "ok"},
	}
	for _, tc := range tests {
		var out, errb bytes.Buffer
		if code := Main([]string{"decode", filepath.Join(dir, tc.file)}, &out, &errb); code != 0 {
			t.Fatalf("%s: exit %d: %s", tc.file, code, errb.String())
		}
		first := strings.SplitN(out.String(), "\n", 2)[0]
		fields := strings.Split(first, "  ")
		var pow, merkle string
		for _, f := range fields {
			f = strings.TrimSpace(f)
			if s, ok := strings.CutPrefix(f, "pow "); ok {
				pow = s
			}
			if s, ok := strings.CutPrefix(f, "merkle "); ok {
				merkle = s
			}
		}
		if !strings.HasPrefix(pow, tc.pow) || !strings.HasPrefix(merkle, tc.merkle) {
			t.Errorf("%s: block line %q, want pow %q merkle %q", tc.file, first, tc.pow, tc.merkle)
		}
	}
	var out, errb bytes.Buffer
	if code := Main([]string{"decode", "--json", filepath.Join(dir, "body.bin")}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var j struct {
		Checks []struct {
			Hash        string `json:"hash"`
			PoWOK       bool   `json:"pow_ok"`
			MerkleOK    bool   `json:"merkle_ok"`
			MerkleError string `json:"merkle_error"`
		} `json:"block_checks"`
	}
	if err := json.Unmarshal(out.Bytes(), &j); err != nil {
		t.Fatal(err)
	}
	if len(j.Checks) != 1 || j.Checks[0].Hash != h.String() || !j.Checks[0].PoWOK || j.Checks[0].MerkleOK ||
		!strings.HasPrefix(j.Checks[0].MerkleError, "merkle root: ") {
		t.Fatalf("block_checks %+v", j.Checks)
	}
	out.Reset()
	errb.Reset()
	if code := Main([]string{"decode", "--format", "csv", filepath.Join(dir, "body.bin")}, &out, &errb); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if want := fmt.Sprintf("cointrail decode: block %s: merkle root: ", h); !strings.HasPrefix(errb.String(), want) {
		t.Fatalf("csv stderr %q, want %q...", errb.String(), want)
	}
}
