// Package safetext renders untrusted text (hostnames, file contents, URLs
// from elsewhere) for error messages and logs: shortened, and with anything
// that is not printable ASCII replaced, so hostile input never reaches a
// terminal or a log verbatim. It owns nothing else.
package safetext

// Max is how many characters of the input Printable keeps.
const Max = 40

// Printable returns s shortened to Max characters, each byte outside
// printable ASCII replaced by '?', with "…" appended when s was longer.
func Printable(s string) string {
	var b []byte
	for i := 0; i < len(s) && len(b) < Max; i++ {
		c := s[i]
		if c < ' ' || c > '~' {
			c = '?'
		}
		b = append(b, c)
	}
	if len(s) > Max {
		b = append(b, "…"...)
	}
	return string(b)
}
