// Package report renders trace results for people and other tools: a text
// summary, CSV of the tainted outputs, GraphML for Gephi and Maltego, and a
// self-contained HTML report with a flow graph. Several models' results of
// the same seeds render side by side. Every renderer is deterministic.
package report
