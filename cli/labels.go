package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/labels"
)

func init() {
	register(&command{
		name: "labels import", summary: "import label files: GraphSense TagPack YAML, OFAC SDN advanced XML, CSV (format detected, .bz2 accepted)", usage: "FILE...",
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if len(args) == 0 {
				return usagef("give one or more label files")
			}
			return g.withIndex(env, func(ix *index.Index) error {
				st, err := labels.Import(ix.Store, ix.Net, args, time.Now().UTC(), env.Log)
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(env.Stdout, st)
				}
				tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "file\tformat\tapplied\tother currency\tother network\tbad address\tduplicate")
				row := func(name, format string, c labels.Counts) {
					fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\n", name, format, c.Applied, c.SkippedOtherCurrency, c.SkippedOtherNetwork, c.SkippedBadAddress, c.SkippedDuplicate)
				}
				for _, f := range st.Files {
					row(labels.Escape(f.Path), f.Format, f.Counts)
				}
				row("total", "", st.Counts)
				return tw.Flush()
			})
		},
	})
	var q labels.Query
	register(&command{
		name: "labels list", summary: "list labels, filtered by address, label, source or category",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&q.Address, "address", "", "labels of this address (or txid)")
			fs.StringVar(&q.Label, "label", "", "labels containing this text")
			fs.StringVar(&q.Source, "source", "", "labels whose source contains this text")
			fs.StringVar(&q.Category, "category", "", "labels of this category")
			fs.IntVar(&q.Limit, "limit", 1000, "at most this many (0: all)")
			fs.IntVar(&q.Offset, "offset", 0, "skip this many")
		},
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if err := wantArgs(args, 0, "no arguments (use --address, --label, --source, --category)"); err != nil {
				return err
			}
			return g.withReader(env, func(ix *index.Index) error {
				ls, err := labels.List(ix.Store, ix.Net, q)
				if err != nil {
					return err
				}
				if g.json {
					if ls == nil {
						ls = []labels.Label{}
					}
					return printJSON(env.Stdout, ls)
				}
				return writeLabels(env.Stdout, ls)
			})
		},
	})
	register(&command{
		name: "labels digest", summary: "SHA-256 of the labels of the network, overall and per imported file (path and import time excluded)",
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if err := wantArgs(args, 0, "no arguments"); err != nil {
				return err
			}
			return g.withReader(env, func(ix *index.Index) error {
				d, err := labels.Digest(ix.Store, ix.Net)
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(env.Stdout, d)
				}
				fmt.Fprintf(env.Stdout, "labels %s  %s, %d labels from %d files\n", d.SHA256, d.Network, d.Labels, len(d.Files))
				tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
				for _, f := range d.Files {
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", f.SHA256, f.Labels, f.Format, labels.Escape(f.Path))
				}
				return tw.Flush()
			})
		},
	})
	var source string
	register(&command{
		name: "labels remove", summary: "remove every label whose source is S", usage: "--source S",
		flags: func(fs *flag.FlagSet) { fs.StringVar(&source, "source", "", "source to remove") },
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if source == "" {
				return usagef("--source is required")
			}
			return g.withIndex(env, func(ix *index.Index) error {
				n, err := labels.Remove(ix.Store, source)
				if err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "removed %d labels\n", n)
				return nil
			})
		},
	})
}

// writeLabels prints labels as the text table of `labels list`. Label
// files are third-party text: every field is escaped (labels.Escape) so
// that no control character or terminal escape reaches the terminal and no
// tab or newline breaks the table.
func writeLabels(w io.Writer, ls []labels.Label) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "address\tlabel\tcategory\tconfidence\tsource")
	for _, l := range ls {
		subj := l.Address
		if subj == "" {
			subj = "tx " + l.TxHash
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", labels.Escape(subj), labels.Escape(l.Label), labels.Escape(l.Category),
			labels.Escape(l.Confidence), labels.Escape(l.Source))
	}
	return tw.Flush()
}
