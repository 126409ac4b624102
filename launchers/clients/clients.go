// Package clients configures the two native clients of the catalog (seed
// "Desktop apps", C4): Element Desktop, pointed at the tenant's Matrix
// homeserver, and the Nextcloud desktop client, pointed at the tenant's
// Files server. It renders configuration and command lines from a validated
// catalog; it installs nothing and writes no file.
//
// Neither upstream client reads a system-wide configuration file on Linux:
//
//   - Element Desktop reads config.json from the build (webapp.asar), then
//     the per-user file in its userData directory ($XDG_CONFIG_HOME/Element),
//     or the file named by --config / ELEMENT_DESKTOP_CONFIG_JSON
//     (element-desktop src/electron-main.ts, loadLocalConfigFile; README,
//     "User-specified config.json"). A machine-wide location is an open
//     request (element-hq/element-web#32351). So the agent writes
//     ElementConfigPath and the Chat launcher starts Element with --config.
//   - The Nextcloud client keeps its settings per user
//     (QStandardPaths::AppConfigLocation, ~/.config/Nextcloud/nextcloud.cfg);
//     machine-wide policy is read only from the Windows registry
//     (src/libsync/configfile.cpp, ConfigFile::getPolicySetting:
//     HKLM\Software\Policies\Nextcloud GmbH\Nextcloud). Its account wizard
//     takes the server URL from --overrideserverurl (doc/
//     wizardaccountsetupcommandline.rst), so the Files Sync launcher passes
//     it there.
package clients

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/kiwistack/endpoint/launchers/catalog"
)

// ElementConfigPath is where the agent puts Element Desktop's config.json
// on Linux; the Chat launcher passes it with --config.
const ElementConfigPath = "/etc/kiwistack/element-desktop/config.json"

// ElementCommand is Element Desktop's command on Linux (the upstream .deb
// links /usr/bin/element-desktop to /opt/Element/element-desktop).
const ElementCommand = "element-desktop"

// NextcloudCommand is the Nextcloud desktop client's command on Linux.
const NextcloudCommand = "nextcloud"

// elementConfig is the part of Element's config.json the agent sets.
type elementConfig struct {
	DefaultServerConfig struct {
		Homeserver struct {
			BaseURL string `json:"base_url"`
		} `json:"m.homeserver"`
	} `json:"default_server_config"`
}

// ElementConfig returns Element Desktop's config.json for launcher l (Kind
// Element): the homeserver is l.URL. Users can still choose another
// homeserver; locking that (disable_custom_urls) is a tenant decision the
// catalog does not carry yet.
func ElementConfig(l *catalog.Launcher) ([]byte, error) {
	if l.Kind != catalog.Element {
		return nil, fmt.Errorf("launcher %s is not Element Desktop", l.ID)
	}
	var c elementConfig
	c.DefaultServerConfig.Homeserver.BaseURL = l.URL
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("encoding element config: %w", err)
	}
	return b.Bytes(), nil
}

// ElementArgv is the command line of the Chat launcher.
func ElementArgv() []string {
	return []string{ElementCommand, "--config=" + ElementConfigPath}
}

// NextcloudArgv is the command line of the Files Sync launcher for the
// Files launcher l: the client, with l.URL as the account wizard's server.
func NextcloudArgv(l *catalog.Launcher) []string {
	return []string{NextcloudCommand, "--overrideserverurl", l.URL}
}
