// Package notes keeps an investigator's annotations of cases, addresses
// and transactions in the index's store. A note is free text with an
// author and a time; unlike a label it never changes attribution, so
// writing "probably the thief's change" on an address renames nothing and
// moves no trace's stop. The key layout is in notes.md.
package notes
