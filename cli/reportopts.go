package cli

import (
	"bytes"
	"context"
	"flag"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/labels"
	"github.com/cointrail/cointrail/report"
	"github.com/cointrail/cointrail/taint"
)

// reportFlags fill the HTML and PDF report's cover.
type reportFlags struct {
	title, investigator, paper string
}

func (r *reportFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&r.title, "title", "", "html/pdf: the report's title, e.g. the case name (default: the command's seeds)")
	fs.StringVar(&r.investigator, "investigator", "", "html/pdf: who made the report, for its cover")
	fs.StringVar(&r.paper, "paper", "a4", "html/pdf: printed page size, "+strings.Join(report.Papers, " or "))
}

func (r *reportFlags) check() error {
	if !slices.Contains(report.Papers, r.paper) {
		return usagef("unknown --paper %q (want %s)", r.paper, strings.Join(report.Papers, " or "))
	}
	return nil
}

// options are the report's options for a run of the command: its title,
// the command line, the label files' names, and the generation time — now,
// or SOURCE_DATE_EPOCH's (the reproducible-builds convention), so that a
// re-run can write the same bytes.
func (r *reportFlags) options(env *Env, g *globals, ix *index.Index, defTitle string) (report.HTMLOptions, error) {
	opt := report.HTMLOptions{Title: r.title, Investigator: r.investigator, Paper: r.paper, Command: g.cmdline, Generated: time.Now()}
	if opt.Title == "" {
		opt.Title = defTitle
	}
	if v := env.Getenv("SOURCE_DATE_EPOCH"); v != "" {
		sec, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return opt, usagef("SOURCE_DATE_EPOCH=%q: want unix seconds", v)
		}
		opt.Generated = time.Unix(sec, 0)
	}
	ld, err := labels.Digest(ix.Store, ix.Net)
	if err != nil {
		return opt, err
	}
	opt.LabelSources = map[string]string{}
	for _, f := range ld.Files {
		opt.LabelSources[f.FileSHA256] = filepath.Base(f.Path)
	}
	return opt, nil
}

// writePDF renders the HTML report and prints it in the browser.
func writePDF(ctx context.Context, w io.Writer, ss []*taint.TraceStream, opt report.HTMLOptions, browser string) error {
	var html bytes.Buffer
	if err := report.WriteStreams(&html, ss, "html", opt); err != nil {
		return err
	}
	return report.PDF(ctx, w, html.Bytes(), browser)
}

// shellQuote joins args as a POSIX shell would read them back.
func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,@%+") == "" {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}
