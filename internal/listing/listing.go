// Package listing writes what the list commands of kiwistack-api print: a
// JSON array of the entries, or a table of them.
package listing

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// Write writes entries to w: with asJSON an indented JSON array, otherwise a
// table whose first line is header (tab-separated) and whose rows row writes,
// one line (tab-separated, ending in a newline) an entry. If empty is not ""
// and there are no entries, the table is replaced by the line empty.
func Write[T any](w io.Writer, asJSON bool, entries []T, empty, header string, row func(w io.Writer, e T)) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(entries)
	}
	if empty != "" && len(entries) == 0 {
		fmt.Fprintln(w, empty)
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, e := range entries {
		row(tw, e)
	}
	return tw.Flush()
}
