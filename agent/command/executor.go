package command

import (
	"context"
	"sync"

	"github.com/kiwistack/endpoint/platform/lock"
	"github.com/kiwistack/endpoint/platform/wipe"
)

// Executor carries out verified commands on this laptop.
type Executor interface {
	// Lock disables local logins for the tenant's users.
	Lock(ctx context.Context) error
	// Wipe makes the system volume unreadable without recovery material.
	Wipe(ctx context.Context) error
}

// OSExecutor is the Executor of this OS (platform/lock, platform/wipe);
// Root is the file-system root ("" is /).
type OSExecutor struct {
	Root string
	// Device is the LUKS device a wipe erases; "" finds the one under Root.
	Device string
}

// LockMessage is what a refused login shows after a remote lock.
const LockMessage = "This laptop has been locked remotely by its administrators. Contact them to get it back."

// Lock implements Executor.
func (e OSExecutor) Lock(ctx context.Context) error {
	return lock.Lock(ctx, lock.Options{Root: e.Root, Message: LockMessage})
}

// Wipe implements Executor.
func (e OSExecutor) Wipe(ctx context.Context) error {
	return wipe.Wipe(ctx, wipe.Options{Root: e.Root, Device: e.Device})
}

// FakeExecutor records the commands it is asked to run, for tests; Err,
// when set, is what they return.
type FakeExecutor struct {
	mu           sync.Mutex
	Locks, Wipes int
	Err          error
}

// Lock implements Executor.
func (f *FakeExecutor) Lock(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Locks++
	return f.Err
}

// Wipe implements Executor.
func (f *FakeExecutor) Wipe(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Wipes++
	return f.Err
}

// Counts returns how many locks and wipes ran.
func (f *FakeExecutor) Counts() (locks, wipes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.Locks, f.Wipes
}
