// Package launchers owns the tenant's app catalog (seed "Desktop apps", C1)
// and its renderers: desktop entries, .app bundles and .lnk shortcuts,
// Chromium managed policy in JSON, plist and registry form, and the URL
// dispatcher's routing rules and registration. Renderers are pure functions
// from data to bytes plus writers that take a root directory. This package
// holds the entry points the CLI calls: Render, Explain, and Dispatch (with
// DispatchApp, its macOS form, which takes the URL from an Apple Event), the
// installed dispatcher, which is the one place that starts a browser: it
// hands its own process to the browser it chose, never through a shell.
package launchers
