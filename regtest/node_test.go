package regtest

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"syscall"
	"testing"
)

// TestStartStop: a started node answers at genesis with the credentials it
// reports, and after Stop its process is gone.
func TestStartStop(t *testing.T) {
	if testing.Short() {
		t.Skip("starts btcd")
	}
	bin, err := FindBtcd()
	if err != nil {
		t.Fatal(err)
	}
	n, err := Start(context.Background(), bin, t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	ctx := context.Background()
	if net, err := n.Client().Network(ctx); err != nil || net != "regtest" {
		t.Fatalf("network %q, %v", net, err)
	}
	if h, err := n.Client().BlockCount(ctx); err != nil || h != 0 {
		t.Fatalf("height %d, %v: want a fresh chain", h, err)
	}
	n.Stop()
	if err := syscall.Kill(n.PID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("btcd pid %d still there after Stop: %v", n.PID, err)
	}
	n.Stop() // a second Stop does nothing
}

// TestFindBtcdMissing: without btcd anywhere the error says how to install it.
func TestFindBtcdMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	_, err := FindBtcd()
	if !errors.Is(err, ErrNoBtcd) || !strings.Contains(err.Error(), InstallHint) {
		t.Fatalf("got %v, want ErrNoBtcd naming %q", err, InstallHint)
	}
}
