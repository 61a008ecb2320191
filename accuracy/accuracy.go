package accuracy

import (
	"fmt"
	"sort"

	"github.com/cointrail/cointrail/sim"
	"github.com/cointrail/cointrail/taint"
)

// Score compares one trace with the truth.
type Score struct {
	Model string `json:"model"`
	// Outputs: the trace's tainted outputs (taint > 0) against the outputs
	// that truly hold stolen coins.
	TruePositives  int     `json:"true_positives"`
	FalsePositives int     `json:"false_positives"`
	FalseNegatives int     `json:"false_negatives"`
	Precision      float64 `json:"precision"`
	Recall         float64 `json:"recall"`
	// Arrivals per service: traced vs true satoshis.
	Arrivals []ArrivalScore `json:"arrivals"`
	// ArrivedAbsErrSat is Σ |traced − true| over services.
	ArrivedAbsErrSat int64 `json:"arrived_abs_err_sat"`
}

// ArrivalScore is one service's traced and true arrivals.
type ArrivalScore struct {
	Label     string  `json:"label"`
	TrueSat   int64   `json:"true_sat"`
	TracedSat int64   `json:"traced_sat"`
	Precision float64 `json:"precision"` // min(traced, true) / traced
	Recall    float64 `json:"recall"`    // min(traced, true) / true
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

// ScoreTrace scores a forward trace of the theft against the truth.
func ScoreTrace(t *sim.Truth, r *taint.Result) Score {
	s := Score{Model: r.Model.String()}
	truth := map[string]bool{}
	for _, o := range t.TaintedOutputs {
		truth[fmt.Sprintf("%s:%d", o.Txid, o.Vout)] = true
	}
	found := map[string]bool{}
	for _, o := range r.Outputs {
		if o.TaintSat == 0 {
			continue
		}
		k := fmt.Sprintf("%s:%d", o.TxID, o.Vout)
		found[k] = true
		if truth[k] {
			s.TruePositives++
		} else {
			s.FalsePositives++
		}
	}
	for k := range truth {
		if !found[k] {
			s.FalseNegatives++
		}
	}
	s.Precision = ratio(int64(s.TruePositives), int64(s.TruePositives+s.FalsePositives))
	s.Recall = ratio(int64(s.TruePositives), int64(s.TruePositives+s.FalseNegatives))
	traced := map[string]int64{}
	for _, a := range r.Summary.Arrived {
		traced[a.Label] += a.Sat
	}
	labels := map[string]bool{}
	for _, a := range t.Arrivals {
		labels[a.Label] = true
	}
	for l := range traced {
		labels[l] = true
	}
	trueSat := map[string]int64{}
	for _, a := range t.Arrivals {
		trueSat[a.Label] = a.StolenSat
	}
	for l := range labels {
		tr, tt := traced[l], trueSat[l]
		m := min(tr, tt)
		s.Arrivals = append(s.Arrivals, ArrivalScore{Label: l, TrueSat: tt, TracedSat: tr, Precision: ratio(m, tr), Recall: ratio(m, tt)})
		if tr > tt {
			s.ArrivedAbsErrSat += tr - tt
		} else {
			s.ArrivedAbsErrSat += tt - tr
		}
	}
	sort.Slice(s.Arrivals, func(i, j int) bool { return s.Arrivals[i].Label < s.Arrivals[j].Label })
	return s
}
