package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Bitcoin Core publishes notifications over ZeroMQ: each is a three-part
// message [topic, body, sequence (4 bytes little-endian)] on a PUB socket
// (zmqpubrawblock, zmqpubhashblock, zmqpubrawtx). zmqSub is the smallest
// SUB socket that reads them: ZMTP 3.0 over TCP with the NULL mechanism,
// which is what libzmq speaks to a peer announcing version 3.0, so no
// ZeroMQ library is needed. ZMQ is lossy by design (a slow subscriber
// drops messages), which is why the follower keeps polling RPC as well.
type zmqSub struct {
	conn net.Conn
	r    *bufio.Reader
}

// maxZMQFrame bounds a frame: a block is at most 4 MB.
const maxZMQFrame = 32 << 20

var errZMQ = errors.New("zmq")

func dialZMQ(ctx context.Context, endpoint string, topics []string) (*zmqSub, error) {
	addr, ok := strings.CutPrefix(endpoint, "tcp://")
	if !ok {
		return nil, fmt.Errorf("%w: endpoint %q: want tcp://host:port", ErrBadInput, endpoint)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	z := &zmqSub{conn: conn, r: bufio.NewReaderSize(conn, 1<<20)}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if err := z.handshake(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("%w: %s: handshake: %v", errZMQ, endpoint, err)
	}
	for _, t := range topics {
		if err := z.send(0, append([]byte{1}, t...)); err != nil {
			conn.Close()
			return nil, err
		}
	}
	conn.SetDeadline(time.Time{})
	return z, nil
}

func (z *zmqSub) handshake() error {
	var g [64]byte
	g[0], g[9] = 0xFF, 0x7F
	g[10], g[11] = 3, 0 // ZMTP 3.0
	copy(g[12:], "NULL")
	if _, err := z.conn.Write(g[:]); err != nil {
		return err
	}
	var pg [64]byte
	if _, err := io.ReadFull(z.r, pg[:]); err != nil {
		return err
	}
	if pg[0] != 0xFF || pg[9] != 0x7F || pg[10] < 3 {
		return errors.New("the peer does not speak ZMTP 3")
	}
	if m := string(bytes.TrimRight(pg[12:32], "\x00")); m != "NULL" {
		return fmt.Errorf("the peer wants security mechanism %q; only NULL is supported", m)
	}
	ready := append([]byte{5}, "READY"...)
	ready = append(ready, 11)
	ready = append(ready, "Socket-Type"...)
	ready = binary.BigEndian.AppendUint32(ready, 3)
	ready = append(ready, "SUB"...)
	if err := z.send(4, ready); err != nil {
		return err
	}
	flags, body, err := z.frame()
	if err != nil {
		return err
	}
	if flags&4 == 0 || len(body) < 1 || int(body[0]) > len(body)-1 {
		return errors.New("the peer did not send READY")
	}
	if name := string(body[1 : 1+body[0]]); name != "READY" {
		return fmt.Errorf("the peer answered %s", name)
	}
	return nil
}

func (z *zmqSub) send(flags byte, body []byte) error {
	var h []byte
	if len(body) > 255 {
		h = binary.BigEndian.AppendUint64([]byte{flags | 2}, uint64(len(body)))
	} else {
		h = []byte{flags, byte(len(body))}
	}
	_, err := z.conn.Write(append(h, body...))
	return err
}

func (z *zmqSub) frame() (byte, []byte, error) {
	flags, err := z.r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	var n uint64
	if flags&2 != 0 {
		var b [8]byte
		if _, err := io.ReadFull(z.r, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	} else {
		c, err := z.r.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		n = uint64(c)
	}
	if n > maxZMQFrame {
		return 0, nil, fmt.Errorf("%w: frame of %d bytes", errZMQ, n)
	}
	body := make([]byte, n)
	_, err = io.ReadFull(z.r, body)
	return flags, body, err
}

// recv returns the next message's parts, skipping commands.
func (z *zmqSub) recv() ([][]byte, error) {
	var parts [][]byte
	for {
		flags, body, err := z.frame()
		if err != nil {
			return nil, err
		}
		if flags&4 != 0 {
			continue // a command (none is expected after the handshake)
		}
		parts = append(parts, body)
		if flags&1 == 0 {
			return parts, nil
		}
		if len(parts) > 16 {
			return nil, fmt.Errorf("%w: message of more than 16 parts", errZMQ)
		}
	}
}

func (z *zmqSub) close() error { return z.conn.Close() }

// zmqEndpoints are the publishers to subscribe to: endpoint → topics.
func (s *Server) zmqEndpoints(ctx context.Context) map[string][]string {
	out := map[string][]string{}
	z := s.cfg.ZMQ
	if z.Disable {
		return out
	}
	add := func(ep, topic string) {
		if ep != "" {
			out[ep] = append(out[ep], topic)
		}
	}
	add(z.RawBlock, "rawblock")
	add(z.HashBlock, "hashblock")
	if s.mempool != nil {
		add(z.RawTx, "rawtx")
	}
	if len(out) > 0 {
		return out
	}
	// Ask the node: Bitcoin Core lists its publishers; btcd has no such call.
	var ns []struct {
		Type    string `json:"type"`
		Address string `json:"address"`
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.rpc.Call(cctx, "getzmqnotifications", nil, &ns); err != nil {
		s.log.Info("no ZMQ notifications (btcd, or Core without -zmqpub*): following by polling", "poll_interval", s.cfg.PollInterval)
		return out
	}
	host := ""
	if u, err := url.Parse(s.rpc.Endpoint()); err == nil {
		host = u.Hostname()
	}
	for _, n := range ns {
		ep := n.Address
		if host != "" {
			ep = strings.Replace(ep, "tcp://0.0.0.0:", "tcp://"+host+":", 1)
			ep = strings.Replace(ep, "tcp://*:", "tcp://"+host+":", 1)
		}
		switch n.Type {
		case "pubrawblock":
			add(ep, "rawblock")
		case "pubhashblock":
			add(ep, "hashblock")
		case "pubrawtx":
			if s.mempool != nil {
				add(ep, "rawtx")
			}
		}
	}
	return out
}

// startZMQ subscribes to the node's publishers, each in its own goroutine
// that reconnects with a backoff.
func (s *Server) startZMQ(ctx context.Context, wg *sync.WaitGroup) {
	wg.Go(func() {
		for ep, topics := range s.zmqEndpoints(ctx) {
			wg.Go(func() { s.zmqLoop(ctx, ep, topics) })
		}
	})
}

func (s *Server) zmqLoop(ctx context.Context, ep string, topics []string) {
	wait := time.Second
	for ctx.Err() == nil {
		z, err := dialZMQ(ctx, ep, topics)
		if err != nil {
			s.log.Warn("zmq subscribe failed; polling covers meanwhile", "endpoint", ep, "err", err, "retry_in", wait)
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return
			}
			wait = min(2*wait, 30*time.Second)
			continue
		}
		s.log.Info("zmq subscribed", "endpoint", ep, "topics", topics)
		wait = time.Second
		stop := context.AfterFunc(ctx, func() { z.close() })
		for {
			parts, err := z.recv()
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("zmq connection lost", "endpoint", ep, "err", err)
				}
				break
			}
			if len(parts) < 2 {
				continue
			}
			s.zmqMessage(string(parts[0]), parts[1])
		}
		stop()
		z.close()
	}
}

// zmqMessage hands a notification on without blocking: when a queue is
// full the polling that runs anyway picks the change up.
func (s *Server) zmqMessage(topic string, body []byte) {
	switch topic {
	case "rawblock":
		select {
		case s.follow.raw <- rawArrival{raw: body, at: time.Now()}:
		default:
			s.follow.poke()
		}
	case "hashblock":
		s.follow.poke()
	case "rawtx":
		if s.mempool != nil {
			select {
			case s.mempool.txs <- body:
			default:
			}
		}
	}
}

func (f *follower) poke() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}
