// Package rodir gives tests a data directory nothing can be written to, and
// a record of a directory's files to show that nothing was.
//
// Tests run as root, and root writes through permission bits: only a
// read-only mount makes writing impossible. Mount bind-mounts a directory
// read-only when it runs as root and removes the write bits otherwise
// (which does stop every other user); Chmod removes the write bits in
// either case, which cointrail honours as "read-only" (index.Writable) even
// where the kernel would let root write — there the record is the proof.
package rodir

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// Mount returns a view of dir that cannot be written: a read-only bind
// mount of it when running as root (unmounted at cleanup), else dir itself
// with its write bits removed (restored at cleanup). It skips the test
// only when root cannot mount.
func Mount(t testing.TB, dir string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		return Chmod(t, dir)
	}
	view := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(view, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount(dir, view, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
		t.Skipf("cannot bind-mount %s read-only (%v): as root, permission bits do not stop writes, so only a read-only mount proves nothing is written", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(view, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", view, err)
		}
	})
	if err := syscall.Mount("", view, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
		t.Skipf("cannot remount %s read-only (%v): as root, only a read-only mount proves nothing is written", view, err)
	}
	probe := filepath.Join(view, ".rodir-probe")
	if err := os.WriteFile(probe, nil, 0o644); !errors.Is(err, syscall.EROFS) {
		os.Remove(probe)
		t.Fatalf("%s is mounted read-only, yet writing a file there gave %v", view, err)
	}
	return view
}

// Chmod removes every write bit under dir (`chmod -R a-w`), restores the
// owner's at cleanup (so that the test's temporary directory can go), and
// returns dir.
func Chmod(t testing.TB, dir string) string {
	t.Helper()
	chmod := func(fn func(fs.FileMode) fs.FileMode) {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.Type()&fs.ModeSymlink != 0 {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			return os.Chmod(p, fn(fi.Mode().Perm()))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	chmod(func(m fs.FileMode) fs.FileMode { return m &^ 0o222 })
	t.Cleanup(func() { chmod(func(m fs.FileMode) fs.FileMode { return m | 0o200 }) })
	return dir
}

// Files is what Record found under a directory: per relative path, its
// type, permissions, size, modification time and, for a file, the SHA-256
// of its content.
type Files map[string]string

// Record lists every directory and file under dir.
func Record(t testing.TB, dir string) Files {
	t.Helper()
	out := Files{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		s := fmt.Sprintf("%v size %d mtime %d", fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h := sha256.Sum256(b)
			s += " sha256 " + hex.EncodeToString(h[:])
		}
		out[rel] = s
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Diff lists what differs between two records of the same directory.
func (a Files) Diff(b Files) []string {
	var d []string
	for p, s := range a {
		switch bs, ok := b[p]; {
		case !ok:
			d = append(d, "removed "+p)
		case bs != s:
			d = append(d, fmt.Sprintf("changed %s: %s -> %s", p, s, bs))
		}
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			d = append(d, "added "+p)
		}
	}
	slices.Sort(d)
	return d
}
