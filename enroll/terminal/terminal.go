// Package terminal is the enroller's conversation with the person at the
// laptop: PIN entry without echo (golang.org/x/term), the retries left, the
// "touch your YubiKey now" prompt and the choice among several keys. It
// implements yubikey.UI and never logs or prints a PIN.
package terminal

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/kiwistack/endpoint/enroll/yubikey"
	"golang.org/x/term"
)

// UI talks to a person through a terminal.
type UI struct {
	in  io.Reader
	out io.Writer
	// readSecret reads a line without echo; nil when in is not a terminal.
	readSecret func() (string, error)
	// pinSource, when set, supplies the PIN without a prompt (--pin-stdin,
	// the demo); it is read once and never shown.
	pinSource *bufio.Reader
	mu        sync.Mutex
}

// New returns a UI that prompts on out and reads from in. When in is a
// terminal, PINs are read without echo; otherwise PIN prompts fail with a
// message saying how to supply one.
func New(in io.Reader, out io.Writer) *UI {
	u := &UI{in: in, out: out}
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fd := int(f.Fd())
		u.readSecret = func() (string, error) {
			b, err := term.ReadPassword(fd)
			fmt.Fprintln(out)
			return string(b), err
		}
	}
	return u
}

// WithPINFrom makes the UI read PINs, one per line, from r instead of
// prompting: for scripts and the demo. The PIN is never echoed.
func (u *UI) WithPINFrom(r io.Reader) *UI {
	u.pinSource = bufio.NewReader(r)
	return u
}

// PIN implements yubikey.UI.
func (u *UI) PIN(ctx context.Context, req yubikey.PINRequest) (string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if req.Again {
		fmt.Fprintf(u.out, "Wrong PIN. %s left before the PIN is blocked.\n", tries(req.Retries))
	}
	if u.pinSource != nil {
		if req.Again {
			return "", errors.New("the PIN given on standard input is wrong; nothing more to try")
		}
		line, err := u.pinSource.ReadString('\n')
		if err != nil && (err != io.EOF || line == "") {
			return "", fmt.Errorf("reading the PIN from standard input: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	if u.readSecret == nil {
		return "", errors.New("a PIN is needed but standard input is not a terminal: run in a terminal, or pass --pin-stdin and pipe the PIN in")
	}
	purpose := req.Purpose
	if purpose == "" {
		purpose = "unlock it"
	}
	if req.Retries < 0 {
		fmt.Fprintf(u.out, "Enter the PIN of YubiKey %d to %s: ", req.Key.Serial, purpose)
	} else {
		fmt.Fprintf(u.out, "Enter the PIN of YubiKey %d to %s (%s left): ", req.Key.Serial, purpose, tries(req.Retries))
	}
	type result struct {
		pin string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		p, err := u.readSecret()
		ch <- result{p, err}
	}()
	select {
	case <-ctx.Done():
		return "", yubikey.ErrCanceled
	case r := <-ch:
		if r.err != nil {
			return "", fmt.Errorf("reading the PIN: %w", r.err)
		}
		if r.pin == "" {
			return "", yubikey.ErrCanceled
		}
		return r.pin, nil
	}
}

func tries(n int) string {
	if n == 1 {
		return "1 try"
	}
	return strconv.Itoa(n) + " tries"
}

// Touch implements yubikey.UI.
func (u *UI) Touch(key yubikey.Info) func() {
	fmt.Fprintf(u.out, "Touch your YubiKey %d now (it blinks).\n", key.Serial)
	return func() {}
}

// Choose implements yubikey.UI.
func (u *UI) Choose(ctx context.Context, keys []yubikey.Info) (int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	fmt.Fprintln(u.out, "Several YubiKeys are connected:")
	for i, k := range keys {
		who := "not provisioned"
		if k.Slot9a != nil {
			who = fmt.Sprintf("%s (%s, %s)", k.Slot9a.Admin, k.Slot9a.Role, k.Slot9a.Tenant)
		}
		fmt.Fprintf(u.out, "  %d) serial %d, firmware %s, %s\n", i+1, k.Serial, k.Firmware, who)
	}
	if u.pinSource != nil || u.readSecret == nil {
		return 0, fmt.Errorf("%d YubiKeys are connected: choose one with --serial", len(keys))
	}
	fmt.Fprintf(u.out, "Which one [1-%d]? ", len(keys))
	line, err := bufio.NewReader(u.in).ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("reading the choice: %w", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || n < 1 || n > len(keys) {
		return 0, fmt.Errorf("%q is not a number between 1 and %d", strings.TrimSpace(line), len(keys))
	}
	return n - 1, nil
}

// Secret implements yubikey.UI: it reads a PUK or a new PIN without echo,
// asking twice for a new value.
func (u *UI) Secret(ctx context.Context, req yubikey.SecretRequest) (string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.pinSource != nil {
		line, err := u.pinSource.ReadString('\n')
		if err != nil && (err != io.EOF || line == "") {
			return "", fmt.Errorf("reading the %s from standard input: %w", req.Label, err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	if u.readSecret == nil {
		return "", fmt.Errorf("the %s is needed but standard input is not a terminal: run in a terminal, or pass --pin-stdin and pipe it in", req.Label)
	}
	fmt.Fprintf(u.out, "Enter the %s of YubiKey %d: ", req.Label, req.Key.Serial)
	first, err := u.readSecret()
	if err != nil {
		return "", fmt.Errorf("reading the %s: %w", req.Label, err)
	}
	if first == "" {
		return "", yubikey.ErrCanceled
	}
	if !req.New {
		return first, nil
	}
	fmt.Fprintf(u.out, "Enter the %s again: ", req.Label)
	second, err := u.readSecret()
	if err != nil {
		return "", fmt.Errorf("reading the %s: %w", req.Label, err)
	}
	if first != second {
		return "", fmt.Errorf("the two %ss differ: nothing was changed", req.Label)
	}
	return first, nil
}
