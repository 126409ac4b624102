package pcsc

import (
	"bytes"
	"fmt"
	"strings"
)

// Scope is the dwScope argument of SCardEstablishContext.
type Scope uint32

// Scopes of a PC/SC context.
const (
	ScopeUser   Scope = 0 // SCARD_SCOPE_USER
	ScopeSystem Scope = 2 // SCARD_SCOPE_SYSTEM, what piv-go uses
)

// ShareMode is the dwShareMode argument of SCardConnect.
type ShareMode uint32

// Share modes of a card connection.
const (
	ShareExclusive ShareMode = 1 // SCARD_SHARE_EXCLUSIVE: no other application may connect
	ShareShared    ShareMode = 2 // SCARD_SHARE_SHARED
)

// Protocol is a card transmission protocol, as asked for in SCardConnect and
// answered as the active protocol.
type Protocol uint32

// Transmission protocols.
const (
	ProtocolT0  Protocol = 1                       // SCARD_PROTOCOL_T0
	ProtocolT1  Protocol = 2                       // SCARD_PROTOCOL_T1, what piv-go uses
	ProtocolAny          = ProtocolT0 | ProtocolT1 // SCARD_PROTOCOL_ANY
)

// Disposition says what happens to the card when a transaction ends or the
// connection closes.
type Disposition uint32

// Card dispositions.
const (
	LeaveCard   Disposition = 0 // SCARD_LEAVE_CARD
	ResetCard   Disposition = 1 // SCARD_RESET_CARD
	UnpowerCard Disposition = 2 // SCARD_UNPOWER_CARD
)

// Context is an established PC/SC context (SCARDCONTEXT). It is not safe for
// concurrent use; release it with Release.
type Context struct {
	h handle
}

// EstablishContext loads the PC/SC library on first use and establishes a
// context with the resource manager (pcscd on Linux).
func EstablishContext(scope Scope) (*Context, error) {
	h, err := establishContext(scope)
	if err != nil {
		return nil, fmt.Errorf("establishing pc/sc context: %w", err)
	}
	return &Context{h: h}, nil
}

// Release releases the context. Cards connected through it must be
// disconnected first.
func (c *Context) Release() error {
	if err := releaseContext(c.h); err != nil {
		return fmt.Errorf("releasing pc/sc context: %w", err)
	}
	return nil
}

// ListReaders returns the names of the readers the resource manager knows.
// Where the library reports "no readers available" as an error (pcsc-lite
// does, PCSC.framework does not), it returns an empty list instead, as
// piv-go does.
func (c *Context) ListReaders() ([]string, error) {
	readers, err := listReaders(c.h)
	if err != nil {
		return nil, fmt.Errorf("listing readers: %w", err)
	}
	return readers, nil
}

// Card is a connection to the card in one reader (SCARDHANDLE). It is not
// safe for concurrent use; close it with Disconnect.
type Card struct {
	h        handle
	protocol Protocol
}

// Connect connects to the card in the named reader. With no card in the
// reader the error is [ErrNoSmartcard]; with another application holding the
// card exclusively it is [ErrSharingViolation].
func (c *Context) Connect(reader string, mode ShareMode, protocols Protocol) (*Card, error) {
	if strings.IndexByte(reader, 0) >= 0 {
		return nil, fmt.Errorf("connecting to reader %q: name contains a NUL byte", reader)
	}
	h, active, err := connect(c.h, reader, mode, protocols)
	if err != nil {
		return nil, fmt.Errorf("connecting to reader %q: %w", reader, err)
	}
	return &Card{h: h, protocol: active}, nil
}

// ActiveProtocol is the protocol the reader and card agreed on in Connect.
func (c *Card) ActiveProtocol() Protocol { return c.protocol }

// Disconnect closes the connection, leaving the card as d says.
func (c *Card) Disconnect(d Disposition) error {
	if err := disconnect(c.h, d); err != nil {
		return fmt.Errorf("disconnecting card: %w", err)
	}
	return nil
}

// BeginTransaction gives this connection exclusive use of the card until
// EndTransaction.
func (c *Card) BeginTransaction() error {
	if err := beginTransaction(c.h); err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	return nil
}

// EndTransaction ends the transaction begun with BeginTransaction, leaving
// the card as d says.
func (c *Card) EndTransaction(d Disposition) error {
	if err := endTransaction(c.h, d); err != nil {
		return fmt.Errorf("ending transaction: %w", err)
	}
	return nil
}

// MaxResponse is the largest response Transmit accepts: an extended-length
// APDU's 64 KiB of data plus header, length fields and status word.
const MaxResponse = maxBufferSizeExtended

// Transmit sends one command APDU under the card's active protocol and
// returns the response APDU, status word included.
func (c *Card) Transmit(command []byte) ([]byte, error) {
	if len(command) == 0 {
		return nil, fmt.Errorf("transmitting: empty command")
	}
	resp, err := transmit(c.h, c.protocol, command)
	if err != nil {
		return nil, fmt.Errorf("transmitting: %w", err)
	}
	return resp, nil
}

// parseMultiString splits a PC/SC multi-string (names each ended by a NUL,
// the list ended by an empty name) into its names. It stops at the first
// empty name; a last name missing its NUL still counts.
func parseMultiString(b []byte) []string {
	var names []string
	for len(b) > 0 {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			i = len(b)
		}
		if i == 0 {
			break
		}
		names = append(names, string(b[:i]))
		b = b[min(i+1, len(b)):]
	}
	return names
}
