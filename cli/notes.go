package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/labels"
	"github.com/cointrail/cointrail/notes"
)

func init() {
	var author string
	register(&command{
		name: "note add", summary: "annotate a case, an address or a transaction (notes never change labels; run while serve is stopped, or use POST /v1/notes)", usage: "case:ID|ADDR|TXID TEXT...",
		flags: func(fs *flag.FlagSet) { fs.StringVar(&author, "author", "", "who wrote the note") },
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if len(args) < 2 {
				return usagef("give a subject (case:ID, an address or a txid) and the note's text")
			}
			return g.withIndex(env, func(ix *index.Index) error {
				subj, err := notes.ParseSubject(ix.Net, args[0])
				if err != nil {
					return argError(err)
				}
				n, err := notes.NewBook(ix.Store).Add(subj, strings.Join(args[1:], " "), author, time.Now())
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(env.Stdout, n)
				}
				fmt.Fprintf(env.Stdout, "note %d on %s\n", n.ID, n.Subject)
				return nil
			})
		},
	})
	register(&command{
		name: "note list", summary: "list notes, all or those on one subject", usage: "[case:ID|ADDR|TXID]",
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if len(args) > 1 {
				return usagef("give at most one subject")
			}
			return g.withReader(env, func(ix *index.Index) error {
				b := notes.NewBook(ix.Store)
				var ns []notes.Note
				var err error
				if len(args) == 1 {
					subj, serr := notes.ParseSubject(ix.Net, args[0])
					if serr != nil {
						return argError(serr)
					}
					ns, err = b.For(subj)
				} else {
					ns, err = b.All()
				}
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(env.Stdout, ns)
				}
				writeNotes(env.Stdout, "", ns, true)
				return nil
			})
		},
	})
	register(&command{
		name: "note delete", summary: "delete a note by id", usage: "ID",
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if err := wantArgs(args, 1, "a note id"); err != nil {
				return err
			}
			id, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return usagef("note id %q is not a number", args[0])
			}
			return g.withIndex(env, func(ix *index.Index) error {
				if err := notes.NewBook(ix.Store).Delete(id); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "deleted note %d\n", id)
				return nil
			})
		},
	})
}

// writeNotes prints notes, each indented under indent, escaping their
// text like label text (a note's newlines become visible "\n").
func writeNotes(w io.Writer, indent string, ns []notes.Note, withSubject bool) {
	for _, n := range ns {
		by := ""
		if n.Author != "" {
			by = " by " + labels.Escape(n.Author)
		}
		on := ""
		if withSubject {
			on = " on " + n.Subject
		}
		fmt.Fprintf(w, "%snote %d%s%s, %s: %s\n", indent, n.ID, on, by, n.Time.UTC().Format(time.RFC3339), labels.Escape(n.Text))
	}
}

// writeLabelLines prints labels inline under a transaction or address:
// label, category, source and confidence.
func writeLabelLines(w io.Writer, indent, subject string, ls []labels.Label) {
	for _, l := range ls {
		fmt.Fprintf(w, "%slabel %s (%s) on %s — source %s, confidence %s (%d)\n", indent, labels.Escape(l.Label), labels.Escape(l.Category),
			subject, labels.Escape(l.Source), labels.Escape(l.Confidence), l.ConfidenceLevel)
	}
}
