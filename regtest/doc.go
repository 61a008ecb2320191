// Package regtest runs a private btcd regtest node for `cointrail demo
// --serve`: it finds the btcd binary, starts it in a directory of its own
// with random RPC credentials on a loopback port, and stops it again. Tests
// use internal/testnode, which shares the binary lookup.
package regtest
