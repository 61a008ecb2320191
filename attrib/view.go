package attrib

import (
	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/labels"
	"github.com/cointrail/cointrail/notes"
)

// TxDetail is a transaction as `cointrail tx` and GET /v1/tx show it: the
// index's view, the labels of the transaction and of every address it
// spends from or pays (keyed by address; encoding/json sorts the keys),
// and the notes on the transaction and those addresses. Empty lists are
// empty, not null, so API clients need no null checks.
type TxDetail struct {
	*index.TxView
	Labels TxLabels     `json:"labels"`
	Notes  []notes.Note `json:"notes"`
}

// TxLabels are the labels shown inline with a transaction.
type TxLabels struct {
	Tx        []labels.Label            `json:"tx"`
	Addresses map[string][]labels.Label `json:"addresses"`
}

// AddressDetail is an address as `cointrail address` and GET
// /v1/address show it.
type AddressDetail struct {
	*index.AddressView
	Labels []labels.Label `json:"labels"`
	Notes  []notes.Note   `json:"notes"`
}

// DetailOfTx adds labels and notes to v.
func DetailOfTx(ix *index.Index, v *index.TxView) (TxDetail, error) {
	d := TxDetail{TxView: v, Labels: TxLabels{Tx: []labels.Label{}, Addresses: map[string][]labels.Label{}}}
	book := notes.NewBook(ix.Store)
	ls, err := labels.ForTx(ix.Store, ix.Net, v.TxID)
	if err != nil {
		return d, err
	}
	d.Labels.Tx = append(d.Labels.Tx, ls...)
	subj, err := notes.ParseSubject(ix.Net, v.TxID)
	if err != nil {
		return d, err
	}
	if d.Notes, err = book.For(subj); err != nil {
		return d, err
	}
	addrs := make([]string, 0, len(v.Inputs)+len(v.Outputs))
	for _, in := range v.Inputs {
		addrs = append(addrs, in.Address)
	}
	for _, o := range v.Outputs {
		addrs = append(addrs, o.Address)
	}
	seen := map[string]bool{}
	for _, a := range addrs {
		if seen[a] || a == "" {
			continue
		}
		seen[a] = true
		// Labels and notes are keyed through chain.ParseAddress: an
		// address form it does not parse (a bare-pubkey rendering) can
		// carry neither.
		if _, perr := chain.ParseAddress(ix.Net, a); perr != nil {
			continue
		}
		al, err := addressAnnotations(ix, book, a)
		if err != nil {
			return d, err
		}
		if len(al.Labels) > 0 {
			d.Labels.Addresses[a] = al.Labels
		}
		d.Notes = append(d.Notes, al.Notes...)
	}
	return d, nil
}

// DetailOfAddress adds the labels and notes of v's address.
func DetailOfAddress(ix *index.Index, v *index.AddressView) (AddressDetail, error) {
	d, err := addressAnnotations(ix, notes.NewBook(ix.Store), v.Address)
	d.AddressView = v
	return d, err
}

func addressAnnotations(ix *index.Index, book *notes.Book, addr string) (AddressDetail, error) {
	d := AddressDetail{Labels: []labels.Label{}, Notes: []notes.Note{}}
	key, err := chain.ParseAddress(ix.Net, addr)
	if err != nil {
		return d, err
	}
	ls, err := labels.ForAddress(ix.Store, ix.Net, key)
	if err != nil {
		return d, err
	}
	d.Labels = append(d.Labels, ls...)
	subj, err := notes.ParseSubject(ix.Net, addr)
	if err != nil {
		return d, err
	}
	d.Notes, err = book.For(subj)
	return d, err
}
