package server

import (
	"net/http"
	"time"

	"github.com/cointrail/cointrail/notes"
)

// handleNotes is GET /v1/notes[?subject=case:ID|ADDR|TXID].
func (s *Server) handleNotes(w http.ResponseWriter, r *http.Request, _ *APIKey) error {
	var ns []notes.Note
	var err error
	if q := r.URL.Query().Get("subject"); q != "" {
		subj, serr := notes.ParseSubject(s.ix.Net, q)
		if serr != nil {
			return serr
		}
		ns, err = s.e.notes.For(subj)
	} else {
		ns, err = s.e.notes.All()
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ns)
	return nil
}

// handleAddNote is POST /v1/notes {"subject", "text"}; the author is the
// key's id, so a note says which key wrote it.
func (s *Server) handleAddNote(w http.ResponseWriter, r *http.Request, k *APIKey) error {
	var body struct {
		Subject string `json:"subject"`
		Text    string `json:"text"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	subj, err := notes.ParseSubject(s.ix.Net, body.Subject)
	if err != nil {
		return err
	}
	n, err := s.e.notes.Add(subj, body.Text, "key "+k.ID, time.Now())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, n)
	return nil
}

// handleDeleteNote is DELETE /v1/notes/{id}.
func (s *Server) handleDeleteNote(w http.ResponseWriter, r *http.Request, _ *APIKey) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.e.notes.Delete(id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
