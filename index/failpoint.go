package index

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// Failpoints let the crash tests kill the process with SIGKILL at an exact
// moment of a write: COINTRAIL_FAILPOINT=name:n kills it the n-th time the
// named point is reached. Points: "block" (a block's columns written, its
// batch not committed), "commit" (just after a batch commit), "rollback"
// (rollback committed, columns not yet recovered). Unset, a point costs one
// atomic load.
var failpoint struct {
	name string
	left atomic.Int64
}

func init() {
	v := os.Getenv("COINTRAIL_FAILPOINT")
	name, n, ok := strings.Cut(v, ":")
	if !ok {
		return
	}
	k, err := strconv.ParseInt(n, 10, 64)
	if err != nil || k <= 0 {
		return
	}
	failpoint.name = name
	failpoint.left.Store(k)
}

func hit(name string) {
	if failpoint.name == name && failpoint.left.Add(-1) == 0 {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
