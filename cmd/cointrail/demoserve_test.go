package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cointrail/cointrail/chain"
)

// TestDemoServe runs `demo --serve`: it starts btcd, submits the heist,
// and serves the API following the node, also through blocks added while it
// runs; SIGTERM stops serve and btcd.
func TestDemoServe(t *testing.T) {
	if testing.Short() {
		t.Skip("starts btcd")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "demo", "--serve", "--data", t.TempDir(), "--listen", listen)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	}()

	var out strings.Builder
	started := regexp.MustCompile(`^started btcd \(.*, pid (\d+)\) on regtest: RPC (\S+), user (\S+), password (\S+);`)
	var pid int
	var rpcURL, user, pass, theft, key string
	deadline := time.After(3 * time.Minute)
	for !strings.HasPrefix(lastLine(out.String()), "stop:") {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("demo --serve exited early: %v\n%s\n%s", <-exited, out.String(), stderr.String())
			}
			out.WriteString(l + "\n")
			if m := started.FindStringSubmatch(l); m != nil {
				pid, _ = strconv.Atoi(m[1])
				rpcURL, user, pass = m[2], m[3], m[4]
			}
			if f := strings.Fields(l); len(f) > 0 && f[0] == "theft:" {
				for _, w := range f {
					if len(w) == 64 {
						theft = w
					}
				}
			}
			if k, ok := strings.CutPrefix(l, "admin API key: "); ok {
				key = k
			}
		case <-deadline:
			t.Fatalf("demo --serve printed no instructions within 3 minutes:\n%s\n%s", out.String(), stderr.String())
		}
	}
	if pid == 0 || theft == "" || key == "" {
		t.Fatalf("demo --serve did not print btcd's pid and RPC, the theft and an API key:\n%s", out.String())
	}
	node, err := chain.NewRPCClient(chain.RPCConfig{URL: rpcURL, User: user, Pass: pass}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + listen
	get := func(path string, v any) int {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		if v != nil && json.NewDecoder(resp.Body).Decode(v) != nil {
			return 0
		}
		return resp.StatusCode
	}
	// follows waits until serve is at the node's tip.
	follows := func(when string) int64 {
		t.Helper()
		h, err := node.BlockCount(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want, err := node.BlockHash(context.Background(), h)
		if err != nil {
			t.Fatal(err)
		}
		var st struct {
			TipHeight int64  `json:"tip_height"`
			TipHash   string `json:"tip_hash"`
			Following bool   `json:"following"`
		}
		for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			if get("/v1/status", &st) == 200 && st.Following && st.TipHeight == h && st.TipHash == want.String() {
				return h
			}
		}
		t.Fatalf("%s: serve at %d %s (following %v), the node at %d %s\n%s", when, st.TipHeight, st.TipHash, st.Following, h, want, stderr.String())
		return 0
	}
	h0 := follows("after the heist")
	if code := get("/v1/tx/"+theft, nil); code != 200 {
		t.Fatalf("GET /v1/tx/%s: %d", theft, code)
	}
	if _, errOut, err := run(t, nil, "sim", "--rpc", rpcURL, "--rpc-user", user, "--rpc-pass", pass, "--txs", "200", "--seed", "2"); err != nil {
		t.Fatalf("sim --rpc on the demo's node: %v\n%s", err, errOut)
	}
	if h := follows("after more blocks"); h <= h0 {
		t.Fatalf("the node stayed at %d after sim --rpc", h)
	}

	_ = cmd.Process.Signal(syscall.SIGTERM)
	for range lines {
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("demo --serve after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo --serve ignored SIGTERM for 30s")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("btcd (pid %d) still runs after demo --serve stopped: %v", pid, err)
	}
}

// TestDemoServeWithoutBtcd: without btcd, demo --serve says how to install it.
func TestDemoServeWithoutBtcd(t *testing.T) {
	empty := t.TempDir()
	_, errOut, err := run(t, []string{"PATH=" + empty, "HOME=" + empty, "GOBIN="}, "demo", "--serve", "--data", t.TempDir())
	if err == nil || !strings.Contains(errOut, "go install github.com/btcsuite/btcd@v0.24.2") {
		t.Fatalf("exit %v, stderr %q: want a failure naming the install command", err, errOut)
	}
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return s[strings.LastIndex(s, "\n")+1:]
}
