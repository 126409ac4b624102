package tunnel

import (
	"context"
	"fmt"

	"github.com/godbus/dbus/v5"
)

const (
	nmName     = "org.freedesktop.NetworkManager"
	nmPath     = "/org/freedesktop/NetworkManager"
	nmSettings = "/org/freedesktop/NetworkManager/Settings"
)

// NetworkManagerRunning reports whether NetworkManager owns its name on
// the system bus.
func NetworkManagerRunning() bool {
	c, err := dbus.SystemBus()
	if err != nil {
		return false
	}
	var has bool
	if err := c.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, nmName).Store(&has); err != nil {
		return false
	}
	return has
}

// nmBackend hands the tunnel to NetworkManager as an unsaved connection.
type nmBackend struct {
	name       string
	connection dbus.ObjectPath
	active     dbus.ObjectPath
}

func (*nmBackend) Name() string { return "networkmanager" }

func (n *nmBackend) Up(ctx context.Context, s Spec) error {
	if n.active != "" {
		return nil
	}
	settings, err := NMSettings(s, nmUUID(s.Interface))
	if err != nil {
		return err
	}
	c, err := dbus.SystemBus()
	if err != nil {
		return fmt.Errorf("networkmanager: %w", err)
	}
	var conn dbus.ObjectPath
	if err := c.Object(nmName, nmSettings).CallWithContext(ctx, "org.freedesktop.NetworkManager.Settings.AddConnectionUnsaved", 0, settings).Store(&conn); err != nil {
		return fmt.Errorf("networkmanager: adding the connection: %w", err)
	}
	var active dbus.ObjectPath
	if err := c.Object(nmName, nmPath).CallWithContext(ctx, "org.freedesktop.NetworkManager.ActivateConnection", 0,
		conn, dbus.ObjectPath("/"), dbus.ObjectPath("/")).Store(&active); err != nil {
		return fmt.Errorf("networkmanager: activating the connection: %w", err)
	}
	n.name, n.connection, n.active = s.Interface, conn, active
	return nil
}

func (n *nmBackend) Down() error {
	if n.connection == "" {
		return nil
	}
	c, err := dbus.SystemBus()
	if err != nil {
		return fmt.Errorf("networkmanager: %w", err)
	}
	if err := c.Object(nmName, n.connection).Call("org.freedesktop.NetworkManager.Settings.Connection.Delete", 0).Err; err != nil {
		return fmt.Errorf("networkmanager: deleting the connection: %w", err)
	}
	n.connection, n.active = "", ""
	return nil
}

// State reads the kernel interface NetworkManager made, through wgctrl.
func (n *nmBackend) State() (PeerState, bool, error) {
	if n.active == "" {
		return PeerState{}, false, nil
	}
	return peerState(n.name)
}
