package kv

import "golang.org/x/sys/unix"

const setLockCmd = unix.F_OFD_SETLK
