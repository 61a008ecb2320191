package cli

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/cointrail/cointrail/attrib"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/taint"
)

// errDiffers is a result whose re-run does not give its result_sha256.
var errDiffers = errors.New("cli: result differs")

// recorded is what verify-result reads back from a result JSON.
type recorded struct {
	TipHeight uint32          `json:"tip_height"`
	TipHash   string          `json:"tip_hash"`
	Model     string          `json:"model"`
	Params    json.RawMessage `json:"params"`
	Inputs    *taint.Inputs   `json:"inputs"`
	Seeds     []struct {
		TxID      string `json:"txid"`
		Vout      uint32 `json:"vout"`
		AmountSat int64  `json:"amount_sat"`
	} `json:"seeds"`
	ResultSHA256 string `json:"result_sha256"`
}

// splitResults returns the results of a file `trace --format json` (or the
// API) wrote: one object, or an array of them (several models), each as
// its exact bytes.
func splitResults(b []byte) ([][]byte, error) {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var raw []json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			return nil, err
		}
		out := make([][]byte, len(raw))
		for i, r := range raw {
			out[i] = r
		}
		return out, nil
	}
	return [][]byte{b}, nil
}

// verifyOne re-runs one result on ix and reports on w; it returns the
// names of the inputs that differ (nil when the re-run is identical).
func verifyOne(ctx context.Context, env *Env, ix *index.Index, b []byte, w io.Writer) ([]string, error) {
	if err := taint.VerifyJSON(b); err != nil {
		return nil, fmt.Errorf("%w: %w (the file was changed after it was written)", errDiffers, err)
	}
	var rec recorded
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("%w: not a trace result: %w", taint.ErrBadParams, err)
	}
	if rec.Inputs == nil {
		return nil, fmt.Errorf("%w: the result records no inputs (written by a cointrail before verify-result): it cannot be re-run as it was", errDiffers)
	}
	p := taint.DefaultParams()
	var err error
	if p.Model, err = taint.ParseModel(rec.Model); err != nil {
		return nil, err
	}
	// The recorded params are taint.Params' own JSON; fields it lacks keep
	// their defaults.
	if err := json.Unmarshal(rec.Params, &p); err != nil {
		return nil, fmt.Errorf("%w: params: %w", taint.ErrBadParams, err)
	}
	for _, c := range rec.Inputs.CapsBound {
		switch c.Param {
		case "max_hops":
			p.HopCap = c.Value
		case "max_txs":
			p.TxCap = c.Value
		}
	}
	var seeds []taint.Seed
	for _, s := range rec.Seeds {
		outs, err := ix.ResolveSeed(fmt.Sprintf("%s:%d@%d", s.TxID, s.Vout, s.AmountSat), index.SeedWindow{})
		if err != nil {
			return []string{"index"}, fmt.Errorf("%w: seed %s:%d: %w", errDiffers, s.TxID, s.Vout, err)
		}
		for _, o := range outs {
			seeds = append(seeds, taint.Seed{Out: o.Out, Amount: o.Amount})
		}
	}
	attr, err := attrib.Build(ix, nil)
	if err != nil {
		return nil, err
	}
	now, err := attrib.Evidence(ctx, ix, rec.Inputs.Seeds, index.SeedWindow{FromHeight: rec.Inputs.SeedFromHeight, ToHeight: rec.Inputs.SeedToHeight})
	if err != nil {
		return nil, err
	}
	// rerun traces under inputs and returns the result_sha256, and the
	// JSON when into is given.
	rerun := func(in taint.Inputs, into io.Writer) (string, error) {
		q := p
		q.Inputs = in
		q.Inputs.CapsBound = nil // the trace reports the caps that bind
		st, err := taint.Stream(ctx, &index.Graph{Index: ix}, attr, seeds, q, taint.StreamOptions{}, env.Log)
		if st != nil {
			defer st.Close()
		}
		if err != nil {
			return "", err
		}
		if into == nil {
			into = io.Discard
		}
		sum, err := st.WriteJSON(into)
		return hex.EncodeToString(sum[:]), err
	}
	got, err := rerun(now, nil)
	if err != nil && !errors.Is(err, taint.ErrLimit) {
		return nil, err
	}
	if got == rec.ResultSHA256 {
		fmt.Fprintf(w, "identical: %s result_sha256 %s (tip %d, index %s)\n", p.Model, got, rec.TipHeight, now.IndexDigest)
		return nil, nil
	}
	var diff []string
	r := rec.Inputs
	line := func(name, what, was, is string) {
		diff = append(diff, name)
		fmt.Fprintf(w, "  %s: %s %s in the result, %s now\n", name, what, was, is)
	}
	fmt.Fprintf(w, "differs: %s result_sha256 %s in the result, %s re-run on this index\n", p.Model, rec.ResultSHA256, got)
	s := ix.Status()
	if int64(rec.TipHeight) != s.TipHeight || rec.TipHash != s.TipHash {
		line("index", "tip", fmt.Sprintf("%d %s", rec.TipHeight, rec.TipHash), fmt.Sprintf("%d %s", s.TipHeight, s.TipHash))
	} else if r.IndexDigest != now.IndexDigest {
		line("index", "index digest", r.IndexDigest, now.IndexDigest)
	}
	if r.LabelsDigest != now.LabelsDigest {
		line("labels", "labels_sha256", r.LabelsDigest, now.LabelsDigest)
		was, is := fileSet(r.LabelFiles), fileSet(now.LabelFiles)
		for _, f := range r.LabelFiles {
			if !is[f.FileSHA256] {
				fmt.Fprintf(w, "    label file %s (%d labels) is no longer imported\n", f.FileSHA256, f.Labels)
			}
		}
		for _, f := range now.LabelFiles {
			if !was[f.FileSHA256] {
				fmt.Fprintf(w, "    label file %s (%d labels) was imported since\n", f.FileSHA256, f.Labels)
			}
		}
	}
	if r.ClustersDigest != now.ClustersDigest {
		line("clusters", "clusters_sha256", r.ClustersDigest, now.ClustersDigest)
	}
	if r.ToolVersion != now.ToolVersion {
		line("tool version", "tool_version", r.ToolVersion, now.ToolVersion)
	}
	// With the recorded inputs in place of today's, is the trace itself
	// the same (summary, outputs and edges; the tip aside)? Says whether
	// the flows changed or only what they ran with.
	var again bytes.Buffer
	if _, err := rerun(*r, &again); err == nil || errors.Is(err, taint.ErrLimit) {
		if bytes.Equal(flows(again.Bytes()), flows(b)) {
			fmt.Fprintln(w, "  the flows are identical (summary, outputs, edges): only the inputs above differ")
		} else {
			diff = append(diff, "result")
			fmt.Fprintln(w, "  the flows differ too (summary, outputs or edges)")
		}
	}
	return diff, nil
}

