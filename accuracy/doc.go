// Package accuracy scores traces and clusterings against a simulator's
// ground truth: which outputs really hold stolen coins and how much reached
// each service. docs/accuracy.md reports the scores per taint model.
package accuracy
