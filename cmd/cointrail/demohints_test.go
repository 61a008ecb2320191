package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDemoHintsWorkAsPrinted runs every command the demo prints under
// "continue:" exactly as printed (only serve's port is swapped for a free
// one): the traces, the PDF report, the freeze list naming the customer's deposit address
// (the demo clusters before tracing), the API key, and `serve` with no node
// answering /v1/status with that key and taking a case over the index as it
// is.
func TestDemoHintsWorkAsPrinted(t *testing.T) {
	data := t.TempDir()
	out := mustRun(t, "demo", "--data", data)
	_, hints, ok := strings.Cut(out, "\ncontinue:\n")
	if !ok {
		t.Fatalf("demo printed no hints:\n%s", out)
	}
	var key, serveLine string
	var freeze string
	n := 0
	for line := range strings.SplitSeq(strings.TrimSpace(hints), "\n") {
		line, _, _ = strings.Cut(strings.TrimSpace(line), "   (")
		args := strings.Fields(line)
		if len(args) < 2 || args[0] != "cointrail" {
			t.Fatalf("hint %q is not a cointrail command", line)
		}
		n++
		if args[1] == "serve" {
			serveLine = line
			continue
		}
		if strings.Contains(line, "--format pdf") {
			if testing.Short() {
				continue // starts Chromium
			}
			pdf := filepath.Join(data, "report.pdf")
			if _, err := os.Stat(pdf); err == nil {
				t.Fatal("report.pdf exists before its hint ran")
			}
		}
		got := mustRun(t, args[1:]...)
		switch {
		case strings.Contains(line, "--format pdf"):
			if b, err := os.ReadFile(filepath.Join(data, "report.pdf")); err != nil || !bytes.HasPrefix(b, []byte("%PDF-")) {
				t.Fatalf("the PDF hint wrote no PDF: %v", err)
			}
		case args[1] == "apikey":
			key = got[strings.LastIndex(got, " ")+1 : len(got)-1]
		case strings.Contains(line, "--format freeze"):
			freeze = got
		}
	}
	if n != 6 || key == "" || serveLine == "" {
		t.Fatalf("want 6 hints with an API key and serve, got %d:\n%s", n, hints)
	}
	// Meridian's arrivals are the customer's deposit address (first block
	// 462), not its hot wallet after the sweep (first block 465).
	if !strings.Contains(freeze, "Meridian Exchange,exchange,bcrt1qvt4m8fed7") || !strings.Contains(freeze, ",462,2024-05-31T05:00:00Z,") {
		t.Fatalf("freeze list without Meridian's deposit address:\n%s", freeze)
	}

	// The exchange screening its own deposit address sees the theft: the
	// look-back starts at the exchange's label instead of stopping there,
	// and its hint for more hops works as printed.
	const deposit = "bcrt1qvt4m8fed7dfqqe799fmluk4ynjyke3gfggxcfv"
	var sr struct {
		Risk     string `json:"risk"`
		Indirect struct {
			Sat int64 `json:"sat"`
		} `json:"indirect"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "screen", "--data", data, "--network", "regtest", "--json", deposit)), &sr); err != nil || sr.Risk != "high" || sr.Indirect.Sat == 0 {
		t.Fatalf("screening Meridian's deposit address: %+v %v", sr, err)
	}
	text := mustRun(t, "screen", "--data", data, "--network", "regtest", deposit)
	_, more, ok := strings.Cut(text, "look further back: ")
	if !ok || !strings.Contains(text, "unattributed within 3 hops: ") {
		t.Fatalf("screen text without the unattributed value and its hint:\n%s", text)
	}
	more, _, _ = strings.Cut(more, "\n")
	if again := mustRun(t, strings.Fields(more)[1:]...); !strings.Contains(again, "risk high") || !strings.Contains(again, "6 hops back") {
		t.Fatalf("the printed hint %q gave:\n%s", more, again)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	args := strings.Fields(strings.Replace(serveLine, "127.0.0.1:8335", addr, 1))[1:]
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	call := func(method, path, body string, v any) int {
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		json.NewDecoder(resp.Body).Decode(v)
		return resp.StatusCode
	}
	var st struct {
		TipHeight  int64  `json:"tip_height"`
		CaseHeight int64  `json:"case_height"`
		Node       string `json:"node"`
		Following  bool   `json:"following"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for call("GET", "/v1/status", "", &st) != 200 {
		if time.Now().After(deadline) {
			t.Fatalf("serve without a node never answered /v1/status:\n%s%s", stdout.String(), stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st.TipHeight != 531 || st.CaseHeight != 531 || st.Node != "none" || st.Following {
		t.Fatalf("status of serve without a node: %+v", st)
	}
	if !strings.Contains(stdout.String(), "no --rpc: serving the index at height 531 as it is") {
		t.Fatalf("serve did not say it serves without a node:\n%s", stdout.String())
	}
	theft := theftTxid(t, data)
	var cv struct {
		ID      int64 `json:"id"`
		Summary struct {
			TracedSat int64 `json:"traced_sat"`
		} `json:"summary"`
	}
	if code := call("POST", "/v1/cases", `{"name":"dmm","seeds":["`+theft+`"]}`, &cv); code != 201 || cv.Summary.TracedSat < 4500_0000_0000 {
		t.Fatalf("case over serve without a node: HTTP %d %+v", code, cv)
	}
	var funds struct {
		Height   int64 `json:"height"`
		Arrivals []any `json:"arrivals"`
	}
	if code := call("GET", fmt.Sprintf("/v1/cases/%d/funds", cv.ID), "", &funds); code != 200 || funds.Height != 531 || len(funds.Arrivals) == 0 {
		t.Fatalf("funds of the case: HTTP %d height %d, %d arrivals", code, funds.Height, len(funds.Arrivals))
	}
}

// theftTxid reads the simulated theft's txid from the demo's truth file.
func theftTxid(t *testing.T, data string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(data, "sim", "truth.json"))
	var truth struct {
		TheftTxid string `json:"theft_txid"`
	}
	if err != nil || json.Unmarshal(b, &truth) != nil || truth.TheftTxid == "" {
		t.Fatalf("truth.json: %v", err)
	}
	return truth.TheftTxid
}
