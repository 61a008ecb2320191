package report

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/chromedp/chromedp"
)

// ErrNoBrowser: PDF export found no Chromium or Chrome to print with.
var ErrNoBrowser = errors.New("report: PDF export needs Chromium or Chrome (Debian: apt-get install chromium; or set COINTRAIL_CHROMIUM to its path); --format html writes the same report for any browser's print dialog")

// Browser finds the Chromium to print with: $COINTRAIL_CHROMIUM, else the
// first of the usual names on PATH.
func Browser(getenv func(string) string) (string, error) {
	if p := getenv("COINTRAIL_CHROMIUM"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			return "", fmt.Errorf("%w: COINTRAIL_CHROMIUM=%s: %v", ErrNoBrowser, p, err)
		}
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome", "headless_shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoBrowser
}

// BrowserContext starts headless Chromium at path with a throw-away
// profile in dir and returns a context for one tab (chromedp drives it
// over the DevTools protocol: a maintained client, not ours to write).
// Cancel stops the browser.
func BrowserContext(ctx context.Context, path, dir string) (context.Context, context.CancelFunc) {
	// TMPDIR too: Chromium puts its singleton socket in a temporary
	// directory of its own that it leaves behind when it is stopped.
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.UserDataDir(filepath.Join(dir, "profile")), chromedp.Env("TMPDIR="+dir))
	if os.Geteuid() == 0 {
		// Chromium refuses to start its sandbox as root (containers, CI).
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tctx, cancelTab := chromedp.NewContext(actx)
	return tctx, func() { cancelTab(); cancelAlloc() }
}

// PDF prints an HTML report (HTML's output) to w as PDF through the
// browser at path: the pages a browser's print dialog makes, at the
// report's own paper size (CSS @page) with its page numbers.
func PDF(ctx context.Context, w io.Writer, html []byte, path string) error {
	dir, err := os.MkdirTemp("", "cointrail-pdf-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "report.html")
	if err := os.WriteFile(file, html, 0o600); err != nil {
		return err
	}
	tctx, cancel := BrowserContext(ctx, path, dir)
	defer cancel()
	if err := chromedp.Do(tctx, chromedp.Navigate("file://"+file)); err != nil {
		return fmt.Errorf("report: opening the report in %s: %w", path, err)
	}
	pdf, err := chromedp.Run(tctx, chromedp.PrintToPDF(chromedp.PDFPreferCSSPageSize(), chromedp.PDFPrintBackground()))
	if err != nil {
		return fmt.Errorf("report: printing the PDF in %s: %w", path, err)
	}
	_, err = w.Write(pdf)
	return err
}
