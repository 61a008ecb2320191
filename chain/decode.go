package chain

import (
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// maxDecodeFile bounds what DecodeArg reads into memory: a full blk file is
// 128 MiB.
const maxDecodeFile = 256 << 20

// Decoded is what Decode found: blocks, or a single transaction.
type Decoded struct {
	Blocks []*wire.MsgBlock
	Tx     *wire.MsgTx // when the input was a single raw transaction
}

// Decode decodes framed blk data (every frame, up to zero padding), a raw
// serialized block or a raw transaction, whichever data is; the last two
// must use up all of data.
func Decode(data []byte, net Network) (*Decoded, error) {
	return decode(data, net, "")
}

// decode names offsets as "src:off", or "offset off" when src is empty.
func decode(data []byte, net Network, src string) (*Decoded, error) {
	at := func(off int) string {
		if src == "" {
			return fmt.Sprintf("offset %d", off)
		}
		return fmt.Sprintf("%s:%d", src, off)
	}
	if len(data) >= 4 {
		if _, ok := NetworkByMagic([4]byte(data[:4])); ok {
			return decodeFramed(data, net, at)
		}
	}
	b, bOff, bErr := decodeBlock(data)
	if bErr == nil {
		return &Decoded{Blocks: []*wire.MsgBlock{b}}, nil
	}
	tx, tOff, tErr := decodeTx(data)
	if tErr == nil {
		return &Decoded{Tx: tx}, nil
	}
	return nil, fmt.Errorf("%w: %s: not a block (%s: %v), not a transaction (%s: %v), not framed (no network magic)",
		ErrCorrupt, at(0), at(bOff), bErr, at(tOff), tErr)
}

func decodeFramed(data []byte, net Network, at func(int) string) (*Decoded, error) {
	var out Decoded
	magic := net.MagicBytes()
	for off := 0; off < len(data); {
		rest := data[off:]
		if isZero(rest[:min(4, len(rest))]) {
			break // preallocated padding
		}
		if len(rest) < frameHeaderLen {
			return nil, fmt.Errorf("%w: %s: truncated frame header (%d bytes left)", ErrCorrupt, at(off), len(rest))
		}
		if m := [4]byte(rest[:4]); m != magic {
			if other, ok := NetworkByMagic(m); ok {
				return nil, fmt.Errorf("%w: %s: %s block (magic %x), want %s (magic %x)",
					ErrWrongNetwork, at(off), other.Name, m, net.Name, magic)
			}
			return nil, fmt.Errorf("%w: %s: no network magic (found %x, want %s magic %x)",
				ErrCorrupt, at(off), m, net.Name, magic)
		}
		length := binary.LittleEndian.Uint32(rest[4:8])
		if length > maxFrameLen {
			return nil, fmt.Errorf("%w: %s: frame length %d exceeds %d", ErrCorrupt, at(off), length, maxFrameLen)
		}
		if int(length) > len(rest)-frameHeaderLen {
			return nil, fmt.Errorf("%w: %s: truncated frame: block of %d bytes, %d bytes left",
				ErrCorrupt, at(off), length, len(rest)-frameHeaderLen)
		}
		b, boff, err := decodeBlock(rest[frameHeaderLen : frameHeaderLen+int(length)])
		if err != nil {
			return nil, fmt.Errorf("%w: %s: frame at %d: %v", ErrCorrupt, at(off+frameHeaderLen+boff), off, err)
		}
		out.Blocks = append(out.Blocks, b)
		off += frameHeaderLen + int(length)
	}
	return &out, nil
}

// decodeBlock decodes a block that must use all of data; on failure it
// returns the offset where decoding stopped.
func decodeBlock(data []byte) (*wire.MsgBlock, int, error) {
	r := bytes.NewReader(data)
	var b wire.MsgBlock
	if err := b.Deserialize(r); err != nil {
		return nil, len(data) - r.Len(), err
	}
	if r.Len() != 0 {
		return nil, len(data) - r.Len(), fmt.Errorf("%d trailing bytes after the block", r.Len())
	}
	return &b, 0, nil
}

func decodeTx(data []byte) (*wire.MsgTx, int, error) {
	r := bytes.NewReader(data)
	var tx wire.MsgTx
	if err := tx.Deserialize(r); err != nil {
		return nil, len(data) - r.Len(), err
	}
	if r.Len() != 0 {
		return nil, len(data) - r.Len(), fmt.Errorf("%d trailing bytes after the transaction", r.Len())
	}
	return &tx, 0, nil
}

// DecodeArg decodes arg: the file it names if there is one, else arg as hex.
func DecodeArg(arg string, net Network) (*Decoded, error) {
	if st, err := os.Stat(arg); err == nil && !st.IsDir() {
		if st.Size() > maxDecodeFile {
			return nil, fmt.Errorf("%w: %s: %d bytes, more than the %d this reads", ErrBadInput, arg, st.Size(), maxDecodeFile)
		}
		data, err := os.ReadFile(arg)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadInput, err)
		}
		return decode(data, net, arg)
	}
	h := strings.TrimPrefix(strings.Join(strings.Fields(arg), ""), "0x")
	data, err := hex.DecodeString(h)
	if err != nil || len(data) == 0 {
		return nil, fmt.Errorf("%w: %q is neither an existing file nor hex", ErrBadInput, shorten(arg))
	}
	return decode(data, net, "")
}

