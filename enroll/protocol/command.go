package protocol

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Device commands (issue 7, D4 scenario 02): an approved remote_lock or
// remote_wipe queues a command that the agent fetches over mutual TLS,
// verifies against the command key pinned at enrollment
// (AgentConfig.CommandKey), executes once and acknowledges.
const (
	// PathDeviceCommands is GET with the device certificate: the device's
	// unacknowledged, unexpired commands (CommandList).
	PathDeviceCommands = "/v1/device/commands"
	// PathDeviceCommandAck is POST PathDeviceCommands/{id}/ack with a
	// CommandAck.
	PathDeviceCommandAck = "/v1/device/commands/{id}/ack"

	// CommandLock disables local logins and drops the tunnel.
	CommandLock = "lock"
	// CommandWipe destroys the disk encryption's key slots.
	CommandWipe = "wipe"

	// AckDone and AckFailed are a CommandAck's results.
	AckDone   = "done"
	AckFailed = "failed"

	// commandDomain separates command signatures from every other
	// signature of the API's command key.
	commandDomain = "kiwistack-command-v1\n"
)

// Command is what the API signs for one device: the approved operation it
// carries out, by id and digest, and its validity window.
type Command struct {
	// Version is 1.
	Version int `json:"version"`
	// ID is the command's id, unique; the agent refuses an id twice.
	ID string `json:"id"`
	// Tenant and DeviceID name the one device it is for.
	Tenant   string `json:"tenant"`
	DeviceID string `json:"device_id"`
	// Kind is CommandLock or CommandWipe.
	Kind string `json:"kind"`
	// OperationID and OperationDigest are the approved operation
	// (remote_lock or remote_wipe) whose signatures allowed it.
	OperationID     string `json:"operation_id"`
	OperationDigest string `json:"operation_digest"`
	// IssuedAt and ExpiresAt are RFC 3339 UTC timestamps.
	IssuedAt  string `json:"issued_at"`
	ExpiresAt string `json:"expires_at"`
}

// SignedCommand is a Command as it travels: the exact JSON bytes the API
// signed (base64url, no padding) and the Ed25519 signature over
// "kiwistack-command-v1\n" followed by those bytes (base64url).
type SignedCommand struct {
	Payload   string `json:"payload"`
	Signature string `json:"signature"`
}

// CommandList is the answer of GET PathDeviceCommands.
type CommandList struct {
	Commands []SignedCommand `json:"commands"`
}

// CommandAck is the body of POST PathDeviceCommandAck.
type CommandAck struct {
	// Result is AckDone or AckFailed.
	Result string `json:"result"`
	// Message says what the agent did or why it failed (at most 1,000
	// bytes are kept).
	Message string `json:"message,omitempty"`
}

// ErrCommandSignature reports a command whose signature does not verify.
var ErrCommandSignature = errors.New("command signature does not verify")

// EncodeCommandKey is the text form of a command key in AgentConfig:
// standard base64 of the 32-byte Ed25519 public key.
func EncodeCommandKey(pub ed25519.PublicKey) string {
	return base64.StdEncoding.EncodeToString(pub)
}

// ParseCommandKey parses EncodeCommandKey's form.
func ParseCommandKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, errors.New("command key: want base64 of a 32-byte Ed25519 public key")
	}
	return ed25519.PublicKey(b), nil
}

// SignCommand signs c with the API's command key.
func SignCommand(key ed25519.PrivateKey, c Command) (SignedCommand, error) {
	if err := c.check(); err != nil {
		return SignedCommand{}, err
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return SignedCommand{}, err
	}
	sig := ed25519.Sign(key, append([]byte(commandDomain), payload...))
	return SignedCommand{Payload: base64.RawURLEncoding.EncodeToString(payload),
		Signature: base64.RawURLEncoding.EncodeToString(sig)}, nil
}

// VerifyCommand checks sc's signature with pub and decodes its command
// (strictly: unknown fields are refused). It does not check the device,
// the time or replays: the caller does, with the command it returns.
func VerifyCommand(pub ed25519.PublicKey, sc SignedCommand) (Command, error) {
	payload, err := base64.RawURLEncoding.DecodeString(sc.Payload)
	if err != nil {
		return Command{}, fmt.Errorf("command payload: %w", err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(sc.Signature)
	if err != nil || len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, append([]byte(commandDomain), payload...), sig) {
		return Command{}, ErrCommandSignature
	}
	var c Command
	if err := DecodeJSON(bytes.NewReader(payload), MaxResponseBytes, &c); err != nil {
		return Command{}, fmt.Errorf("command payload: %w", err)
	}
	if err := c.check(); err != nil {
		return Command{}, err
	}
	return c, nil
}

// Window returns the command's issue and expiry times.
func (c Command) Window() (issued, expires time.Time, err error) {
	if issued, err = time.Parse(time.RFC3339, c.IssuedAt); err != nil {
		return issued, expires, fmt.Errorf("command issued_at: %w", err)
	}
	if expires, err = time.Parse(time.RFC3339, c.ExpiresAt); err != nil {
		return issued, expires, fmt.Errorf("command expires_at: %w", err)
	}
	return issued, expires, nil
}

// check checks the fields every command has.
func (c Command) check() error {
	switch {
	case c.Version != 1:
		return fmt.Errorf("command version %d, want 1", c.Version)
	case c.ID == "" || c.Tenant == "" || c.DeviceID == "" || c.OperationID == "" || c.OperationDigest == "":
		return errors.New("command: id, tenant, device_id, operation_id and operation_digest are required")
	case c.Kind != CommandLock && c.Kind != CommandWipe:
		return fmt.Errorf("command kind %q, want lock or wipe", c.Kind)
	}
	if _, _, err := c.Window(); err != nil {
		return err
	}
	return nil
}
