package server

import (
	"context"
	"log/slog"

	"github.com/cointrail/cointrail/index"
)

// Cases gives the command line the cases of an index while the server is
// stopped (the store admits one process at a time; with the server running,
// use the API).
type Cases struct{ e *engine }

// OpenCases loads the cases of ix.
func OpenCases(ix *index.Index, log *slog.Logger) (*Cases, error) {
	d := DefaultConfig()
	e, err := newEngine(ix, d.Limits, d.ReorgLimit, nil, log)
	if err != nil {
		return nil, err
	}
	return &Cases{e: e}, nil
}

// Create opens a case: its seeds are traced to the index tip now, and the
// server follows it from there.
func (c *Cases) Create(ctx context.Context, spec CaseSpec) (*CaseView, error) {
	return c.e.createCase(ctx, spec)
}

// List returns every case, by id.
func (c *Cases) List() []CaseView { return c.e.caseViews() }

// Get returns one case.
func (c *Cases) Get(id uint32) (*CaseView, error) { return c.e.caseView(id) }

// Funds says where a case's taint is now.
func (c *Cases) Funds(id uint32, offset, limit int) (*FundsView, error) {
	return c.e.funds(id, offset, limit)
}

// Delete removes a case (its alerts stay).
func (c *Cases) Delete(id uint32) error { return c.e.deleteCase(id) }
