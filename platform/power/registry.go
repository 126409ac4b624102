package power

import "sync"

// registry gives each native registration a small integer to pass to the OS
// as the callback's context, and finds the registration again when the OS
// calls back. The callback itself is made once per process: purego and
// golang.org/x/sys/windows never free callbacks and allow about 2000. It is
// compiled on every OS so that its test runs on Linux.
type registry[T any] struct {
	mu   sync.Mutex
	last uintptr
	m    map[uintptr]T
}

// add stores v and returns its context, never 0.
func (r *registry[T]) add(v T) uintptr {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = make(map[uintptr]T)
	}
	r.last++
	r.m[r.last] = v
	return r.last
}

// with calls f with the value for id, if it is still registered, holding
// the lock: after remove returns, f runs no more for id, so a channel can
// be closed then without racing a send.
func (r *registry[T]) with(id uintptr, f func(T)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.m[id]; ok {
		f(v)
	}
}

func (r *registry[T]) remove(id uintptr) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, id)
}
