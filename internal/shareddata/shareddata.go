// Package shareddata locates the real public data sets (mainnet blocks,
// label files) that tests read in place from ../shared/data beside the
// repository.
package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the absolute path of ../shared/data relative to the module
// root, failing the test if it is missing.
func Dir(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			p := filepath.Join(d, "..", "shared", "data")
			if _, err := os.Stat(p); err != nil {
				t.Fatalf("shared data not found at %s: %v", p, err)
			}
			return p
		}
		if filepath.Dir(d) == d {
			t.Fatal("go.mod not found above " + wd)
		}
	}
}

// Path joins elements onto Dir.
func Path(t testing.TB, elem ...string) string {
	return filepath.Join(append([]string{Dir(t)}, elem...)...)
}

// BlocksDir returns a temporary directory holding a link named blk00000.dat
// to the shared file name, so a single framed file reads as a blocks/ dir.
func BlocksDir(t testing.TB, name string) string {
	t.Helper()
	d := t.TempDir()
	if err := os.Symlink(Path(t, "btc", "mainnet", name), filepath.Join(d, "blk00000.dat")); err != nil {
		t.Fatal(err)
	}
	return d
}
