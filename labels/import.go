package labels

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/kv"
)

// Counts tallies what happened to the tags of one or more files.
type Counts struct {
	Applied              int `json:"applied"`
	SkippedOtherCurrency int `json:"skipped_other_currency"`
	SkippedOtherNetwork  int `json:"skipped_other_network"`
	SkippedBadAddress    int `json:"skipped_bad_address"` // or a bad tx_hash
	SkippedDuplicate     int `json:"skipped_duplicate"`   // identical to an earlier tag of the same file
	Replaced             int `json:"replaced"`            // labels of an earlier import of the same file, now gone
}

func (c *Counts) add(o Counts) {
	c.Applied += o.Applied
	c.SkippedOtherCurrency += o.SkippedOtherCurrency
	c.SkippedOtherNetwork += o.SkippedOtherNetwork
	c.SkippedBadAddress += o.SkippedBadAddress
	c.SkippedDuplicate += o.SkippedDuplicate
	c.Replaced += o.Replaced
}

// Skip is an example of a tag that was not applied.
type Skip struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"` // other_currency, other_network, bad_address, duplicate
	Value  string `json:"value"`
}

// FileStats is the outcome for one file.
type FileStats struct {
	Path   string `json:"path"` // absolute
	SHA256 string `json:"sha256"`
	Format string `json:"format"` // tagpack, ofac-sdn, csv
	Counts
	Examples []Skip `json:"examples,omitempty"` // at most maxExamples per reason
}

// Stats is the outcome of one Import: totals and one entry per file.
type Stats struct {
	Counts
	Files []FileStats `json:"files"`
}

const (
	reasonCurrency  = "other_currency"
	reasonNetwork   = "other_network"
	reasonAddress   = "bad_address"
	reasonDuplicate = "duplicate"

	maxExamples = 3
	// maxDocument bounds a TagPack, which is parsed whole, after decompression.
	maxDocument = 256 << 20
)

// Import reads the label files at paths and stores their labels for network
// net, all in one batch: if any file is malformed, nothing is imported and
// the error names the file and line. A file imported before (same absolute
// path, same network) has its previous labels replaced, so importing a file
// twice leaves the store as importing it once. now is recorded as the import
// time. Imports into one store must not run concurrently.
func Import(store kv.Store, net chain.Network, paths []string, now time.Time, log *slog.Logger) (Stats, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	nid, err := netID(net)
	if err != nil {
		return Stats{}, err
	}
	if err := checkVersion(store); err != nil {
		return Stats{}, err
	}
	type parsed struct {
		abs    string
		sink   *sink
		sha    [32]byte
		format string
	}
	var files []parsed
	seen := map[string]bool{}
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return Stats{}, fmt.Errorf("%w: %s: %v", ErrBadInput, p, err)
		}
		if seen[abs] {
			continue
		}
		seen[abs] = true
		s := newSink(net, p)
		sha, format, err := readFile(p, s)
		if err != nil {
			return Stats{}, err
		}
		files = append(files, parsed{abs, s, sha, format})
	}

	next, err := nextFileID(store)
	if err != nil {
		return Stats{}, err
	}
	b := store.NewBatch()
	defer b.Close()
	var st Stats
	for _, f := range files {
		fs := &f.sink.stats
		pk := key(kPath, []byte{nid}, []byte(f.abs))
		switch old, err := store.Get(pk); {
		case err == nil:
			if len(old) != 4 {
				return Stats{}, fmt.Errorf("%w: path entry of %s", ErrCorrupt, f.abs)
			}
			if fs.Replaced, err = dropFile(store, b, binary.BigEndian.Uint32(old)); err != nil {
				return Stats{}, err
			}
		case !errors.Is(err, kv.ErrNotFound):
			return Stats{}, err
		}
		if next == math.MaxUint32 || uint64(len(f.sink.entries)) >= math.MaxUint32 {
			return Stats{}, fmt.Errorf("%w: %s: too many labels or files", ErrBadInput, f.sink.name)
		}
		id := next
		next++
		for seq, e := range f.sink.entries {
			k := labelKey(e.kind, nid, e.subj, id, uint32(seq))
			b.Set(k, e.rec.encode())
			b.Set(key(kRev, u32(id), u32(uint32(seq))), k)
		}
		m := manifest{id: id, nid: nid, path: f.abs, sha: f.sha, importedAt: now.Unix(), format: f.format, count: uint64(len(f.sink.entries))}
		b.Set(key(kFile, u32(id)), m.encode())
		b.Set(pk, u32(id))

		fs.Path, fs.SHA256, fs.Format = f.abs, hex.EncodeToString(f.sha[:]), f.format
		st.Files = append(st.Files, *fs)
		st.Counts.add(fs.Counts)
	}
	b.Set(key(kNextFile), u32(next))
	b.Set(key(kVersion), []byte{schemaVersion})
	if err := b.Commit(true); err != nil {
		return Stats{}, err
	}
	for _, fs := range st.Files {
		log.Info("labels imported", "file", fs.Path, "format", fs.Format, "network", net.Name, "applied", fs.Applied,
			"skipped_other_currency", fs.SkippedOtherCurrency, "skipped_other_network", fs.SkippedOtherNetwork,
			"skipped_bad_address", fs.SkippedBadAddress, "skipped_duplicate", fs.SkippedDuplicate, "replaced", fs.Replaced)
	}
	return st, nil
}

