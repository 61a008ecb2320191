package screen

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/labels"
)

// CSVHeader is the first row ScreenCSV writes.
var CSVHeader = []string{"target", "kind", "risk", "direct_sat", "direct_share", "indirect_sat", "indirect_share",
	"value_sat", "top_category", "top_label", "error"}

// csvHeaderNames are the first-column names that mark an input header row.
var csvHeaderNames = []string{"target", "address", "txid", "addr"}

// ScreenCSV screens every target in r, a CSV file whose first column is an
// address or a txid (an optional header row names that column target,
// address, txid or addr; lines starting with # are comments), and writes one
// row per target to w in the order read, under CSVHeader. A target that
// cannot be screened (malformed, another network's address, an unknown
// txid) gets a row with its error and screening goes on; a malformed CSV
// file, a failing writer or the context stop it. It returns the number of
// targets screened and the number that failed.
func ScreenCSV(ctx context.Context, ix *index.Index, r io.Reader, w io.Writer, opts Options, log *slog.Logger) (done, failed int, err error) {
	s, err := New(ix, opts, log)
	if err != nil {
		return 0, 0, err
	}
	return s.ScreenCSV(ctx, r, w)
}

// ScreenCSV: see the package function.
func (s *Screener) ScreenCSV(ctx context.Context, r io.Reader, w io.Writer) (done, failed int, err error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return 0, 0, err
	}
	for first := true; ; first = false {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return done, failed, fmt.Errorf("%w: CSV line %d: %v", ErrBadInput, pe.Line, pe.Err)
			}
			return done, failed, err
		}
		target := strings.TrimSpace(rec[0])
		if first && slicesContainsFold(csvHeaderNames, target) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return done, failed, err
		}
		// Text cells are escaped (labels.Escape): the target comes from
		// the input file, labels and error messages quote third-party
		// text, and a control character in a cell would reach whoever
		// prints or opens the CSV. encoding/csv quotes commas and quotes.
		esc := labels.Escape
		row := []string{esc(target), "", "", "", "", "", "", "", "", "", ""}
		rep, err := s.Screen(ctx, target)
		switch {
		case err == nil:
			row = []string{esc(target), rep.Kind, rep.Risk.String(), itoa(rep.Direct.Sat), ftoa(rep.Direct.Share), itoa(rep.Indirect.Sat),
				ftoa(rep.Indirect.Share), itoa(rep.ValueSat), esc(rep.TopCategory), esc(rep.TopLabel), ""}
		case errors.Is(err, ErrBadInput) || errors.Is(err, ErrNotFound):
			row[len(row)-1] = esc(err.Error())
			failed++
		default:
			return done, failed, err
		}
		done++
		if err := cw.Write(row); err != nil {
			return done, failed, err
		}
	}
	cw.Flush()
	return done, failed, cw.Error()
}

func slicesContainsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func itoa(n int64) string   { return strconv.FormatInt(n, 10) }
func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', 6, 64) }
