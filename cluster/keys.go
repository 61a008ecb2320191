package cluster

import (
	"encoding/binary"
	"fmt"
)

// Key schema of the 'C' prefix, version 1 (docs/clustering.md). Integers are
// big-endian so keys sort numerically; values are fixed-size little-endian
// records.
//
//	C v                      → version u8
//	C o                      → options: change u8, power-of-ten digits u8, supercluster size u32
//	C t                      → clustered tip (tipRec)
//	C a addr u32             → cluster u32; only addresses in clusters of ≥ 2
//	C m cluster u32 addr u32 → (empty); the members of clusters of ≥ 2
//	C c cluster u32          → aggregates (aggRec); clusters of ≥ 2
//	C r retired u32          → merge record (mergeRec)
//	C j survivor u32 retired u32 → (empty); the merges into a cluster
//	C i                      → (empty); present while Build writes its rows: the clustering is incomplete
const (
	schemaVersion = 1

	prefix      = 'C'
	kVersion    = 'v'
	kOptions    = 'o'
	kTip        = 't'
	kAddr       = 'a'
	kMember     = 'm'
	kAgg        = 'c'
	kRetired    = 'r'
	kJoined     = 'j'
	kIncomplete = 'i'
	optionsLen  = 6
)

func key1(kind byte) []byte { return []byte{prefix, kind} }

func keyU32(kind byte, a uint32) []byte {
	k := []byte{prefix, kind, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(k[2:], a)
	return k
}

func keyU32x2(kind byte, a, b uint32) []byte {
	k := []byte{prefix, kind, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(k[2:], a)
	binary.BigEndian.PutUint32(k[6:], b)
	return k
}

func u32le(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

func encodeOptions(o Options) []byte {
	b := []byte{byte(o.Change), byte(o.PowerOfTenDigits)}
	return binary.LittleEndian.AppendUint32(b, o.SuperclusterSize)
}

func decodeOptions(b []byte) (Options, error) {
	if len(b) != optionsLen || Heuristics(b[0])&^allHeuristics != 0 {
		return Options{}, fmt.Errorf("%w: options record %x", ErrCorrupt, b)
	}
	return Options{Change: Heuristics(b[0]), PowerOfTenDigits: int(b[1]), SuperclusterSize: binary.LittleEndian.Uint32(b[2:])}, nil
}

// tipRec is the last block whose transactions are all clustered: height,
// hash, the transactions and addresses it covers (NTx 0: nothing yet) and
// the merges recorded so far.
type tipRec struct {
	Height uint32
	Hash   [32]byte
	NTx    uint32
	NAddr  uint32
	Merges uint64
}

const tipLen = 4 + 32 + 4 + 4 + 8

func (t tipRec) encode() []byte {
	b := binary.LittleEndian.AppendUint32(nil, t.Height)
	b = append(b, t.Hash[:]...)
	b = binary.LittleEndian.AppendUint32(b, t.NTx)
	b = binary.LittleEndian.AppendUint32(b, t.NAddr)
	return binary.LittleEndian.AppendUint64(b, t.Merges)
}

func decodeTip(b []byte) (tipRec, error) {
	if len(b) != tipLen {
		return tipRec{}, fmt.Errorf("%w: tip record of %d bytes", ErrCorrupt, len(b))
	}
	var t tipRec
	t.Height = binary.LittleEndian.Uint32(b)
	copy(t.Hash[:], b[4:36])
	t.NTx = binary.LittleEndian.Uint32(b[36:])
	t.NAddr = binary.LittleEndian.Uint32(b[40:])
	t.Merges = binary.LittleEndian.Uint64(b[44:])
	return t, nil
}

// agg is what a cluster has received and holds, and when it was active.
type agg struct {
	Size        uint32
	Balance     int64
	Received    int64
	First, Last uint32 // heights of its first and last transaction
}

const aggLen = 4 + 8 + 8 + 4 + 4

func (a agg) encode() []byte {
	b := binary.LittleEndian.AppendUint32(nil, a.Size)
	b = binary.LittleEndian.AppendUint64(b, uint64(a.Balance))
	b = binary.LittleEndian.AppendUint64(b, uint64(a.Received))
	b = binary.LittleEndian.AppendUint32(b, a.First)
	return binary.LittleEndian.AppendUint32(b, a.Last)
}

func decodeAgg(id uint32, b []byte) (agg, error) {
	if len(b) != aggLen {
		return agg{}, fmt.Errorf("%w: aggregates of cluster %d: %d bytes", ErrCorrupt, id, len(b))
	}
	a := agg{
		Size:     binary.LittleEndian.Uint32(b),
		Balance:  int64(binary.LittleEndian.Uint64(b[4:])),
		Received: int64(binary.LittleEndian.Uint64(b[12:])),
		First:    binary.LittleEndian.Uint32(b[20:]),
		Last:     binary.LittleEndian.Uint32(b[24:]),
	}
	if a.Size < 2 || a.Balance < 0 || a.Received < a.Balance || a.First > a.Last {
		return agg{}, fmt.Errorf("%w: aggregates of cluster %d: %+v", ErrCorrupt, id, a)
	}
	return a, nil
}

// Cause says which heuristic linked two clusters.
type Cause uint8

// The causes of a merge.
const (
	CauseInputs Cause = 'i' // common-input ownership
	CauseChange Cause = 'c' // a change output linked to the inputs
)

func (c Cause) String() string {
	switch c {
	case CauseInputs:
		return "multi-input"
	case CauseChange:
		return "change"
	}
	return fmt.Sprintf("cause(%d)", uint8(c))
}

// MarshalText makes a Cause a JSON string.
func (c Cause) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// mergeRec is one merge: the retired cluster, the survivor it joined, the
// transaction that linked them and both sizes just before.
type mergeRec struct {
	Retired, Survivor         uint32
	Height, Tx                uint32
	Cause                     Cause
	RetiredSize, SurvivorSize uint32
}

const mergeLen = 4 + 4 + 4 + 1 + 4 + 4

func (m mergeRec) encode() []byte {
	b := binary.LittleEndian.AppendUint32(nil, m.Survivor)
	b = binary.LittleEndian.AppendUint32(b, m.Height)
	b = binary.LittleEndian.AppendUint32(b, m.Tx)
	b = append(b, byte(m.Cause))
	b = binary.LittleEndian.AppendUint32(b, m.RetiredSize)
	return binary.LittleEndian.AppendUint32(b, m.SurvivorSize)
}

func decodeMerge(retired uint32, b []byte) (mergeRec, error) {
	if len(b) != mergeLen || (Cause(b[12]) != CauseInputs && Cause(b[12]) != CauseChange) {
		return mergeRec{}, fmt.Errorf("%w: merge record of cluster %d: %x", ErrCorrupt, retired, b)
	}
	m := mergeRec{
		Retired:      retired,
		Survivor:     binary.LittleEndian.Uint32(b),
		Height:       binary.LittleEndian.Uint32(b[4:]),
		Tx:           binary.LittleEndian.Uint32(b[8:]),
		Cause:        Cause(b[12]),
		RetiredSize:  binary.LittleEndian.Uint32(b[13:]),
		SurvivorSize: binary.LittleEndian.Uint32(b[17:]),
	}
	if m.Survivor == retired || m.Survivor == 0 {
		return mergeRec{}, fmt.Errorf("%w: merge record of cluster %d names survivor %d", ErrCorrupt, retired, m.Survivor)
	}
	return m, nil
}
