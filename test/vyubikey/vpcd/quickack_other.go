//go:build !linux

package vpcd

import "net"

// quickAck is Linux-only (TCP_QUICKACK); elsewhere delayed ACKs stay on.
func quickAck(net.Conn) {}
