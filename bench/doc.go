// Package bench measures cointrail against the baselines its issues name:
// a decode-only pass over the same blk files for ingest, PostgreSQL for
// tracing. `cointrail bench` drives it; BENCHMARKS.md records the results.
package bench
