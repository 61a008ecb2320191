package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cointrail/cointrail/index"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// isTerminal reports whether w is an interactive terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// ingestProgress renders ingest progress: a bar on a terminal, a log line
// every few seconds otherwise.
func ingestProgress(w io.Writer, log *slog.Logger, what string) func(index.Progress) {
	if isTerminal(w) {
		var bar *progressbar.ProgressBar
		phase := 0
		return func(p index.Progress) {
			if p.Phase > 0 {
				// A bulk build: one bar per phase with its own ETA, the overall ETA beside it.
				if bar == nil || p.Phase != phase {
					if bar != nil {
						_ = bar.Finish()
					}
					phase = p.Phase
					bar = progressbar.NewOptions64(max(p.PhaseTotal, 1), progressbar.OptionSetWriter(w),
						progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionSetWidth(30),
						progressbar.OptionThrottle(200*time.Millisecond))
				}
				bar.ChangeMax64(max(p.PhaseTotal, 1))
				bar.Describe(fmt.Sprintf("%s: bulk phase %d/%d %-11s overall ETA %s", what, p.Phase, p.Phases, p.PhaseName, p.ETA.Round(time.Second)))
				_ = bar.Set64(p.PhaseDone)
				if p.Done {
					_ = bar.Finish()
					fmt.Fprintln(w)
				}
				return
			}
			if bar == nil {
				bar = progressbar.NewOptions64(p.Target+1, progressbar.OptionSetWriter(w),
					progressbar.OptionSetDescription(what), progressbar.OptionShowCount(),
					progressbar.OptionSetPredictTime(true), progressbar.OptionSetWidth(30),
					progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionClearOnFinish())
			}
			secs := p.Elapsed.Seconds()
			if secs > 0 {
				bar.Describe(fmt.Sprintf("%s %.0f tx/s %.1f MB/s", what, float64(p.Txs)/secs, float64(p.Bytes)/secs/1e6))
			}
			_ = bar.Set64(p.Height + 1)
			if p.Done {
				_ = bar.Finish()
			}
		}
	}
	var last time.Time
	return func(p index.Progress) {
		if !p.Done && time.Since(last) < 5*time.Second {
			return
		}
		last = time.Now()
		secs := p.Elapsed.Seconds()
		if secs <= 0 {
			secs = 1e-9
		}
		if p.Phase > 0 {
			log.Info(what, "bulk_phase", fmt.Sprintf("%d/%d %s", p.Phase, p.Phases, p.PhaseName), "phase_done", p.PhaseDone,
				"phase_total", p.PhaseTotal, "height", p.Height, "txs", p.Txs, "elapsed", p.Elapsed.Round(time.Second),
				"eta", p.ETA.Round(time.Second), "done", p.Done)
			return
		}
		log.Info(what, "height", p.Height, "target", p.Target, "blocks", p.Blocks, "txs", p.Txs,
			"tx_per_s", int64(float64(p.Txs)/secs), "mb_per_s", fmt.Sprintf("%.1f", float64(p.Bytes)/secs/1e6), "done", p.Done)
	}
}

// parseSize reads a byte size: a number with an optional unit (KB, MB, GB,
// TB powers of 1000; KiB, MiB, GiB, TiB powers of 1024; B or none: bytes).
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := len(t)
	for i > 0 && (t[i-1] < '0' || t[i-1] > '9') && t[i-1] != '.' {
		i--
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	mult := map[string]float64{"": 1, "b": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}[unit]
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || mult == 0 || v <= 0 || v*mult > 1<<62 {
		return 0, fmt.Errorf("%q is not a size like 20GB or 512MiB", s)
	}
	return int64(v * mult), nil
}
