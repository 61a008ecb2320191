package server

import (
	"fmt"
	"net/url"
)

// Webhook URLs carry credentials: user-info (https://user:pass@host), a
// token in the query (?token=…), or in the path (Slack's
// /services/T…/B…/secret, Discord's /api/webhooks/id/token). Anyone who
// holds one can post forged alerts to the receiver. So outside the
// configuration a webhook is named by its redacted form: /metrics (scraped
// into time-series stores that keep it), the log, the delivery errors
// kept in the queue, and /v1/status for a read key. Only an admin key sees
// the full URLs in /v1/status (admins can read the configuration anyway).

// redacted stands in for what was removed.
const redacted = "REDACTED"

// redactURL keeps a URL's scheme, host and port and replaces its
// user-info, path, query and fragment with REDACTED. A string that does
// not parse as a URL is redacted whole.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return redacted
	}
	out := &url.URL{Scheme: u.Scheme, Host: u.Host}
	if u.User != nil {
		out.User = url.User(redacted)
	}
	if u.Path != "" && u.Path != "/" || u.RawPath != "" || u.Opaque != "" {
		out.Path = "/" + redacted
	}
	if u.RawQuery != "" || u.ForceQuery {
		out.RawQuery = redacted
	}
	if u.Fragment != "" {
		out.Fragment = redacted
	}
	return out.String()
}

// webhookNames returns the redacted name of every webhook URL, in order;
// URLs that differ only in redacted parts get " #2", " #3", … in
// configuration order so that each keeps its own name (metrics series,
// status entries).
func webhookNames(urls []string) []string {
	names := make([]string, len(urls))
	seen := map[string]int{}
	for i, u := range urls {
		n := redactURL(u)
		seen[n]++
		if seen[n] > 1 {
			n = fmt.Sprintf("%s #%d", n, seen[n])
		}
		names[i] = n
	}
	return names
}

// redactErr hides the URL in an HTTP client error (*url.Error prints
// "Post \"https://user:pass@host/…\": …") behind name.
func redactErr(err error, name string) error {
	if ue, ok := err.(*url.Error); ok {
		return &url.Error{Op: ue.Op, URL: name, Err: ue.Err}
	}
	return err
}