// flows is the part of a canonical result JSON from its summary to its
// edges: what the trace found, without the tip, parameters, inputs and hash.
func flows(b []byte) []byte {
	i := bytes.Index(b, []byte(`,"summary":{`))
	j := bytes.LastIndex(b, []byte(`,"result_sha256":"`))
	if i < 0 || j < i {
		return nil
	}
	return b[i:j]
}

func fileSet(fs []taint.LabelFile) map[string]bool {
	m := map[string]bool{}
	for _, f := range fs {
		m[f.FileSHA256] = true
	}
	return m
}

func init() {
	register(&command{
		name: "verify-result", summary: "re-run a trace result JSON on the index: identical (exit 0) or which input differs (exit 1)",
		usage: "FILE",
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if err := wantArgs(args, 1, "one result JSON FILE"); err != nil {
				return err
			}
			b, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			parts, err := splitResults(b)
			if err != nil {
				return fmt.Errorf("%s: %w: not a trace result: %w", args[0], taint.ErrBadParams, err)
			}
			return g.withReader(env, func(ix *index.Index) error {
				var all []string
				for _, part := range parts {
					diff, err := verifyOne(ctx, env, ix, part, env.Stdout)
					if err != nil {
						return fmt.Errorf("%s: %w", args[0], err)
					}
					for _, d := range diff {
						if !slices.Contains(all, d) {
							all = append(all, d)
						}
					}
				}
				if len(all) > 0 {
					return fmt.Errorf("%w: %s: %s", errDiffers, args[0], strings.Join(all, ", "))
				}
				return nil
			})
		},
	})
}
