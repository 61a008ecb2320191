package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/cointrail/cointrail/internal/failpoint"
)

// bulkFiles are the finished build's files that replace the empty index's.
var bulkFiles = []string{"txs.col", "txids.col", "txmeta.col", "outs.col", "ins.col", "addrs.col", "addrkeys.heap", "txids.table", "addrs.table"}

// installBulk moves a finished build into place. The order makes every crash
// recoverable (BULK.md): state "install" is durable before the first rename;
// every file was fsynced when written; after the renames the directory is
// fsynced, and only then does one synced Pebble batch write the block rows
// and the tip. Open finishes an install it finds started.
func (ix *Index) installBulk(b *bulkBuilder) error {
	b.st.Phase = phaseInstall
	if err := b.save(); err != nil {
		return err
	}
	b.phase(phaseInstall, 0, 1)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.finishInstall(b.st)
}

// resumeBulkInstall finishes an install a crash interrupted; it runs at
// open before the columns are opened (their recovery would cut the installed
// files back to the empty tip). It reports whether it opened the columns.
// A read-only index leaves the install unfinished: its tip stays empty
// and status reports the build in progress.
func (ix *Index) resumeBulkInstall() (bool, error) {
	if ix.ro {
		return false, nil
	}
	st, err := readBulkState(ix.bulkDir())
	if err != nil || st.Phase != phaseInstall {
		return false, nil
	}
	if !ix.tip.Empty {
		// The tip committed; only the clean-up was left.
		os.RemoveAll(ix.bulkDir())
		return false, nil
	}
	ix.log.Info("finishing an interrupted bulk install", "height", st.Height)
	return true, ix.finishInstall(st)
}

func (ix *Index) finishInstall(st bulkState) error {
	dir := ix.bulkDir()
	if err := ix.closeColumns(); err != nil {
		return err
	}
	ix.txs, ix.txids, ix.meta, ix.outs, ix.ins, ix.addrs, ix.heap, ix.txTable, ix.addrTable = nil, nil, nil, nil, nil, nil, nil, nil, nil
	g := filepath.Join(ix.dir, "graph")
	for _, name := range bulkFiles {
		src, dst := filepath.Join(dir, name), filepath.Join(g, name)
		if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) {
			if _, err := os.Stat(dst); err != nil {
				return fmt.Errorf("%w: bulk install: %s is in neither %s nor %s", ErrCorrupt, name, dir, g)
			}
			continue // moved before the crash
		}
		if err := os.Rename(src, dst); err != nil {
			return fmt.Errorf("%w: install %s: %v", ErrBuild, name, err)
		}
		failpoint.Hit("bulk-rename")
	}
	if err := syncDir(g); err != nil {
		return fmt.Errorf("%w: %v", ErrBuild, err)
	}
	tip, err := ix.commitBulkBlocks(st)
	if err != nil {
		return err
	}
	failpoint.Hit("bulk-installed")
	ix.tip = tip
	if err := ix.openColumns(); err != nil {
		return err
	}
	if err := ix.loadTimes(); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		ix.log.Warn("could not remove the finished bulk build's directory", "dir", dir, "err", err)
	}
	return nil
}

// commitBulkBlocks writes every block row, hash row and the tip in one
// synced batch, replacing any block rows a crash left without a tip.
func (ix *Index) commitBulkBlocks(st bulkState) (Tip, error) {
	dir := ix.bulkDir()
	blocks, err := openRecReader(filepath.Join(dir, "blocks.rec"), blockRecSize)
	if err != nil {
		return Tip{}, err
	}
	defer blocks.close()
	addrs, err := openRecReader(filepath.Join(dir, "blockaddr.rec"), 12)
	if err != nil {
		return Tip{}, err
	}
	defer addrs.close()
	batch := ix.Store.NewBatch()
	defer batch.Close()
	batch.DeleteRange([]byte{pfxBlock}, []byte{pfxBlock + 1})
	batch.DeleteRange([]byte{pfxBlockHash}, []byte{pfxBlockHash + 1})
	var tip Tip
	for h := uint32(0); h < st.Blocks; h++ {
		br, err := blocks.next()
		if err != nil {
			return Tip{}, err
		}
		ar, err := addrs.next()
		if err != nil {
			return Tip{}, err
		}
		if br == nil || ar == nil {
			return Tip{}, fmt.Errorf("%w: bulk build records end at block %d of %d", ErrCorrupt, h, st.Blocks)
		}
		var info BlockInfo
		info.Height = h
		copy(info.Hash[:], br)
		copy(info.Prev[:], br[32:])
		info.Time = binary.LittleEndian.Uint32(br[64:])
		info.Size = binary.LittleEndian.Uint32(br[68:])
		info.FirstTx = binary.LittleEndian.Uint32(br[72:])
		info.NumTx = binary.LittleEndian.Uint32(br[76:])
		info.after = counters{nTx: info.FirstTx + info.NumTx, nOut: binary.LittleEndian.Uint64(br[80:]), nIn: binary.LittleEndian.Uint64(br[88:]),
			nAddr: binary.LittleEndian.Uint32(ar), heapLen: binary.LittleEndian.Uint64(ar[4:])}
		batch.Set(blockKey(h), info.encode())
		batch.Set(blockHashKey(info.Hash), binary.BigEndian.AppendUint32(nil, h))
		tip = Tip{Height: h, Hash: info.Hash, counters: info.after}
	}
	if want, _ := chainhash.NewHashFromStr(st.Hash); want == nil || *want != tip.Hash || tip.nTx != st.NTx || tip.nOut != st.NOut || tip.nAddr != st.NAddr {
		return Tip{}, fmt.Errorf("%w: bulk build records disagree with its state (tip %s)", ErrCorrupt, tip.Hash)
	}
	batch.Set(keyTip, tip.encode())
	if err := batch.Commit(true); err != nil {
		return Tip{}, err
	}
	return tip, nil
}
