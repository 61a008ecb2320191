// Package cli implements cointrail's commands. Each file holds one command
// or a family of them; cmd/cointrail only calls Main.
package cli
