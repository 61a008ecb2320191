package labels

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/kv"
)

// FileDigest is the digest of the labels one imported file contributes.
type FileDigest struct {
	Path       string `json:"path"`        // as imported (absolute); not part of any digest
	FileSHA256 string `json:"file_sha256"` // of the file's bytes
	Format     string `json:"format"`
	Labels     int    `json:"labels"`
	SHA256     string `json:"sha256"`
}

// LabelsDigest is what Digest returns: one digest over every label of a
// network, and one per imported file.
type LabelsDigest struct {
	Network string       `json:"network"`
	Labels  int          `json:"labels"`
	SHA256  string       `json:"sha256"`
	Files   []FileDigest `json:"files"` // sorted by path, then file digest
}

// Digest returns the SHA-256 of the labels of network net, overall and per
// imported file, so that an investigator can state which attribution a
// trace or screening ran with and anyone can check it.
//
// A file's digest covers the network, the SHA-256 of the file's bytes, its
// format and every label it holds (subject, then every field of the
// record), in the file's order; the overall digest covers the file digests
// in sorted order. Neither covers the path the file was imported from or
// the import time: the same files imported on another machine, from other
// directories, in another order or re-imported give the same digests,
// while any change of a stored label (an edit under the 'L' prefix, a
// partial `labels remove`) changes them.
func Digest(store kv.Store, net chain.Network) (LabelsDigest, error) {
	nid, err := netID(net)
	if err != nil {
		return LabelsDigest{}, err
	}
	if err := checkVersion(store); err != nil {
		return LabelsDigest{}, err
	}
	files, err := manifests(store)
	if err != nil {
		return LabelsDigest{}, err
	}
	type item struct {
		seq uint32
		enc []byte
	}
	byFile := map[uint32][]item{}
	for _, kind := range []byte{kAddr, kTx} {
		if err := scan(store, []byte{prefix, kind, nid}, func(pk parsedKey, rec record, _ []byte) error {
			if _, ok := files[pk.fid]; !ok {
				return fmt.Errorf("%w: label of file %d has no manifest", ErrCorrupt, pk.fid)
			}
			enc := []byte{pk.kind}
			enc = binary.AppendUvarint(enc, uint64(len(pk.subj)))
			enc = append(enc, pk.subj...)
			byFile[pk.fid] = append(byFile[pk.fid], item{pk.seq, append(enc, rec.encode()...)})
			return nil
		}); err != nil {
			return LabelsDigest{}, err
		}
	}
	out := LabelsDigest{Network: net.Name, Files: []FileDigest{}}
	for id, m := range files {
		if m.nid != nid {
			continue
		}
		items := byFile[id]
		if uint64(len(items)) != m.count {
			return LabelsDigest{}, fmt.Errorf("%w: file %d (%s) holds %d labels, its manifest says %d", ErrCorrupt, id, m.path, len(items), m.count)
		}
		slices.SortFunc(items, func(a, b item) int { return cmp.Compare(a.seq, b.seq) })
		h := sha256.New()
		h.Write([]byte("cointrail labels file v1\x00"))
		h.Write([]byte(net.Name + "\x00"))
		h.Write(m.sha[:])
		h.Write([]byte(m.format + "\x00"))
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], m.count)
		h.Write(n[:])
		for _, it := range items {
			binary.BigEndian.PutUint64(n[:], uint64(len(it.enc)))
			h.Write(n[:])
			h.Write(it.enc)
		}
		out.Files = append(out.Files, FileDigest{Path: m.path, FileSHA256: hex.EncodeToString(m.sha[:]), Format: m.format,
			Labels: len(items), SHA256: hex.EncodeToString(h.Sum(nil))})
		out.Labels += len(items)
	}
	sums := make([][]byte, len(out.Files))
	for i, f := range out.Files {
		sums[i], _ = hex.DecodeString(f.SHA256)
	}
	slices.SortFunc(sums, bytes.Compare)
	h := sha256.New()
	h.Write([]byte("cointrail labels v1\x00" + net.Name + "\x00"))
	for _, s := range sums {
		h.Write(s)
	}
	out.SHA256 = hex.EncodeToString(h.Sum(nil))
	slices.SortFunc(out.Files, func(a, b FileDigest) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.SHA256, b.SHA256))
	})
	return out, nil
}
