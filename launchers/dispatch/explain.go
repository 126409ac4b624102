package dispatch

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/kiwistack/endpoint/launchers/dispatch/dispatchjson"
)

// ExplainJSON returns the versioned JSON form of a decision for raw.
func ExplainJSON(raw string, cfg Config, d Decision) dispatchjson.Explain {
	e := dispatchjson.Explain{
		Schema: dispatchjson.SchemaExplain, Input: raw, Target: string(d.Target),
		Launcher: d.Launcher, URL: d.URL, Argv: d.Argv, Reason: d.Reason, Explanation: d.Explanation,
		Tenant: cfg.Catalog.Tenant, Routing: string(cfg.Catalog.Routing),
	}
	if l := cfg.Catalog.Launcher(d.Launcher); l != nil {
		e.LauncherName = l.Name
	}
	return e
}

// Explain writes where raw would go and why, without opening anything: a
// few lines for people, or dispatchjson.Explain as JSON.
func Explain(w io.Writer, raw string, cfg Config, asJSON bool) error {
	d := Decide(raw, cfg)
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(ExplainJSON(raw, cfg, d))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", strconv.Quote(raw))
	switch d.Target {
	case ToLauncher:
		fmt.Fprintf(&b, "  opens in the %s launcher's app window (%s)\n", d.Launcher, cfg.Catalog.Launcher(d.Launcher).Name)
	case ToPrevious:
		fmt.Fprintf(&b, "  goes to the previous default browser\n")
	case Refused:
		fmt.Fprintf(&b, "  is refused: nothing opens\n")
	}
	fmt.Fprintf(&b, "  why: %s [%s]\n", d.Explanation, d.Reason)
	if len(d.Argv) > 0 {
		q := make([]string, len(d.Argv))
		for i, a := range d.Argv {
			q[i] = strconv.Quote(a)
		}
		fmt.Fprintf(&b, "  would exec (no shell): %s\n", strings.Join(q, " "))
	} else if d.Target == ToPrevious {
		fmt.Fprintf(&b, "  next: record the previous browser (--previous-browser PATH) to see its command\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
