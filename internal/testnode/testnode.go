package testnode

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/regtest"
)

// BtcdVersion is the btcd release the tests run, the same as
// scripts/install-test-deps.sh installs.
const BtcdVersion = regtest.BtcdVersion

// ActivationHeight is the first block at which SegWit and Taproot are active
// on btcd regtest when every block signals (see the package doc).
const ActivationHeight = 432

const startTimeout = 30 * time.Second

// Node is a running btcd regtest node.
type Node struct {
	URL, User, Pass string
	P2PAddr         string // 127.0.0.1:port btcd listens on for peers

	t        testing.TB
	bin      string
	confPath string
	outPath  string
	client   *chain.RPCClient
	wallet   *Wallet

	mu     sync.Mutex
	cmd    *exec.Cmd     // nil while stopped
	exited chan struct{} // closed when cmd exits
	blocks [][]byte      // the chain saved by Stop, for Restart
}

type options struct {
	seed []byte
	args []string
}

// Option changes how Start runs btcd.
type Option func(*options)

// WithSeed derives the wallet (and so the mining address) from seed instead of
// DefaultSeed.
func WithSeed(seed string) Option { return func(o *options) { o.seed = []byte(seed) } }

// WithArgs passes extra command-line flags to btcd.
func WithArgs(args ...string) Option {
	return func(o *options) { o.args = append(o.args, args...) }
}

// DefaultSeed is the wallet seed of a node started without WithSeed.
const DefaultSeed = "cointrail testnode"

// Start runs btcd on regtest and returns once its RPC answers. The node is
// stopped when the test ends. It fails the test if btcd cannot be found,
// installed or started.
func Start(t testing.TB, opts ...Option) *Node {
	t.Helper()
	o := options{seed: []byte(DefaultSeed)}
	for _, opt := range opts {
		opt(&o)
	}
	bin, err := btcdBinary()
	if err != nil {
		t.Fatalf("testnode: %v", err)
	}
	tmp := t.TempDir()
	n := &Node{
		User:     "cointrail",
		Pass:     randomHex(16),
		t:        t,
		bin:      bin,
		confPath: filepath.Join(tmp, "btcd.conf"),
		outPath:  filepath.Join(tmp, "btcd.out"),
	}
	rpcAddr, p2pAddr := freeAddr(t), freeAddr(t)
	n.URL = "http://" + rpcAddr
	n.P2PAddr = p2pAddr
	n.wallet = NewWallet(&chaincfg.RegressionNetParams, o.seed, nil)

	conf := strings.Join(append([]string{
		"[Application Options]",
		"regtest=1",
		"notls=1",
		"rpcuser=" + n.User,
		"rpcpass=" + n.Pass,
		"rpclisten=" + rpcAddr,
		"listen=" + p2pAddr,
		"nodnsseed=1",
		"noonion=1",
		"nocfilters=1",
		"datadir=" + filepath.Join(tmp, "data"),
		"logdir=" + filepath.Join(tmp, "log"),
		"txindex=1",
		"addrindex=1",
		"miningaddr=" + n.wallet.MiningAddress(),
		"debuglevel=info",
	}, o.args...), "\n") + "\n"
	if err := os.WriteFile(n.confPath, []byte(conf), 0o600); err != nil {
		t.Fatalf("testnode: %v", err)
	}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	n.client, err = chain.NewRPCClient(chain.RPCConfig{URL: n.URL, User: n.User, Pass: n.Pass}, log)
	if err != nil {
		t.Fatalf("testnode: %v", err)
	}
	n.wallet.client = n.client
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("testnode: end of btcd output:\n%s", n.outputTail())
		}
		n.stop()
	})
	n.launch()
	return n
}

// launch starts btcd and waits until its RPC answers.
func (n *Node) launch() {
	n.t.Helper()
	out, err := os.OpenFile(n.outPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		n.t.Fatalf("testnode: %v", err)
	}
	defer out.Close() // the child has its own descriptor
	cmd := exec.Command(n.bin, "--configfile="+n.confPath)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		n.t.Fatalf("testnode: start %s: %v", n.bin, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // an early exit is reported below
		close(exited)
	}()
	n.mu.Lock()
	n.cmd, n.exited = cmd, exited
	n.mu.Unlock()

	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := n.client.BlockCount(ctx)
		cancel()
		if err == nil {
			return
		}
		select {
		case <-exited:
			n.t.Fatalf("testnode: btcd exited during start (%v):\n%s", cmd.ProcessState, n.outputTail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("testnode: btcd RPC not answering after %s: %v\n%s", startTimeout, err, n.outputTail())
		}
	}
}

