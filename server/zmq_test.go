package server

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cointrail/cointrail/internal/testnode"
)

func findPyZMQ() string {
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import zmq").Run() == nil {
			return py
		}
	}
	return ""
}

// TestZMQRawBlock: with polling effectively off, blocks reach the index
// through ZMQ alone: a rawblock message is connected as it is, a hashblock
// message makes the follower sync over RPC.
func TestZMQRawBlock(t *testing.T) {
	py := findPyZMQ()
	if py == "" {
		t.Skip("needs python3-zmq (libzmq) to publish like Bitcoin Core: apt-get install python3-zmq")
	}
	script := `
import sys, zmq, struct, binascii, threading
ctx = zmq.Context()
s = ctx.socket(zmq.XPUB)
port = s.bind_to_random_port("tcp://127.0.0.1")
print(port, flush=True)
lock = threading.Lock()
def subs():
    while True:
        with lock:
            ev = s.poll(10)
            m = s.recv() if ev else None
        if m and m[:1] == b"\x01":
            print("subscribed " + m[1:].decode(), flush=True)
        elif not ev:
            import time; time.sleep(0.01)
threading.Thread(target=subs, daemon=True).start()
seq = 0
for line in sys.stdin:
    topic, body = line.split()
    with lock:
        s.send_multipart([topic.encode(), binascii.unhexlify(body), struct.pack("<I", seq)])
    seq += 1
    print("sent " + topic, flush=True)
`
	cmd := exec.Command(py, "-c", script)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next := func(what string) string {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("publisher exited waiting for %s", what)
			}
			return l
		case <-time.After(10 * time.Second):
			t.Fatalf("publisher: no %s", what)
		}
		return ""
	}
	port := next("port")
	ep := "tcp://127.0.0.1:" + port

	node := testnode.Start(t)
	node.Generate(5)
	h := start(t, node, t.TempDir(), nil, nil, func(c *Config) {
		c.PollInterval = time.Minute // only the first sync and ZMQ move the follower
		c.ZMQ = ZMQ{RawBlock: ep, HashBlock: ep}
	})
	h.waitTip(20 * time.Second)
	subs := map[string]bool{}
	for len(subs) < 2 {
		l := next("subscription")
		if topic, ok := strings.CutPrefix(l, "subscribed "); ok {
			subs[topic] = true
		}
	}
	if !subs["rawblock"] || !subs["hashblock"] {
		t.Fatalf("subscriptions %v", subs)
	}
	publish := func(topic string, body []byte) {
		if _, err := io.WriteString(stdin, topic+" "+hex.EncodeToString(body)+"\n"); err != nil {
			t.Fatal(err)
		}
		if l := next("send"); l != "sent "+topic {
			t.Fatalf("publisher: %q", l)
		}
	}
	// rawblock: the block itself.
	hash := node.Generate(1)[0]
	raw, err := node.Client().RawBlock(context.Background(), hash)
	if err != nil {
		t.Fatal(err)
	}
	publish("rawblock", raw)
	h.waitTip(10 * time.Second)
	// hashblock: a nudge to sync over RPC (Core sends the hash in display order, reversed).
	hash = node.Generate(1)[0]
	rev := make([]byte, 32)
	for i := range rev {
		rev[i] = hash[31-i]
	}
	publish("hashblock", rev)
	if got := h.waitTip(10 * time.Second); got != 7 {
		t.Fatalf("tip %d", got)
	}
	if n := h.srv.m.blocks.Load(); n != 7+1 {
		t.Fatal(fmt.Sprint("blocks connected ", n))
	}
}
