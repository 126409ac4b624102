package wgtest

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/ipc"
	"golang.zx2c4.com/wireguard/tun"

	"github.com/kiwistack/endpoint/internal/syncbuf"
)

// HelperEnv names the interface a helper process serves.
const HelperEnv = "KIWISTACK_WGTEST_INTERFACE"

// RunHelperIfAsked turns the process into a WireGuard helper when it was
// started as one (Start): it serves the device until its stdin closes,
// then exits. Otherwise it returns at once.
func RunHelperIfAsked() {
	name := os.Getenv(HelperEnv)
	if name == "" {
		return
	}
	if err := runHelper(name, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "wireguard helper %s: %v\n", name, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// runHelper runs wireguard-go on a new TUN interface called name, in the
// network namespace the process was started in, with its UAPI socket in
// the shared socket directory. It writes "ready" once the socket listens
// and stops when stdin closes.
func runHelper(name string, stdin io.Reader, stdout io.Writer) error {
	tdev, err := tun.CreateTUN(name, device.DefaultMTU)
	if err != nil {
		return fmt.Errorf("creating tun: %w", err)
	}
	// Log to stderr, which the test shows when it fails; stdout carries
	// only the ready line.
	logf := log.New(os.Stderr, name+": ", log.Ltime|log.Lmicroseconds).Printf
	dev := device.NewDevice(tdev, conn.NewDefaultBind(), &device.Logger{Verbosef: logf, Errorf: logf})
	defer dev.Close()
	f, err := ipc.UAPIOpen(name)
	if err != nil {
		return fmt.Errorf("opening uapi socket: %w", err)
	}
	l, err := ipc.UAPIListen(name, f)
	if err != nil {
		return fmt.Errorf("listening on uapi socket: %w", err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go dev.IpcHandle(c)
		}
	}()
	if _, err := fmt.Fprintln(stdout, "ready"); err != nil {
		return fmt.Errorf("reporting ready: %w", err)
	}
	_, _ = io.Copy(io.Discard, stdin)
	return nil
}

// Start starts the test binary as the WireGuard helper for ifname inside
// ns and waits until its UAPI socket listens; the test's cleanup stops it.
func Start(t testing.TB, ns, ifname string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, self)
	cmd.Env = append(os.Environ(), HelperEnv+"="+ifname)
	var stderr syncbuf.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the WireGuard helper in %s: %v", ns, err)
	}
	exited := make(chan error, 1)
	ready := make(chan bool, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- line == "ready\n"
		_, _ = io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		_ = os.Remove(SocketPath(ifname))
		if t.Failed() && stderr.String() != "" {
			t.Logf("WireGuard helper %s in %s said:\n%s", ifname, ns, stderr.String())
		}
	})
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("WireGuard helper %s in %s did not start:\n%s", ifname, ns, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("WireGuard helper %s in %s not ready after 10s:\n%s", ifname, ns, stderr.String())
	}
}

// SocketPath is ifname's UAPI socket.
func SocketPath(ifname string) string {
	return filepath.Join("/var/run/wireguard", ifname+".sock")
}

// UAPI sends one request in the WireGuard cross-platform userspace
// protocol to ifname's socket and returns the response's key=value lines,
// failing the test unless it ends with errno=0.
func UAPI(t testing.TB, ifname, request string) []string {
	t.Helper()
	c, err := net.DialTimeout("unix", SocketPath(ifname), 5*time.Second)
	if err != nil {
		t.Fatalf("uapi %s: %v", ifname, err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, request+"\n"); err != nil {
		t.Fatalf("uapi %s: writing: %v", ifname, err)
	}
	var lines []string
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("uapi %s: reading after %q: %v", ifname, lines, err)
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			break
		}
		lines = append(lines, line)
	}
	if len(lines) == 0 || lines[len(lines)-1] != "errno=0" {
		t.Fatalf("uapi %s: request %q answered %q", ifname, request, lines)
	}
	return lines[:len(lines)-1]
}
