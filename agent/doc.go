// Package agent is the resident KiwiStack daemon on an enrolled laptop: its
// state under /var/lib/kiwistack, one reconcile loop, and one controller per
// concern (certificate, tunnel, launchers, dispatcher, directory login, disk,
// Fleet). It reaches the operating system only through package platform and
// never touches a YubiKey: that is the enroller's job.
package agent
