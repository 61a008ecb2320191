package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os"
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
		return func(p index.Progress) {
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
		log.Info(what, "height", p.Height, "target", p.Target, "blocks", p.Blocks, "txs", p.Txs,
			"tx_per_s", int64(float64(p.Txs)/secs), "mb_per_s", fmt.Sprintf("%.1f", float64(p.Bytes)/secs/1e6), "done", p.Done)
	}
}
