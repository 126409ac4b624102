// Package launchers owns the tenant's app catalog (seed "Desktop apps", C1)
// and its renderers: desktop entries, .app bundles and .lnk shortcuts,
// Chromium managed policy in JSON, plist and registry form, and the URL
// dispatcher's routing rules. Renderers are pure functions from data to bytes
// plus writers that take a root directory; nothing here runs a browser.
package launchers
