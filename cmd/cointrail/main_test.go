package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// bin is the cointrail binary the end-to-end tests run, built once.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cointrail-e2e-")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "cointrail")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		panic("go build: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// run runs cointrail with args and env, returning stdout, stderr and the exit error.
func run(t testing.TB, env []string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// mustRun runs cointrail and fails the test on a non-zero exit.
func mustRun(t testing.TB, args ...string) string {
	t.Helper()
	out, errOut, err := run(t, nil, args...)
	if err != nil {
		t.Fatalf("cointrail %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

func killedBySIGKILL(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

func sharedData(t testing.TB, elem ...string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(append([]string{"..", "..", "..", "shared", "data"}, elem...)...))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("shared data: %v", err)
	}
	return p
}

// mainnetBlocks returns a blocks/ dir linking the first 4,313 real mainnet blocks.
func mainnetBlocks(t testing.TB) string {
	d := t.TempDir()
	if err := os.Symlink(sharedData(t, "btc", "mainnet", "blk00000-heights-0-4312.dat"), filepath.Join(d, "blk00000.dat")); err != nil {
		t.Fatal(err)
	}
	return d
}
