// Package chain holds what cointrail knows about Bitcoin itself, independent of
// any index: networks and their parameters, output script classification and
// address encoding, and the sources blocks come from (a Bitcoin Core blocks/
// directory, a node's JSON-RPC, raw files given to `decode`).
package chain
