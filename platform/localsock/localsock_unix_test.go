//go:build unix

package localsock

import (
	"context"
	"errors"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

func TestListenDial(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "agent.sock")
	if _, err := Dial(context.Background(), path); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Dial with nothing there = %v, want ErrNotRunning", err)
	}
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode = %v (%v), want 0660", fi.Mode(), err)
	}
	if os.Geteuid() == 0 {
		want := 0
		if g := AdminGroup(); g != "" {
			grp, err := user.LookupGroup(g)
			if err != nil {
				t.Fatal(err)
			}
			want, _ = strconv.Atoi(grp.Gid)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 0 || int(st.Gid) != want {
			t.Errorf("socket owned by %d:%d, want 0:%d (%s)", st.Uid, st.Gid, want, AdminGroup())
		}
	}
	if _, err := Listen(path); err == nil {
		t.Error("a second Listen took over a live socket")
	}
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err := Dial(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	// A killed agent leaves its socket behind: the next one replaces it.
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatal("the stale socket is not there to test with")
	}
	if _, err := Dial(context.Background(), path); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Dial to a stale socket = %v, want ErrNotRunning", err)
	}
	l2, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	l2.Close()
	// Something that is not a socket is never removed.
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(path); err == nil {
		t.Error("Listen replaced a regular file")
	}
}

func TestAdminGroup(t *testing.T) {
	g := AdminGroup()
	t.Logf("admin group here: %q", g)
	for _, ok := range []string{"", "sudo", "wheel", "admin"} {
		if g == ok {
			return
		}
	}
	t.Errorf("AdminGroup = %q", g)
}