func shorten(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// OutputRow is one output as `decode --format csv` prints it.
type OutputRow struct {
	BlockHash  string // "" for a lone transaction
	TxID       string
	Vout       uint32
	ValueSat   int64
	Address    string // "" for OP_RETURN
	ScriptType ScriptType
}

// Rows lists every output of the decoded blocks or transaction, in order.
func (d *Decoded) Rows(net Network) []OutputRow {
	var rows []OutputRow
	add := func(block string, tx *wire.MsgTx) {
		id := tx.TxHash().String()
		for i, out := range tx.TxOut {
			typ, key := Classify(out.PkScript)
			rows = append(rows, OutputRow{
				BlockHash: block, TxID: id, Vout: uint32(i), ValueSat: out.Value,
				Address: key.Encode(net), ScriptType: typ,
			})
		}
	}
	for _, b := range d.Blocks {
		h := b.BlockHash().String()
		for _, tx := range b.Transactions {
			add(h, tx)
		}
	}
	if d.Tx != nil {
		add("", d.Tx)
	}
	return rows
}

// CSVHeader is the header line WriteCSV writes.
var CSVHeader = []string{"block_hash", "txid", "vout", "value_sat", "address", "script_type"}

// WriteCSV writes the header and one line per row.
func WriteCSV(w io.Writer, rows []OutputRow) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, r := range rows {
		rec := []string{r.BlockHash, r.TxID, strconv.FormatUint(uint64(r.Vout), 10),
			strconv.FormatInt(r.ValueSat, 10), r.Address, r.ScriptType.String()}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// BlockCheck is what `decode` reports about each block it prints: whether
// the header's hash meets its bits and the network's limit (PoW), and
// whether the transactions are the ones the header commits to (Merkle:
// coinbase placement, merkle root, mutation, witness commitment). A nil
// error is valid. Decoding is for looking at damaged data, so it reports
// rather than refuses.
type BlockCheck struct {
	PoW, Merkle error
}

// Check runs the context-free validation on b.
func Check(b *wire.MsgBlock, net Network) BlockCheck {
	var c BlockCheck
	if c.PoW = CheckProofOfWork(b.BlockHash(), b.Header.Bits); c.PoW == nil {
		c.PoW = CheckPowLimit(b.Header.Bits, net)
	}
	ids := make([]chainhash.Hash, len(b.Transactions))
	for i, tx := range b.Transactions {
		ids[i] = tx.TxHash()
	}
	c.Merkle = CheckBody(b, ids, nil)
	return c
}
