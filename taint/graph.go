package taint

// NoTx is the spender of an unspent output.
const NoTx = ^uint32(0)

// Graph is the transaction graph a trace walks. Ids are dense and in chain
// order: transactions are numbered from 0 (the genesis coinbase), a
// transaction's outputs and inputs have consecutive ids, and address 0 means
// "no address" (OP_RETURN). A coinbase transaction has no inputs. The index
// implements it over memory-mapped columns, so every method must be cheap and
// returns no error. A graph read from storage can still be corrupt: its reads
// then answer with harmless in-range values and remember the first error,
// which Err returns; the tracer checks it after every transaction and stops
// with it.
type Graph interface {
	NumTxs() uint32
	TxOutputs(tx uint32) (first uint64, n uint32)
	TxInputs(tx uint32) (first uint64, n uint32) // n == 0 for a coinbase
	InputPrevOut(in uint64) uint64               // the output the input spends
	OutValue(out uint64) int64
	OutAddr(out uint64) uint32
	OutType(out uint64) uint8     // a chain.ScriptType
	OutSpender(out uint64) uint32 // NoTx when unspent
	OutTx(out uint64) uint32      // the transaction that created the output
	TxHeight(tx uint32) uint32
	BlockTime(height uint32) int64 // unix seconds
	TxHash(tx uint32) [32]byte     // txid in internal byte order (as chainhash.Hash)
	AddrString(addr uint32) string
	Tip() (height uint32, hash [32]byte)
	// Err is the first corruption a read found, nil if none.
	Err() error
	// Corrupt turns err, an inconsistency the tracer found itself (it
	// wraps ErrCorrupt: an output whose spender does not spend it, a
	// spender before its output), into the error the trace returns; a graph
	// over stored data wraps its own corruption error around it so the
	// caller learns the store is damaged.
	Corrupt(err error) error
}

// Attribution says which addresses belong to labelled entities (exchanges,
// services...). With Params.StopAtService an attributed output ends the
// trace: forward it is an arrival, backward a source.
type Attribution interface {
	Entity(addr uint32) (e Entity, ok bool)
}

// Entity is the owner of an attributed address. Label and Category name
// it; Source and Confidence are the provenance of the label that named it
// (which file or list, GraphSense's 0–100 level), shown to the analyst but
// not part of the entity's identity (see Key).
type Entity struct {
	Label      string
	Category   string
	Source     string
	Confidence int
}

// Key is the entity without its label's provenance: two addresses of one
// exchange labelled by different files are one entity.
func (e Entity) Key() Entity { return Entity{Label: e.Label, Category: e.Category} }
