package report

import (
	"bufio"
	"encoding/csv"
	"io"
	"strconv"

	"github.com/cointrail/cointrail/labels"
	"github.com/cointrail/cointrail/taint"
)

// CSVHeader is the header of CSV.
var CSVHeader = []string{"model", "txid", "vout", "address", "value_sat", "taint_sat", "hops", "spent", "stop", "label", "category", "height", "time"}

// CSV writes one row per tainted output per model.
func CSV(w io.Writer, rs []*taint.Result) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	row := make([]string, len(CSVHeader))
	for _, r := range rs {
		for i := range r.Outputs {
			if err := cw.Write(csvRow(row, r.Model, &r.Outputs[i])); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// CSVStreams writes the same bytes as CSV for streamed traces, one row at
// a time: memory does not grow with the number of outputs.
func CSVStreams(w io.Writer, ss []*taint.TraceStream) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := csv.NewWriter(bw)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	row := make([]string, len(CSVHeader))
	for _, s := range ss {
		m := s.Head().Model
		if err := s.EachOutput(func(o *taint.TaintedOutput) error { return cw.Write(csvRow(row, m, o)) }); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// csvRow fills row for o. Label text comes from third-party files and is
// escaped (labels.Escape): a newline or terminal escape in a label must not
// reach a spreadsheet or a terminal.
func csvRow(row []string, m taint.Model, o *taint.TaintedOutput) []string {
	row[0], row[1], row[2], row[3] = m.String(), o.TxID.String(), strconv.FormatUint(uint64(o.Vout), 10), o.Address
	row[4], row[5], row[6] = strconv.FormatInt(o.ValueSat, 10), strconv.FormatInt(o.TaintSat, 10), strconv.Itoa(o.Hops)
	row[7], row[8], row[9], row[10] = strconv.FormatBool(o.Spent), o.Stop.String(), labels.Escape(o.Label), labels.Escape(o.Category)
	row[11], row[12] = strconv.FormatUint(uint64(o.Height), 10), o.Time
	return row
}