// Stop saves the chain for Restart, then terminates btcd (SIGTERM, then
// SIGKILL after 15s) and waits for it to exit. Stopping a stopped node does
// nothing.
func (n *Node) Stop() {
	n.t.Helper()
	n.mu.Lock()
	running := n.cmd != nil
	n.mu.Unlock()
	if !running {
		return
	}
	// btcd wipes its regtest database whenever it starts, so the chain
	// survives a restart only as blocks we keep and submit again.
	tip, err := n.client.BlockCount(context.Background())
	if err != nil {
		n.t.Fatalf("testnode: %v", err)
	}
	n.blocks = n.blocks[:0]
	if tip > 0 {
		err = n.client.FetchBlocks(context.Background(), 1, tip, func(_ int64, raw []byte) error {
			n.blocks = append(n.blocks, raw)
			return nil
		})
		if err != nil {
			n.t.Fatalf("testnode: %v", err)
		}
	}
	n.stop()
}

func (n *Node) stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(15 * time.Second):
		n.t.Logf("testnode: btcd ignored SIGTERM for 15s, killing it")
		_ = n.cmd.Process.Kill()
		<-n.exited
	}
	n.cmd = nil
}

// Restart stops btcd if it runs and starts it again at the same addresses
// with the chain Stop saved (the blocks are submitted again, so hashes and
// heights stay the same; the mempool is lost).
func (n *Node) Restart() {
	n.t.Helper()
	n.Stop()
	n.launch()
	for i, raw := range n.blocks {
		if err := n.client.SubmitBlock(context.Background(), raw); err != nil {
			n.t.Fatalf("testnode: restoring block %d: %v", i+1, err)
		}
	}
}

// Client is an RPC client of the node.
func (n *Node) Client() *chain.RPCClient { return n.client }

// Wallet is the node's wallet; its mining address receives the coinbases.
func (n *Node) Wallet() *Wallet { return n.wallet }

// Generate mines n blocks with btcd's generate and returns their hashes.
// Transactions in the mempool go into the first block.
func (n *Node) Generate(count int) []chainhash.Hash {
	n.t.Helper()
	hashes := make([]chainhash.Hash, 0, count)
	for count > 0 {
		// Chunks keep each request well inside the client's timeout.
		k := min(count, 100)
		var strs []string
		if err := n.client.Call(context.Background(), "generate", []any{k}, &strs); err != nil {
			n.t.Fatalf("testnode: %v", err)
		}
		for _, s := range strs {
			h, err := chainhash.NewHashFromStr(s)
			if err != nil {
				n.t.Fatalf("testnode: generate returned %q: %v", s, err)
			}
			hashes = append(hashes, *h)
		}
		count -= k
	}
	return hashes
}

// ActivateSoftForks mines up to height ActivationHeight-1, so that SegWit
// and Taproot rules apply to the next block and the mempool accepts witness
// spends, and checks that the node says so. It also leaves hundreds of
// matured coinbases in the wallet.
func (n *Node) ActivateSoftForks() {
	n.t.Helper()
	h, err := n.client.BlockCount(context.Background())
	if err != nil {
		n.t.Fatalf("testnode: %v", err)
	}
	if h < ActivationHeight-1 {
		n.Generate(int(ActivationHeight - 1 - h))
	}
	var info struct {
		Bip9 map[string]struct {
			Status string `json:"status"`
		} `json:"bip9_softforks"`
	}
	if err := n.client.Call(context.Background(), "getblockchaininfo", nil, &info); err != nil {
		n.t.Fatalf("testnode: %v", err)
	}
	for _, fork := range []string{"segwit", "taproot"} {
		if s := info.Bip9[fork].Status; s != "active" {
			n.t.Fatalf("testnode: %s is %q at height %d, want active", fork, s, ActivationHeight-1)
		}
	}
}

// outputTail is the end of btcd's stdout and stderr, for failure messages.
func (n *Node) outputTail() string {
	b, err := os.ReadFile(n.outPath)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// freeAddr is a loopback address with a port nobody listens on right now,
// below the kernel's ephemeral range (32768 and up): a port the kernel
// handed out and took back can be handed to another test's connection
// before btcd binds it ("address already in use"); one picked here can
// only collide with another pick of this function.
func freeAddr(t testing.TB) string {
	t.Helper()
	for range 1000 {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+mrand.IntN(12000))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		l.Close()
		return addr
	}
	t.Fatalf("testnode: no free port in 20000..31999")
	return ""
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand documents it)
	return hex.EncodeToString(b)
}

var (
	btcdOnce sync.Once
	btcdPath string
	btcdErr  error
)

// btcdBinary finds btcd as regtest.FindBtcd does, installing the pinned
// version with go install if it is nowhere.
func btcdBinary() (string, error) {
	btcdOnce.Do(func() {
		if btcdPath, btcdErr = regtest.FindBtcd(); btcdErr == nil {
			return
		}
		cmd := exec.Command("go", "install", "github.com/btcsuite/btcd@"+BtcdVersion)
		cmd.Dir = os.TempDir() // outside any module, so go.mod plays no part
		if out, err := cmd.CombinedOutput(); err != nil {
			btcdErr = fmt.Errorf("btcd not found and go install failed (run scripts/install-test-deps.sh): %v\n%s", err, out)
			return
		}
		btcdPath, btcdErr = regtest.FindBtcd()
	})
	return btcdPath, btcdErr
}
