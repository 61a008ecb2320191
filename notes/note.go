package notes

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/kv"
	"github.com/cointrail/cointrail/labels"
)

var (
	// ErrBadInput marks a malformed subject or note text.
	ErrBadInput = errors.New("notes: bad input")
	// ErrNotFound: no note has that id.
	ErrNotFound = errors.New("notes: not found")
	// ErrCorrupt marks stored bytes under the 'N' prefix that do not decode.
	ErrCorrupt = errors.New("notes: corrupt data")
)

// Limits on what one note holds.
const (
	MaxText   = 4000
	maxAuthor = 200
)

// Note is one annotation.
type Note struct {
	ID      uint64    `json:"id"`
	Subject string    `json:"subject"`
	Text    string    `json:"text"`
	Author  string    `json:"author,omitempty"`
	Time    time.Time `json:"time"`
}

// Subject is what a note is about, parsed.
type Subject struct {
	kind byte
	key  string
	text string
}

func (s Subject) String() string { return s.text }

// ParseSubject reads "case:N", a 64-hex-digit txid or an address of net.
func ParseSubject(net chain.Network, s string) (Subject, error) {
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, "case:"); ok {
		id, err := strconv.ParseUint(rest, 10, 32)
		if err != nil {
			return Subject{}, fmt.Errorf("%w: %q: a case subject is case:ID", ErrBadInput, s)
		}
		return CaseSubject(uint32(id)), nil
	}
	if len(s) == 64 {
		if b, err := hex.DecodeString(s); err == nil {
			return Subject{kind: 't', key: string(b), text: strings.ToLower(s)}, nil
		}
	}
	k, err := chain.ParseAddress(net, s)
	if err != nil {
		return Subject{}, fmt.Errorf("%w: %q is neither case:ID, a txid nor a %s address: %v", ErrBadInput, s, net.Name, err)
	}
	if len(k) > 255 {
		return Subject{}, fmt.Errorf("%w: address key of %d bytes", ErrBadInput, len(k))
	}
	return Subject{kind: 'a', key: string(k), text: s}, nil
}

// CaseSubject is the subject of the notes on case id.
func CaseSubject(id uint32) Subject {
	return Subject{kind: 'c', key: string(binary.BigEndian.AppendUint32(nil, id)), text: "case:" + strconv.FormatUint(uint64(id), 10)}
}

func (s Subject) prefix() []byte {
	return append([]byte{'N', 's', s.kind, byte(len(s.key))}, s.key...)
}

func idKey(id uint64) []byte { return binary.BigEndian.AppendUint64([]byte{'N', 'i'}, id) }

// Book reads and writes the notes of one store. Its mutex makes id
// assignment safe for one process (the server and its handlers).
type Book struct {
	mu    sync.Mutex
	store kv.Store
}

// NewBook returns the notes of store.
func NewBook(store kv.Store) *Book { return &Book{store: store} }

// Add stores a note on subj. The text is trimmed and must be printable
// (the same rule as label text: no control or bidi characters).
func (b *Book) Add(subj Subject, text, author string, now time.Time) (Note, error) {
	text, author = strings.TrimSpace(text), strings.TrimSpace(author)
	if err := CheckText(text); err != nil {
		return Note{}, err
	}
	if len(author) > maxAuthor || !labels.Printable(author) {
		return Note{}, fmt.Errorf("%w: author: at most %d bytes of one line without control characters", ErrBadInput, maxAuthor)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	last, err := b.lastID()
	if err != nil {
		return Note{}, err
	}
	n := Note{ID: last + 1, Subject: subj.text, Text: text, Author: author, Time: now.UTC().Truncate(time.Second)}
	v, err := json.Marshal(n)
	if err != nil {
		return Note{}, err
	}
	bt := b.store.NewBatch()
	defer bt.Close()
	bt.Set([]byte{'N', 'v'}, []byte{1})
	bt.Set(binary.BigEndian.AppendUint64(subj.prefix(), n.ID), v)
	bt.Set(idKey(n.ID), subj.prefix()[2:])
	return n, bt.Commit(true)
}

// CheckText says why text cannot be a note's text, or returns nil.
func CheckText(text string) error {
	text = strings.TrimSpace(text)
	switch {
	case text == "":
		return fmt.Errorf("%w: empty note", ErrBadInput)
	case len(text) > MaxText:
		return fmt.Errorf("%w: note of %d bytes (at most %d)", ErrBadInput, len(text), MaxText)
	case !printableText(text):
		return fmt.Errorf("%w: a note holds no control characters (newlines and tabs aside) and no bidi overrides", ErrBadInput)
	}
	return nil
}

// printableText allows what a multi-line note needs (newline, tab) and
// refuses what labels refuse otherwise; text outputs escape notes anyway.
func printableText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	return labels.Printable(strings.NewReplacer("\n", " ", "\t", " ", "\r", " ").Replace(s))
}

func (b *Book) lastID() (uint64, error) {
	lo := []byte{'N', 'i'}
	it, err := b.store.NewIter(lo, kv.PrefixEnd(lo))
	if err != nil {
		return 0, err
	}
	defer it.Close()
	if !it.Last() {
		return 0, it.Error()
	}
	k := it.Key()
	if len(k) != 10 {
		return 0, fmt.Errorf("%w: note id key %x", ErrCorrupt, k)
	}
	return binary.BigEndian.Uint64(k[2:]), nil
}

// For returns the notes on subj, oldest first, never nil.
func (b *Book) For(subj Subject) ([]Note, error) {
	return b.scan(subj.prefix())
}

// All returns every note, by subject then id.
func (b *Book) All() ([]Note, error) { return b.scan([]byte{'N', 's'}) }

func (b *Book) scan(lo []byte) ([]Note, error) {
	it, err := b.store.NewIter(lo, kv.PrefixEnd(lo))
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := []Note{}
	for ok := it.First(); ok; ok = it.Next() {
		var n Note
		if err := json.Unmarshal(it.Value(), &n); err != nil {
			return nil, fmt.Errorf("%w: note under key %x: %v", ErrCorrupt, it.Key(), err)
		}
		out = append(out, n)
	}
	return out, it.Error()
}

// Delete removes note id.
func (b *Book) Delete(id uint64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	sk, err := b.store.Get(idKey(id))
	if errors.Is(err, kv.ErrNotFound) {
		return fmt.Errorf("%w: no note %d", ErrNotFound, id)
	} else if err != nil {
		return err
	}
	if len(sk) < 2 || int(sk[1]) != len(sk)-2 {
		return fmt.Errorf("%w: note %d's subject key %x", ErrCorrupt, id, sk)
	}
	bt := b.store.NewBatch()
	defer bt.Close()
	bt.Delete(binary.BigEndian.AppendUint64(append([]byte{'N', 's'}, sk...), id))
	bt.Delete(idKey(id))
	return bt.Commit(true)
}