func nextFileID(store kv.Store) (uint32, error) {
	v, err := store.Get(key(kNextFile))
	if errors.Is(err, kv.ErrNotFound) {
		return 1, nil
	}
	if err != nil {
		return 0, err
	}
	if len(v) != 4 {
		return 0, fmt.Errorf("%w: next file id %x", ErrCorrupt, v)
	}
	return binary.BigEndian.Uint32(v), nil
}

// dropFile queues the deletion of every label of file id and its manifest,
// returning how many labels it had.
func dropFile(store kv.Store, b kv.Batch, id uint32) (int, error) {
	lo := key(kRev, u32(id))
	hi := kv.PrefixEnd(lo)
	it, err := store.NewIter(lo, hi)
	if err != nil {
		return 0, err
	}
	defer it.Close()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if _, err := parseLabelKey(it.Value()); err != nil {
			return 0, err
		}
		b.Delete(append([]byte(nil), it.Value()...))
		n++
	}
	if err := it.Error(); err != nil {
		return 0, err
	}
	b.DeleteRange(lo, hi)
	b.Delete(key(kFile, u32(id)))
	return n, nil
}

// readFile parses one label file (bzip2-compressed or not) into s and
// returns the SHA-256 of the file's bytes and the detected format.
func readFile(path string, s *sink) (sha [32]byte, format string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return sha, "", fmt.Errorf("%w: %s: %v", ErrBadInput, path, errors.Unwrap(err))
	}
	defer f.Close()
	h := sha256.New()
	raw := bufio.NewReaderSize(io.TeeReader(f, h), 64<<10)
	r := raw
	if magic, _ := raw.Peek(3); string(magic) == "BZh" {
		// Decompress on another core: for the SDN list (121 MB of XML)
		// bzip2 costs about as much as the XML parse.
		pr, pw := io.Pipe()
		done := make(chan struct{})
		var bzErr error
		go func() {
			defer close(done)
			_, bzErr = io.CopyBuffer(pw, bzip2.NewReader(raw), make([]byte, 256<<10))
			pw.CloseWithError(bzErr)
		}()
		format, err = sniffAndParse(s, bufio.NewReaderSize(pr, 64<<10), filepath.Base(path))
		pr.Close() // ends the goroutine if the parser stopped early
		<-done
		if bzErr != nil && !errors.Is(bzErr, io.ErrClosedPipe) {
			// The parser saw the stream end early; say why.
			return sha, "", s.errorf(0, "bzip2: %v", bzErr)
		}
	} else {
		format, err = sniffAndParse(s, r, filepath.Base(path))
	}
	if err != nil {
		return sha, "", err
	}
	// Hash what the parser did not need to read.
	if _, err := io.Copy(io.Discard, raw); err != nil {
		return sha, "", s.errorf(0, "%v", err)
	}
	copy(sha[:], h.Sum(nil))
	return sha, format, nil
}

func sniffAndParse(s *sink, r *bufio.Reader, name string) (string, error) {
	head, perr := r.Peek(4096)
	if perr != nil && perr != io.EOF && perr != bufio.ErrBufferFull {
		return "", s.errorf(0, "%v", perr)
	}
	format := sniff(head)
	// A UTF-8 byte order mark (Excel writes one on every CSV it saves)
	// is not part of the first field.
	if bytes.HasPrefix(head, []byte(utf8BOM)) {
		r.Discard(len(utf8BOM))
	}
	var err error
	switch format {
	case "tagpack":
		data, rerr := io.ReadAll(io.LimitReader(r, maxDocument+1))
		if rerr != nil {
			return "", s.errorf(0, "%v", rerr)
		}
		if len(data) > maxDocument {
			return "", s.errorf(0, "TagPack larger than %d MiB", maxDocument>>20)
		}
		err = parseTagpack(s, data)
	case "ofac-sdn":
		err = parseSDN(s, r)
	default:
		err = parseCSV(s, r, name)
	}
	return format, err
}

