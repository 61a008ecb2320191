// Package report renders trace results for people and other tools: a text
// summary, CSV of the tainted outputs, GraphML for Gephi and Maltego, and a
// self-contained HTML report with a flow graph, and that report as PDF
// through a local Chromium. Several models' results of the same seeds
// render side by side. Every renderer is deterministic: the HTML report's
// one varying field, its generation time, is an option.
//
// The HTML report is laid out for print (flowsvg.go cuts the flow graph
// into page-sized pieces; html.go's print CSS sets the paper and page
// numbers), because investigators file it as evidence; print_test.go
// checks that in Chromium for every paper.
package report
