// Package sim generates synthetic but consensus-valid Bitcoin regtest chains
// for demos, tests and benchmarks of cointrail: background traffic shaped
// like mainnet (payments with change, exchange batches and sweeps, hot and
// cold wallets, mining pool payouts, Wasabi 2, Whirlpool and JoinMarket
// CoinJoins, peel chains, every standard script type) and, optionally, a
// heist scenario whose ground truth (which outputs really hold stolen coins,
// where they arrive, who owns every address) is written beside the chain so
// that tracing and clustering can be scored.
//
// Everything is derived from Config.Seed: keys, amounts, timing and the order
// of transactions, so the same Config gives byte-identical blocks, truth and
// labels. Blocks go either into a Bitcoin Core style blocks/ directory
// (WriteDir) or to a live node by submitblock (Submit). Generation streams:
// each block is built, signed, written and forgotten, and every actor keeps a
// bounded pool of coins, so memory stays flat however many transactions are
// asked for. docs/simulator.md describes the model and its distributions.
package sim
