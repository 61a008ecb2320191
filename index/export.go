package index

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// ExportCSV writes the transaction graph as four CSV files in dir —
// txs.csv (tx,txid,height,fee_sat), outputs.csv (out,tx,vout,value_sat,
// address,spender_tx), inputs.csv (input,tx,prev_out) and addresses.csv
// (address,encoded: the id outputs.csv uses and the address it stands for)
// — with the dense ids of SCHEMA.md, so other systems (PostgreSQL in the
// benchmarks) can load the same graph. An empty spender_tx means unspent;
// address 0 (no address: OP_RETURN, bare multisig) has no row.
func (ix *Index) ExportCSV(ctx context.Context, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	t := ix.tip
	write := func(name, header string, rows func(w *bufio.Writer) error) error {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadInput, err)
		}
		w := bufio.NewWriterSize(f, 1<<20)
		w.WriteString(header + "\n")
		if err := rows(w); err != nil {
			f.Close()
			return err
		}
		if err := w.Flush(); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	var buf []byte
	err := write("txs.csv", "tx,txid,height,fee_sat", func(w *bufio.Writer) error {
		for tx := uint32(0); tx < t.nTx; tx++ {
			if tx%65536 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			id, err := ix.txHash(tx)
			if err != nil {
				return err
			}
			h, err := ix.txHeight(tx)
			if err != nil {
				return err
			}
			fee, _, _, err := ix.txMeta(tx)
			if err != nil {
				return err
			}
			buf = strconv.AppendUint(buf[:0], uint64(tx), 10)
			buf = append(buf, ',')
			buf = append(buf, TxIDString(id)...)
			buf = append(buf, ',')
			buf = strconv.AppendUint(buf, uint64(h), 10)
			buf = append(buf, ',')
			buf = strconv.AppendInt(buf, fee, 10)
			buf = append(buf, '\n')
			w.Write(buf)
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = write("outputs.csv", "out,tx,vout,value_sat,address,spender_tx", func(w *bufio.Writer) error {
		for tx := uint32(0); tx < t.nTx; tx++ {
			if tx%65536 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			first, n, err := ix.txOuts(tx)
			if err != nil {
				return err
			}
			for o := first; o < first+uint64(n); o++ {
				val, err := ix.outValue(o)
				if err != nil {
					return err
				}
				a, err := ix.outAddr(o)
				if err != nil {
					return err
				}
				s, err := ix.outSpender(o)
				if err != nil {
					return err
				}
				buf = strconv.AppendUint(buf[:0], o, 10)
				buf = append(buf, ',')
				buf = strconv.AppendUint(buf, uint64(tx), 10)
				buf = append(buf, ',')
				buf = strconv.AppendUint(buf, o-first, 10)
				buf = append(buf, ',')
				buf = strconv.AppendInt(buf, val, 10)
				buf = append(buf, ',')
				buf = strconv.AppendUint(buf, uint64(a), 10)
				buf = append(buf, ',')
				if s != NoTx {
					buf = strconv.AppendUint(buf, uint64(s), 10)
				}
				buf = append(buf, '\n')
				w.Write(buf)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = write("addresses.csv", "address,encoded", func(w *bufio.Writer) error {
		for a := uint32(1); a <= t.nAddr; a++ {
			if a%65536 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			k, err := ix.addrKeyLocked(a)
			if err != nil {
				return err
			}
			buf = strconv.AppendUint(buf[:0], uint64(a), 10)
			buf = append(buf, ',')
			buf = append(buf, k.Encode(ix.Net)...)
			buf = append(buf, '\n')
			w.Write(buf)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return write("inputs.csv", "input,tx,prev_out", func(w *bufio.Writer) error {
		for tx := uint32(0); tx < t.nTx; tx++ {
			if tx%65536 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			first, n, err := ix.txIns(tx)
			if err != nil {
				return err
			}
			for i := first; i < first+uint64(n); i++ {
				o, err := ix.inPrev(i)
				if err != nil {
					return err
				}
				buf = strconv.AppendUint(buf[:0], i, 10)
				buf = append(buf, ',')
				buf = strconv.AppendUint(buf, uint64(tx), 10)
				buf = append(buf, ',')
				buf = strconv.AppendUint(buf, o, 10)
				buf = append(buf, '\n')
				w.Write(buf)
			}
		}
		return nil
	})
}
