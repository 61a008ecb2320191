package labels

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Label files come from third parties, and their text ends up on an
// investigator's terminal, in CSV opened by spreadsheets and in reports. A
// newline in a label forges an extra output line, an ESC starts a terminal
// escape sequence (retitling the window, rewriting what is on screen) and a
// bidi override reverses the display order of what follows (a different
// address seems to be shown). So import refuses such characters in every
// text field (checkText), and every text output escapes them anyway
// (Escape), for labels stored before this check or text from elsewhere.

// unsafeRune reports a character no label text may hold: C0 and C1 controls
// (tab and newline included), DEL, the bidi embedding, override and isolate
// controls, the line and paragraph separators, and the replacement for
// invalid UTF-8.
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	case r == 0x2028, r == 0x2029, r == 0xfeff:
		return true
	}
	return false
}

// checkText explains why value may not be stored as text field field, or
// returns "" when it may.
func checkText(field, value string) string {
	for i, r := range value {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(value[i:]); n == 1 {
				return fmt.Sprintf("%s is not valid UTF-8 (byte %d)", field, i+1)
			}
		}
		if unsafeRune(r) {
			return fmt.Sprintf("%s contains the control character U+%04X at byte %d", field, r, i+1)
		}
	}
	return ""
}

// Printable reports whether s is valid UTF-8 free of the characters
// import refuses in label text (see unsafeRune), so that other one-line
// names (case names, API key names) follow the same rule.
func Printable(s string) bool { return checkText("", s) == "" }

// Escape renders s for a text output (terminal, tab-separated table, CSV
// cell): every character checkText refuses, and every byte of invalid
// UTF-8, becomes a visible escape (\n, \t, \x1b, \u202e), so no control
// character or terminal escape sequence reaches the reader. Other text,
// non-ASCII letters included, is unchanged; a string without such
// characters is returned as is.
func Escape(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || unsafeRune(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x80 && unsafeRune(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
