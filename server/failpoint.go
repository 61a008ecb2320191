package server

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// Failpoints let the crash tests kill the server with SIGKILL at an exact
// moment: COINTRAIL_FAILPOINT=name:n kills it the n-th time the named point
// is reached (the index reads the same variable for its own points).
// Points: "serve-cases" (a block connected to the index, its case batch not
// committed), "serve-alerts" (a block's alerts committed, not delivered),
// "serve-delivered" (a webhook accepted an alert, its queue row not yet
// deleted).
var failpoint struct {
	name string
	left atomic.Int64
}

func init() {
	name, n, ok := strings.Cut(os.Getenv("COINTRAIL_FAILPOINT"), ":")
	if !ok || !strings.HasPrefix(name, "serve-") {
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
