// Package pattern recognises transaction shapes that matter to tracing and
// clustering: CoinJoins (Wasabi 1 and 2, Whirlpool, JoinMarket and a generic
// equal-output rule), peel-chain steps, consolidations and fan-outs. It is
// the one implementation both the taint engine and clustering use (clustering
// must not merge the inputs of a CoinJoin). Detect looks at a TxView only, so
// it works the same on the index, on a block being ingested and in tests; the
// thresholds are constants documented in docs/taint-models.md.
package pattern
