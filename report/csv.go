package report

import (
	"encoding/csv"
	"io"
	"strconv"

	"github.com/cointrail/cointrail/taint"
)

// CSVHeader is the header of CSV.
var CSVHeader = []string{"model", "txid", "vout", "address", "value_sat", "taint_sat", "hops", "spent", "stop", "label", "category", "height"}

// CSV writes one row per tainted output per model.
func CSV(w io.Writer, rs []*taint.Result) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, r := range rs {
		for _, o := range r.Outputs {
			if err := cw.Write([]string{r.Model.String(), o.TxID.String(), strconv.FormatUint(uint64(o.Vout), 10), o.Address,
				strconv.FormatInt(o.ValueSat, 10), strconv.FormatInt(o.TaintSat, 10), strconv.Itoa(o.Hops),
				strconv.FormatBool(o.Spent), o.Stop.String(), o.Label, o.Category, strconv.FormatUint(uint64(o.Height), 10)}); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}