// sniff tells the format from the first bytes: XML starts with '<'; a
// TagPack's first line that is not a comment is "---" or "key:"; anything
// else is CSV (whose first field, an address or "address", has no colon).
func sniff(head []byte) string {
	head = bytes.TrimPrefix(head, []byte(utf8BOM))
	for line := range bytes.Lines(head) {
		t := strings.TrimSpace(string(line))
		if t == "" || t[0] == '#' {
			continue
		}
		if t[0] == '<' {
			return "ofac-sdn"
		}
		if t == "---" || strings.HasPrefix(t, "--- ") || isYAMLKey(t) {
			return "tagpack"
		}
		return "csv"
	}
	return "csv"
}

const utf8BOM = "\xef\xbb\xbf"

func isYAMLKey(line string) bool {
	i := strings.IndexByte(line, ':')
	if i <= 0 || (i+1 < len(line) && line[i+1] != ' ' && line[i+1] != '\t') {
		return false
	}
	for _, c := range line[:i] {
		if !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// entry is one label before it is keyed.
type entry struct {
	kind byte // kAddr or kTx
	subj string
	rec  record
}

// sink collects a file's labels and the tally of skipped tags.
type sink struct {
	net       chain.Network
	name      string // the file as the user named it, for messages
	entries   []entry
	seen      map[entry]struct{}
	stats     FileStats
	nExamples map[string]int
}

func newSink(net chain.Network, name string) *sink {
	return &sink{net: net, name: name, seen: map[entry]struct{}{}, nExamples: map[string]int{}}
}

// errorf builds the one-line error for a malformed file: "labels: bad
// input: file:line: message".
func (s *sink) errorf(line int, format string, args ...any) error {
	name := Escape(s.name) // a file name is text from elsewhere too
	if line > 0 {
		return fmt.Errorf("%w: %s:%d: %s", ErrBadInput, name, line, fmt.Sprintf(format, args...))
	}
	return fmt.Errorf("%w: %s: %s", ErrBadInput, name, fmt.Sprintf(format, args...))
}

func (s *sink) skip(reason string, line int, value string) {
	c := &s.stats.Counts
	switch reason {
	case reasonCurrency:
		c.SkippedOtherCurrency++
	case reasonNetwork:
		c.SkippedOtherNetwork++
	case reasonAddress:
		c.SkippedBadAddress++
	case reasonDuplicate:
		c.SkippedDuplicate++
	}
	if s.nExamples[reason] < maxExamples {
		s.nExamples[reason]++
		s.stats.Examples = append(s.stats.Examples, Skip{Line: line, Reason: reason, Value: value})
	}
}

// subject resolves an address, or a txid when tx is set. When it does not
// denote a label subject of s.net, reason says why (reasonNetwork or
// reasonAddress) and msg explains it.
func (s *sink) subject(addr, tx string) (kind byte, subj, reason, msg string) {
	if tx != "" {
		id, err := parseTxid(tx)
		if err != nil {
			return 0, "", reasonAddress, err.Error()
		}
		return kTx, id, "", ""
	}
	k, err := chain.ParseAddress(s.net, strings.TrimSpace(addr))
	switch {
	case errors.Is(err, chain.ErrWrongNetwork):
		return 0, "", reasonNetwork, strings.TrimPrefix(err.Error(), chain.ErrWrongNetwork.Error()+": ")
	case err != nil:
		return 0, "", reasonAddress, strings.TrimPrefix(err.Error(), chain.ErrBadInput.Error()+": ")
	}
	return kAddr, string(k), "", ""
}

// parseTxid decodes a 64-hex-digit txid into its 32 bytes in display order.
func parseTxid(tx string) (string, error) {
	tx = strings.TrimSpace(tx)
	b, err := hex.DecodeString(tx)
	if err != nil || len(b) != 32 {
		return "", fmt.Errorf("tx_hash %q is not 64 hex digits", tx)
	}
	return string(b), nil
}

func (s *sink) add(line int, kind byte, subj string, rec record, shown string) {
	e := entry{kind, subj, rec}
	if _, dup := s.seen[e]; dup {
		s.skip(reasonDuplicate, line, shown)
		return
	}
	s.seen[e] = struct{}{}
	s.entries = append(s.entries, e)
	s.stats.Applied++
}
