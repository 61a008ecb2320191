package pattern

// Source is the part of the transaction graph ViewOf reads; taint.Graph and
// the index satisfy it. It is declared here so pattern imports neither.
type Source interface {
	TxOutputs(tx uint32) (first uint64, n uint32)
	TxInputs(tx uint32) (first uint64, n uint32)
	InputPrevOut(in uint64) uint64
	OutValue(out uint64) int64
	OutAddr(out uint64) uint32
	OutType(out uint64) uint8
}

// ViewOf fills buf with transaction tx of s, reusing buf's slices so a loop
// over every transaction allocates only when a transaction is the largest
// seen so far.
func ViewOf(s Source, tx uint32, buf *TxView) {
	buf.InValues, buf.InAddrs = buf.InValues[:0], buf.InAddrs[:0]
	buf.OutValues, buf.OutAddrs, buf.OutTypes = buf.OutValues[:0], buf.OutAddrs[:0], buf.OutTypes[:0]
	first, n := s.TxInputs(tx)
	for in := first; in < first+uint64(n); in++ {
		prev := s.InputPrevOut(in)
		buf.InValues = append(buf.InValues, s.OutValue(prev))
		buf.InAddrs = append(buf.InAddrs, s.OutAddr(prev))
	}
	first, n = s.TxOutputs(tx)
	for out := first; out < first+uint64(n); out++ {
		buf.OutValues = append(buf.OutValues, s.OutValue(out))
		buf.OutAddrs = append(buf.OutAddrs, s.OutAddr(out))
		buf.OutTypes = append(buf.OutTypes, s.OutType(out))
	}
}
