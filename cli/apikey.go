package cli

import (
	"context"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/labels"
	"github.com/cointrail/cointrail/server"
)

func init() {
	var role, name string
	register(&command{
		name: "apikey create", summary: "create an API key for `serve` (run while serve is stopped, or use POST /v1/apikeys); prints the key last",
		usage: "--role read|admin [--name NAME]",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&role, "role", "read", "read (every GET) or admin (everything)")
			fs.StringVar(&name, "name", "", "who or what the key is for")
		},
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if err := wantArgs(args, 0, "no arguments"); err != nil {
				return err
			}
			r, err := server.ParseRole(role)
			if err != nil {
				return usagef("%v", err)
			}
			return g.withNewIndex(env, func(ix *index.Index) error {
				key, rec, err := server.CreateAPIKey(ix.Store, r, name, time.Now())
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(env.Stdout, server.CreatedKey{APIKey: rec, Key: key})
				}
				fmt.Fprintf(env.Stdout, "created %s API key %s; it is shown only now: %s\n", rec.Role, rec.ID, key)
				return nil
			})
		},
	})
	register(&command{
		name: "apikey list", summary: "list API keys (their ids and roles; keys are stored hashed)",
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if err := wantArgs(args, 0, "no arguments"); err != nil {
				return err
			}
			return g.withIndex(env, func(ix *index.Index) error {
				ks, err := server.ListAPIKeys(ix.Store)
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(env.Stdout, ks)
				}
				tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "id\trole\tcreated\tname")
				for _, k := range ks {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.ID, k.Role, k.CreatedAt.Format(time.RFC3339), labels.Escape(k.Name))
				}
				return tw.Flush()
			})
		},
	})
	register(&command{
		name: "apikey revoke", summary: "delete an API key by id", usage: "ID",
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if err := wantArgs(args, 1, "one key id"); err != nil {
				return err
			}
			return g.withIndex(env, func(ix *index.Index) error {
				if err := server.RevokeAPIKey(ix.Store, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "revoked API key %s\n", args[0])
				return nil
			})
		},
	})
}
