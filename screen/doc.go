// Package screen rates the risk of an address or a transaction the way an
// exchange checks every deposit: direct exposure (the address, its
// cluster, or the transaction carries a label) and indirect exposure (the
// share of the value it received that came, within N hops back, from
// labelled sources, apportioned by the taint package's backward haircut
// trace), turned into a risk level by a configurable policy of category
// rules. Screen does one target, ScreenCSV a file of them; a Screener loads
// the labels once and screens many. The rules, the policy format and the
// report are documented in docs/screening.md.
package screen
