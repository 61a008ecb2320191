// Command cointrail ingests the Bitcoin chain into an embedded index and
// follows stolen funds through it. See README.md.
package main

import (
	"os"

	"github.com/cointrail/cointrail/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
