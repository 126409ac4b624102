// Package dispatchjson is the versioned --json output of `kiwistack-agent
// dispatch --explain`: scripts and support tools depend on it, so fields
// are only ever added, and a breaking change gets a new schema name. It
// holds types only, no logic.
package dispatchjson

// SchemaExplain names the shape of `dispatch --explain --json`.
const SchemaExplain = "kiwistack.dispatch.explain/v1"

// Explain is where a URL would go, and why.
type Explain struct {
	Schema string `json:"schema"`
	// Input is the URL as given.
	Input string `json:"input"`
	// Target is "launcher", "previous-browser" or "refused".
	Target string `json:"target"`
	// Launcher is the launcher's id, when the URL is one of the tenant's
	// apps (also for a native app, which gets no app window).
	Launcher string `json:"launcher,omitempty"`
	// LauncherName is that launcher's display name.
	LauncherName string `json:"launcher_name,omitempty"`
	// URL is what would be opened: normalised for a launcher.
	URL string `json:"url,omitempty"`
	// Argv is the exact argv that would be executed (no shell); absent when
	// refused or when no previous browser is recorded.
	Argv []string `json:"argv,omitempty"`
	// Reason is a stable code: tenant-app, native-app, no-app-browser,
	// tenant-host-no-app, other-host, scheme, userinfo, port, ambiguous,
	// idn-host, dot-segment, unparseable, empty, option-like,
	// control-characters, too-long, loop.
	Reason string `json:"reason"`
	// Explanation says the same for people.
	Explanation string `json:"explanation"`
	// Tenant and Routing say which catalog decided.
	Tenant  string `json:"tenant"`
	Routing string `json:"routing"`
}
