package regtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cointrail/cointrail/chain"
)

// BtcdVersion is the btcd release cointrail is tested with.
const BtcdVersion = "v0.24.2"

// InstallHint says how to get btcd.
const InstallHint = "go install github.com/btcsuite/btcd@" + BtcdVersion

var (
	// ErrNoBtcd: no btcd binary in GOBIN, GOPATH/bin or PATH.
	ErrNoBtcd = errors.New("regtest: btcd not found")
	// ErrStart: btcd did not start or its RPC did not answer.
	ErrStart = errors.New("regtest: btcd did not start")
)

const startTimeout = 30 * time.Second

// FindBtcd looks for btcd in GOBIN, each GOPATH's bin (as `go env` reports
// them, where `go install` puts it) and PATH.
func FindBtcd() (string, error) {
	var dirs []string
	if out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output(); err == nil {
		f := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(f) == 2 && strings.TrimSpace(f[0]) != "" {
			dirs = append(dirs, strings.TrimSpace(f[0]))
		}
		for _, p := range filepath.SplitList(strings.TrimSpace(f[len(f)-1])) {
			dirs = append(dirs, filepath.Join(p, "bin"))
		}
	} else if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin")) // go's default GOPATH
	}
	for _, d := range dirs {
		if p := filepath.Join(d, "btcd"); isExecutable(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath("btcd"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%w in %s or PATH: install it with `%s`", ErrNoBtcd, strings.Join(dirs, ", "), InstallHint)
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// Node is a running btcd regtest node.
type Node struct {
	URL, User, Pass string
	Dir             string // btcd.conf, btcd.out (its output), data/, log/
	Bin             string
	PID             int // btcd's process id

	cmd    *exec.Cmd
	exited chan struct{}
	client *chain.RPCClient
}

// Start runs btcd (bin, from FindBtcd) on regtest with its data in dir,
// RPC on a free loopback port and no peer-to-peer listener, and returns
// once its RPC answers. btcd wipes its regtest chain whenever it starts,
// so the node always begins at the genesis block.
func Start(ctx context.Context, bin, dir string, log *slog.Logger) (*Node, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	n := &Node{User: "cointrail", Pass: randomHex(16), Dir: dir, Bin: bin}
	var err error
	for range 3 { // the port picked can be taken before btcd binds it
		if err = n.launch(ctx, log); err == nil || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	return n, nil
}

func (n *Node) launch(ctx context.Context, log *slog.Logger) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStart, err)
	}
	addr := l.Addr().String()
	l.Close()
	n.URL = "http://" + addr
	conf := strings.Join([]string{
		"[Application Options]",
		"regtest=1",
		"notls=1",
		"rpcuser=" + n.User,
		"rpcpass=" + n.Pass,
		"rpclisten=" + addr,
		"nolisten=1",
		"nodnsseed=1",
		"noonion=1",
		"txindex=1",
		"datadir=" + filepath.Join(n.Dir, "data"),
		"logdir=" + filepath.Join(n.Dir, "log"),
	}, "\n") + "\n"
	confPath := filepath.Join(n.Dir, "btcd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return fmt.Errorf("%w: %w", ErrStart, err)
	}
	outPath := filepath.Join(n.Dir, "btcd.out")
	out, err := os.Create(outPath)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStart, err)
	}
	defer out.Close() // the child has its own descriptor
	cmd := exec.Command(n.Bin, "--configfile="+confPath)
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group: a terminal's Ctrl-C reaches cointrail, which
	// stops btcd in order, not both at once.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrStart, n.Bin, err)
	}
	n.cmd, n.exited, n.PID = cmd, make(chan struct{}), cmd.Process.Pid
	go func() {
		_ = cmd.Wait() // reported by Stop or the wait below
		close(n.exited)
	}()
	if n.client, err = chain.NewRPCClient(chain.RPCConfig{URL: n.URL, User: n.User, Pass: n.Pass}, log); err != nil {
		n.Stop()
		return fmt.Errorf("%w: %w", ErrStart, err)
	}
	deadline := time.Now().Add(startTimeout)
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := n.client.BlockCount(cctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-n.exited:
			return fmt.Errorf("%w: btcd exited during start (%v): %s", ErrStart, cmd.ProcessState, lastLine(outPath))
		case <-ctx.Done():
			n.Stop()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			n.Stop()
			return fmt.Errorf("%w: RPC at %s not answering after %s: %v", ErrStart, n.URL, startTimeout, err)
		}
	}
}

// Client is an RPC client of the node.
func (n *Node) Client() *chain.RPCClient { return n.client }

// Stop terminates btcd (SIGTERM, SIGKILL after 15 s) and waits for it.
// Stopping a stopped node does nothing.
func (n *Node) Stop() {
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(15 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.exited
	}
	n.cmd = nil
}

// lastLine is the last non-empty line of btcd's output, for messages.
func lastLine(path string) string {
	b, _ := os.ReadFile(path)
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return string(lines[len(lines)-1])
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand documents it)
	return hex.EncodeToString(b)
}
