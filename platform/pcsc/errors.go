package pcsc

import "fmt"

// ReturnCode is a PC/SC return code other than SCARD_S_SUCCESS, as an error,
// in the spirit of syscall.Errno. Codes are 32-bit values on every platform:
// pcsc-lite returns them in a 64-bit long and PCSC.framework in an int32_t,
// and this package normalises both to the unsigned 32-bit value the headers
// spell (0x8010000C, never -2146435060). Test for a code with errors.Is
// against the Err constants, or get it with errors.As.
type ReturnCode uint32

// Return codes callers decide on.
const (
	ErrInsufficientBuffer ReturnCode = 0x80100008 // SCARD_E_INSUFFICIENT_BUFFER
	ErrUnknownReader      ReturnCode = 0x80100009 // SCARD_E_UNKNOWN_READER
	ErrSharingViolation   ReturnCode = 0x8010000B // SCARD_E_SHARING_VIOLATION: another application holds the card
	ErrNoSmartcard        ReturnCode = 0x8010000C // SCARD_E_NO_SMARTCARD: the reader is empty
	ErrNoService          ReturnCode = 0x8010001D // SCARD_E_NO_SERVICE: the resource manager (pcscd) is not running
	ErrNoReadersAvailable ReturnCode = 0x8010002E // SCARD_E_NO_READERS_AVAILABLE
	ErrRemovedCard        ReturnCode = 0x80100069 // SCARD_W_REMOVED_CARD
)

// Error returns the description of the code, worded as piv-go words it so
// that errors read the same whichever binding a build uses.
func (c ReturnCode) Error() string {
	if msg, ok := messages[c]; ok {
		return msg
	}
	return fmt.Sprintf("unknown pcsc return code 0x%08x", uint32(c))
}

// messages describe the return codes of Microsoft's SCard API, which
// pcsc-lite and PCSC.framework share. The wording is piv-go's (itself taken
// from Microsoft's documentation); TestMessagesMatchPivGo keeps the two equal.
var messages = map[ReturnCode]string{
	0x00000000: "no error was encountered",
	0x80100001: "an internal consistency check failed",
	0x80100002: "the action was cancelled by an SCardCancel request",
	0x80100003: "the supplied handle was invalid",
	0x80100004: "one or more of the supplied parameters could not be properly interpreted",
	0x80100005: "registry startup information is missing or invalid",
	0x80100006: "not enough memory available to complete this command",
	0x80100007: "an internal consistency timer has expired",
	0x80100008: "the data buffer to receive returned data is too small for the returned data",
	0x80100009: "the specified reader name is not recognized",
	0x8010000A: "the user-specified timeout value has expired",
	0x8010000B: "the smart card cannot be accessed because of other connections outstanding",
	0x8010000C: "the operation requires a Smart Card, but no Smart Card is currently in the device",
	0x8010000D: "the specified smart card name is not recognized",
	0x8010000E: "the system could not dispose of the media in the requested manner",
	0x8010000F: "the requested protocols are incompatible with the protocol currently in use with the smart card",
	0x80100010: "the reader or smart card is not ready to accept commands",
	0x80100011: "one or more of the supplied parameters values could not be properly interpreted",
	0x80100012: "the action was cancelled by the system, presumably to log off or shut down",
	0x80100013: "an internal communications error has been detected",
	0x80100014: "an internal error has been detected, but the source is unknown",
	0x80100015: "an ATR obtained from the registry is not a valid ATR string",
	0x80100016: "an attempt was made to end a non-existent transaction",
	0x80100017: "the specified reader is not currently available for use",
	0x80100018: "the operation has been aborted to allow the server application to exit",
	0x80100019: "the PCI Receive buffer was too small",
	0x8010001A: "the reader driver does not meet minimal requirements for support",
	0x8010001B: "the reader driver did not produce a unique reader name",
	0x8010001C: "the smart card does not meet minimal requirements for support",
	0x8010001D: "the Smart card resource manager is not running",
	0x8010001E: "the Smart card resource manager has shut down",
	0x8010001F: "an unexpected card error has occurred",
	0x80100020: "no primary provider can be found for the smart card",
	0x80100021: "the requested order of object creation is not supported",
	0x80100023: "the identified directory does not exist in the smart card",
	0x80100024: "the identified file does not exist in the smart card",
	0x80100025: "the supplied path does not represent a smart card directory",
	0x80100026: "the supplied path does not represent a smart card file",
	0x80100027: "access is denied to this file",
	0x80100028: "the smart card does not have enough memory to store the information",
	0x80100029: "there was an error trying to set the smart card file object pointer",
	0x8010002A: "the supplied PIN is incorrect",
	0x8010002B: "an unrecognized error code was returned from a layered component",
	0x8010002C: "the requested certificate does not exist",
	0x8010002D: "the requested certificate could not be obtained",
	0x8010002E: "cannot find a smart card reader",
	0x8010002F: "a communications error with the smart card has been detected. More..",
	0x80100030: "the requested key container does not exist on the smart card",
	0x80100031: "the Smart Card Resource Manager is too busy to complete this operation",
	0x80100065: "the reader cannot communicate with the card, due to ATR string configuration conflicts",
	0x80100066: "the smart card is not responding to a reset",
	0x80100067: "power has been removed from the smart card, so that further communication is not possible",
	0x80100068: "the smart card has been reset, so any shared state information is invalid",
	0x80100069: "the smart card has been removed, so further communication is not possible",
	0x8010006A: "access was denied because of a security violation",
	0x8010006B: "the card cannot be accessed because the wrong PIN was presented",
	0x8010006C: "the card cannot be accessed because the maximum number of PIN entry attempts has been reached",
	0x8010006D: "the end of the smart card file has been reached",
	0x8010006E: "the user pressed \"Cancel\" on a Smart Card Selection Dialog",
	0x8010006F: "no PIN was presented to the smart card",
}
