package lock

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kiwistack/endpoint/internal/atomicfile"
)

// lockOS writes /etc/nologin, then locks every tenant user of /etc/passwd.
func lockOS(ctx context.Context, o Options) error {
	root := o.Root
	if root == "" {
		root = "/"
	}
	msg := o.Message
	if msg == "" {
		msg = "This laptop is locked by its administrators."
	}
	if err := atomicfile.WriteFile(filepath.Join(root, "etc", "nologin"), []byte(msg+"\n"), 0o644); err != nil {
		return fmt.Errorf("writing /etc/nologin: %w", err)
	}
	passwd, err := os.ReadFile(filepath.Join(root, "etc", "passwd"))
	if err != nil {
		return fmt.Errorf("reading the user accounts: %w", err)
	}
	users := TenantUsers(passwd)
	if len(users) == 0 {
		return ErrNoUsers
	}
	if err := runAll(ctx, o.Run, LinuxCommands(o.Root, users)); err != nil {
		return fmt.Errorf("locking user accounts: %w", err)
	}
	return nil
}
