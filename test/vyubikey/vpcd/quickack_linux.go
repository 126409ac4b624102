package vpcd

import (
	"net"
	"syscall"
)

// quickAck turns off delayed ACKs on the connection until the next read.
// vpcd writes a message's length and payload in two sends; with Nagle on
// its side and a delayed ACK on ours each message would wait ~40 ms.
// Linux resets TCP_QUICKACK after it is used, so it is set before every
// read.
func quickAck(conn net.Conn) {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return
	}
	raw.Control(func(fd uintptr) {
		syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
}
