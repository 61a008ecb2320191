package index

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// SeedOut is one output a trace starts from, with the amount of it that is
// tainted (0: all of it).
type SeedOut struct {
	Out    uint64
	Amount int64
}

// SeedWindow limits address seeds to outputs received in [FromHeight, ToHeight].
type SeedWindow struct {
	FromHeight, ToHeight uint32 // ToHeight 0 = no upper bound
}

// ResolveSeed turns a seed as users write it — TXID:VOUT, TXID (all its
// outputs) or an address (every output it received, within w), each
// optionally followed by @SATS, the tainted amount — into outputs. An amount
// on a seed of several outputs is spread over them in output order.
func (ix *Index) ResolveSeed(s string, w SeedWindow) ([]SeedOut, error) {
	spec, amount := s, int64(0)
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		v, err := strconv.ParseInt(s[i+1:], 10, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%w: seed %q: amount %q is not a positive number of satoshis", ErrBadInput, s, s[i+1:])
		}
		spec, amount = s[:i], v
	}
	var outs []uint64
	switch {
	case strings.Contains(spec, ":"):
		o, err := ix.FindOutpoint(spec)
		if err != nil {
			return nil, err
		}
		outs = []uint64{o}
	case len(spec) == 64 && isHex(spec):
		h, err := ParseTxID(spec)
		if err != nil {
			return nil, err
		}
		tx, err := ix.FindTx(h)
		if err != nil {
			return nil, err
		}
		if outs, err = ix.valuedOutputs(tx); err != nil {
			return nil, err
		}
	default:
		id, _, err := ix.ParseAddr(spec)
		if err != nil {
			return nil, err
		}
		if outs, err = ix.receivedOutputs(id, w); err != nil {
			return nil, err
		}
		if len(outs) == 0 {
			return nil, fmt.Errorf("%w: address %s received nothing in heights %d..%d", ErrNotFound, spec, w.FromHeight, w.ToHeight)
		}
	}
	seeds := make([]SeedOut, 0, len(outs))
	left := amount
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	for _, o := range outs {
		sd := SeedOut{Out: o}
		if amount > 0 {
			if left == 0 {
				break
			}
			v, err := ix.outValue(o)
			if err != nil {
				return nil, err
			}
			sd.Amount = min(left, v)
			left -= sd.Amount
		}
		seeds = append(seeds, sd)
	}
	if left > 0 {
		return nil, fmt.Errorf("%w: seed %q: amount %d sat exceeds the seed's value", ErrBadInput, s, amount)
	}
	return seeds, nil
}

// receivedOutputs lists the outputs paying address id within w, in chain order.
func (ix *Index) receivedOutputs(id uint32, w SeedWindow) ([]uint64, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var outs []uint64
	err := ix.eachAddrOut(id, func(o uint64) error {
		tx, err := ix.outTx(o)
		if err != nil {
			return err
		}
		h, err := ix.txHeight(tx)
		if err != nil {
			return err
		}
		if h >= w.FromHeight && (w.ToHeight == 0 || h <= w.ToHeight) {
			outs = append(outs, o)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Reverse(outs)
	return outs, nil
}

// valuedOutputs lists tx's outputs that carry value.
func (ix *Index) valuedOutputs(tx uint32) ([]uint64, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	first, n, err := ix.txOuts(tx)
	if err != nil {
		return nil, err
	}
	var outs []uint64
	for o := first; o < first+uint64(n); o++ {
		v, err := ix.outValue(o)
		if err != nil {
			return nil, err
		}
		if v > 0 {
			outs = append(outs, o)
		}
	}
	return outs, nil
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
