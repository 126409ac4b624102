// Command vyubikey runs a virtual YubiKey (package card) plugged into a
// vsmartcard vpcd reader slot of the local pcscd (package vpcd), so real
// PC/SC clients see a YubiKey 5:
//
//	go run ./test/vyubikey --serial 12345678 --version 5.7.1 --state /tmp/yk.json
//
// --attestation-root DIR loads DIR/root.pem and DIR/root.key (PKCS#8) or
// creates them; --control PATH opens a unix socket that accepts the line
// "touch" to confirm a pending touch in manual mode. It holds flags and
// wiring only; it is a test tool and never ships.
package main

import (
	"bufio"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/kiwistack/endpoint/test/vyubikey/card"
	"github.com/kiwistack/endpoint/test/vyubikey/vpcd"
)

func main() {
	var (
		serial       = flag.Uint("serial", 0, "serial number (0: random 8-digit for a new key)")
		version      = flag.String("version", "5.7.1", "firmware version, e.g. 5.4.3 or 5.7.1")
		stateFile    = flag.String("state", "", "JSON state file (required): the key stays provisioned between runs")
		port         = flag.Int("port", 35963, "vpcd port of the reader slot")
		touch        = flag.String("touch", "auto", "touch sensor: auto, manual or timeout")
		touchDelay   = flag.Duration("touch-delay", card.DefaultTouchDelay, "how long an automatic touch takes (auto mode)")
		touchTimeout = flag.Duration("touch-timeout", card.DefaultTouchTimeout, "how long the key blinks before the operation fails")
		rootDir      = flag.String("attestation-root", "", "directory with root.pem and root.key (created when missing); empty: a throwaway root")
		control      = flag.String("control", "", "unix socket accepting the line \"touch\"")
	)
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(log, *serial, *version, *stateFile, *port, *touch, *touchDelay, *touchTimeout, *rootDir, *control); err != nil {
		log.Error("vyubikey failed", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger, serial uint, version, stateFile string, port int, touch string, touchDelay, touchTimeout time.Duration, rootDir, control string) error {
	if stateFile == "" {
		return errors.New("--state is required")
	}
	mode, err := card.ParseTouchMode(touch)
	if err != nil {
		return err
	}
	if touchDelay == 0 {
		touchDelay = -1 // card.Options: negative means at once
	}
	opts := card.Options{
		Serial:       uint32(serial),
		Version:      version,
		Touch:        mode,
		TouchDelay:   touchDelay,
		TouchTimeout: touchTimeout,
		StateFile:    stateFile,
		Logger:       log,
	}
	if rootDir != "" {
		opts.AttestationRoot, opts.AttestationRootKey, err = loadOrCreateRoot(rootDir)
		if err != nil {
			return err
		}
	}
	c, err := card.New(opts)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if control != "" {
		ln, err := listenControl(control)
		if err != nil {
			return err
		}
		defer ln.Close()
		go serveControl(ctx, log, ln, c)
	}
	log.Info("virtual yubikey ready", "serial", c.Serial(), "version", version, "port", port, "touch", mode)
	return vpcd.Run(ctx, fmt.Sprintf("127.0.0.1:%d", port), c, vpcd.Options{Logger: log})
}

// loadOrCreateRoot reads dir/root.pem and dir/root.key or writes new ones.
func loadOrCreateRoot(dir string) (*x509.Certificate, crypto.Signer, error) {
	certPath, keyPath := filepath.Join(dir, "root.pem"), filepath.Join(dir, "root.key")
	certPEM, err1 := os.ReadFile(certPath)
	keyPEM, err2 := os.ReadFile(keyPath)
	if err1 == nil && err2 == nil {
		cb, _ := pem.Decode(certPEM)
		kb, _ := pem.Decode(keyPEM)
		if cb == nil || kb == nil {
			return nil, nil, fmt.Errorf("attestation root in %s: not PEM", dir)
		}
		cert, err := x509.ParseCertificate(cb.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("parsing %s: %w", certPath, err)
		}
		key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("parsing %s: %w", keyPath, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, nil, fmt.Errorf("%s: not a signing key", keyPath)
		}
		return cert, signer, nil
	}
	if !errors.Is(err1, os.ErrNotExist) && err1 != nil {
		return nil, nil, fmt.Errorf("reading attestation root: %w", err1)
	}
	cert, key, err := card.NewAttestationRoot(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding attestation root key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, nil, fmt.Errorf("writing attestation root key: %w", err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644); err != nil {
		return nil, nil, fmt.Errorf("writing attestation root: %w", err)
	}
	return cert, key, nil
}

// listenControl opens the control socket, replacing a stale one.
func listenControl(path string) (net.Listener, error) {
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("opening control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("restricting control socket: %w", err)
	}
	return ln, nil
}

// serveControl answers "touch" lines with "ok" or "no touch pending".
func serveControl(ctx context.Context, log *slog.Logger, ln net.Listener, c *card.Card) {
	context.AfterFunc(ctx, func() { ln.Close() })
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			sc := bufio.NewScanner(conn)
			for sc.Scan() {
				switch strings.TrimSpace(sc.Text()) {
				case "touch":
					if c.Touch() {
						log.Info("touched")
						fmt.Fprintln(conn, "ok")
					} else {
						fmt.Fprintln(conn, "no touch pending")
					}
				default:
					fmt.Fprintln(conn, "unknown command (want: touch)")
				}
			}
		}()
	}
}
