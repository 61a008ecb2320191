package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/kv"
	"github.com/cointrail/cointrail/notes"
)

// Env is what a command runs with.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	Log            *slog.Logger
}

// globals are the flags every command accepts.
type globals struct {
	data    string
	network string
	json    bool
	verbose bool
	cpuprof string
	cmdline string // the command as typed, shell-quoted: reports record it
}

type command struct {
	name    string
	summary string
	usage   string // arguments after the flags
	run     func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error
	flags   func(fs *flag.FlagSet) // registers command flags; values read via closures
}

var commands []*command

func register(c *command) { commands = append(commands, c) }

// usageError marks a command line the user got wrong: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// argError makes err, from parsing a command-line argument (a txid, an
// address, a seed, a block, a note subject), a usage error: a malformed
// argument exits 2 like a wrong flag, whichever package parsed it. Other
// errors pass through (a well-formed txid that is not indexed exits 1).
func argError(err error) error {
	if errors.Is(err, index.ErrBadInput) || errors.Is(err, chain.ErrBadInput) || errors.Is(err, notes.ErrBadInput) {
		return usageError{err.Error()}
	}
	return err
}

// Main runs cointrail with args (without the program name) and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	env := &Env{Stdout: stdout, Stderr: stderr, Getenv: os.Getenv}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(stdout)
		return 0
	}
	name := args[0]
	var cmd *command
	for _, c := range commands {
		if c.name == name {
			cmd = c
		}
	}
	// Two-word commands: "index digest", "labels import", "cluster build", "apikey create".
	if cmd == nil && len(args) > 1 {
		for _, c := range commands {
			if c.name == name+" "+args[1] {
				cmd, args = c, args[1:]
			}
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "cointrail: unknown command %q\n\n", strings.Join(args[:min(2, len(args))], " "))
		printUsage(stderr)
		return 2
	}
	fs := flag.NewFlagSet("cointrail "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	g := &globals{cmdline: shellQuote(append([]string{"cointrail"}, args...))}
	defData := env.Getenv("COINTRAIL_DATA")
	if defData == "" {
		defData = "./cointrail-data"
	}
	defNet := env.Getenv("COINTRAIL_NETWORK")
	if defNet == "" {
		defNet = "mainnet"
	}
	fs.StringVar(&g.data, "data", defData, "data directory (env COINTRAIL_DATA)")
	fs.StringVar(&g.network, "network", defNet, "mainnet, testnet, signet or regtest (env COINTRAIL_NETWORK)")
	fs.BoolVar(&g.json, "json", false, "print JSON")
	fs.BoolVar(&g.verbose, "v", false, "verbose logs")
	fs.StringVar(&g.cpuprof, "cpuprofile", "", "write a CPU profile to this file")
	if cmd.flags != nil {
		cmd.flags(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: cointrail %s [flags] %s\n\n%s\n\nflags:\n", cmd.name, cmd.usage, cmd.summary)
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	level := slog.LevelInfo
	if g.verbose {
		level = slog.LevelDebug
	}
	env.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if g.cpuprof != "" {
		f, err := os.Create(g.cpuprof)
		if err != nil {
			fmt.Fprintf(stderr, "cointrail: %v\n", err)
			return 2
		}
		pprof.StartCPUProfile(f)
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	if err := cmd.run(ctx, env, g, fs, pos); err != nil {
		fmt.Fprintf(stderr, "cointrail %s: %s\n", cmd.name, oneLine(err))
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

// parseInterspersed lets flags follow positional arguments
// ("trace TXID:0 --data d"), because the standard flag package stops at the
// first positional and would silently treat "--data" as a second seed. A
// lone "--" ends flag parsing so an argument starting with "-" stays
// positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		// flag.Parse consumes a terminating "--"; it is the token just before rest.
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", " ") }

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "cointrail — follow stolen bitcoin\n\nusage: cointrail COMMAND [flags] [args]\n\ncommands:")
	cs := append([]*command(nil), commands...)
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-16s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nglobal flags (anywhere after the command name): --data DIR, --network NET, --json, -v\nrun `cointrail COMMAND -h` for a command's flags")
}

func (g *globals) net() (chain.Network, error) {
	n, err := chain.NetworkByName(g.network)
	if err != nil {
		return n, usagef("%v", err)
	}
	return n, nil
}

// open opens the index of the selected network for writing.
func (g *globals) open(env *Env) (*index.Index, error) { return g.openIndex(env, index.Options{}) }

func (g *globals) openIndex(env *Env, opt index.Options) (*index.Index, error) {
	n, err := g.net()
	if err != nil {
		return nil, err
	}
	ix, err := index.Open(g.data, n, opt, env.Log)
	if errors.Is(err, kv.ErrStore) && (strings.Contains(err.Error(), "lock") || strings.Contains(err.Error(), "resource temporarily unavailable")) {
		return nil, fmt.Errorf("%w (another cointrail process has this data directory open — is `cointrail serve` running? stop it first, or use its API: POST /v1/apikeys, POST /v1/cases)", err)
	}
	return ix, err
}

// withIndex opens the selected network's index for writing, runs fn, and
// closes it. The index must exist: only ingest and `apikey create` (to
// set up serve on a fresh node) create one (withNewIndex), so a forgotten --network or --data fails naming what the directory holds
// instead of writing cases, labels or clusters into a new empty index.
func (g *globals) withIndex(env *Env, fn func(*index.Index) error) error {
	n, err := g.net()
	if err != nil {
		return err
	}
	if err := g.haveIndex(n); err != nil {
		return err
	}
	return g.withIndexOpts(env, index.Options{}, fn)
}

// withNewIndex is withIndex creating the index when there is none.
func (g *globals) withNewIndex(env *Env, fn func(*index.Index) error) error {
	return g.withIndexOpts(env, index.Options{}, fn)
}

func (g *globals) withIndexOpts(env *Env, opt index.Options, fn func(*index.Index) error) error {
	ix, err := g.openIndex(env, opt)
	if err != nil {
		return err
	}
	err = fn(ix)
	if cerr := ix.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

// withReader is withIndex for the commands that only read. An index that
// is not writable (a read-only mount, an evidence copy with its write bits
// removed: index.Writable) opens read-only, so that querying it writes
// nothing at all; a writable one opens as for writing, so that the recovery
// after a killed ingest still runs before the first query.
func (g *globals) withReader(env *Env, fn func(*index.Index) error) error {
	return g.withReaderOpts(env, index.Options{}, fn)
}

// withReaderOpts is withReader with opt, whose ReadOnly it decides.
func (g *globals) withReaderOpts(env *Env, opt index.Options, fn func(*index.Index) error) error {
	n, err := g.net()
	if err != nil {
		return err
	}
	if err := g.haveIndex(n); err != nil {
		return err
	}
	opt.ReadOnly = errors.Is(index.Writable(g.data, n), index.ErrReadOnly)
	return g.withIndexOpts(env, opt, fn)
}

// haveIndex fails when the data directory holds no index of network n: a
// query must not create one (an omitted --network made an empty mainnet
// index and answered from it), and says which networks it does hold.
func (g *globals) haveIndex(n chain.Network) error {
	if _, err := os.Stat(filepath.Join(index.Dir(g.data, n), "graph")); err == nil {
		return nil
	}
	var have []string
	for _, o := range chain.Networks() {
		if _, err := os.Stat(filepath.Join(index.Dir(g.data, o), "graph")); err == nil {
			have = append(have, o.Name)
		}
	}
	if len(have) > 0 {
		return usagef("no %s index in %s; it holds %s: add --network %s", n.Name, g.data, strings.Join(have, ", "), have[0])
	}
	return usagef("no %s index in %s: build one with `cointrail ingest --data %s --network %s --blocks DIR` (or --rpc URL), or point --data at one", n.Name, g.data, g.data, n.Name)
}

// printJSON writes v as indented JSON with a trailing newline.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func wantArgs(args []string, n int, what string) error {
	if len(args) != n {
		return usagef("want %s", what)
	}
	return nil
}
