// Package failpoint lets crash tests kill the process with SIGKILL at an
// exact moment of a write: COINTRAIL_FAILPOINT=name:n kills it the n-th time
// the named point is reached. Unset, a point costs one comparison.
//
// Points: "block" (index: a block's columns written, its batch not
// committed), "tails" (index: a batch's new records durable, its changes to
// committed records not yet written), "marks" (index: those changes written,
// not yet synced), "commit" (index: just after a batch commit), "rollback"
// (index: rollback committed, columns not yet recovered), "undo" (index:
// recovery's undo of marks and heads written, not yet synced), "recovered"
// (index: recovery done, the tails cut off), "table-half", "table-synced",
// "table-renamed", "table-rebuilt" (index: a hash-table doubling half
// written, its new file durable, renamed into place, the rename durable), "serve-cases" (a
// block connected, its case batch not committed), "serve-alerts" (a block's
// alerts committed, not delivered), "serve-delivered" (a webhook accepted an
// alert, its queue row not yet deleted).
package failpoint

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

var armed struct {
	name string
	left atomic.Int64
}

func init() {
	name, n, ok := strings.Cut(os.Getenv("COINTRAIL_FAILPOINT"), ":")
	if !ok {
		return
	}
	k, err := strconv.ParseInt(n, 10, 64)
	if err != nil || k <= 0 {
		return
	}
	armed.name = name
	armed.left.Store(k)
}

// hook, set by in-process tests (SetHook), sees every point reached.
var hook func(name string)

// SetHook calls f at every point reached until SetHook(nil); for tests that
// act at a point in the same process (a simulated power cut), not by a kill.
func SetHook(f func(name string)) { hook = f }

// Hit marks reaching the point called name.
func Hit(name string) {
	if hook != nil {
		hook(name)
	}
	if armed.name == name && armed.left.Add(-1) == 0 {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
