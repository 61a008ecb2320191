//go:build !linux

package kv

import "golang.org/x/sys/unix"

// Without OFD locks a traditional record lock stands in: it still excludes
// other processes, not a writer in this one.
const setLockCmd = unix.F_SETLK
