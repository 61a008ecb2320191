package index

import (
	"errors"
	"os"
)

// BulkView is an unfinished bulk build (BULK.md) as status shows it. A
// build installs the whole index at once at its end, so until then — while
// it runs, and after it was killed or interrupted — the index's tip is
// empty, and a status that showed only the tip would call hours of work an
// empty index.
type BulkView struct {
	Phase     int    `json:"phase"`      // the phase a resumed build continues with, 1..Phases
	Phases    int    `json:"phases"`     // 6
	PhaseName string `json:"phase_name"` // blocks, addresses, address ids, outputs, tables, install
	// Height is the last block the forward pass read, -1 while phase 1 is
	// unfinished: phase 1 records nothing until it ends (its input is the
	// blocks), so a resumed build reads them again from block 0.
	Height int64  `json:"height"`
	Hash   string `json:"hash,omitempty"`
	Blocks uint32 `json:"blocks"`
	Txs    uint32 `json:"txs"`
}

// BulkBuild returns the unfinished bulk build of this index, if there is
// one. A state left beside a committed tip is not one: the tip commits
// last, and Open removes the leftover.
func (ix *Index) BulkBuild() (BulkView, bool) {
	if !ix.Tip().Empty {
		return BulkView{}, false
	}
	if _, err := os.Stat(ix.bulkDir()); err != nil {
		return BulkView{}, false
	}
	v := BulkView{Phase: phaseForward, Phases: phaseInstall, Height: -1}
	// An unreadable state, one of another version or network, or none yet
	// all mean the same to the next ingest: it starts again (bulkBuild).
	st, err := readBulkState(ix.bulkDir())
	if err == nil && st.Network == ix.Net.Name && st.Phase >= phaseForward {
		v.Phase = min(st.Phase+1, phaseInstall)
		v.Height, v.Hash, v.Blocks, v.Txs = int64(st.Height), st.Hash, st.Blocks, st.NTx
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		ix.log.Debug("unreadable bulk build state", "err", err)
	}
	v.PhaseName = phaseNames[v.Phase]
	return v, true
}
