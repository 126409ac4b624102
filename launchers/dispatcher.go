package launchers

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/kiwistack/endpoint/launchers/dispatch"
)

// Errors of Dispatch, for the command's exit code.
var (
	// ErrNoState: the dispatcher's state file is missing; the render step
	// writes it.
	ErrNoState = errors.New("the dispatcher's state is missing")
	// ErrRefused: the URL opens nowhere (the decision's reason says why).
	ErrRefused = errors.New("refused")
	// ErrNoPrevious: the URL is not the tenant's and no previous default
	// browser is recorded.
	ErrNoPrevious = errors.New("no previous default browser is recorded")
)

// LoopEnv marks the environment of a previous browser the dispatcher
// started, with the URL it was given: if that browser hands the same URL
// back to the dispatcher (through xdg-open, say), the dispatcher refuses it
// instead of looping.
const LoopEnv = "KIWISTACK_DISPATCHED"

// DispatchOptions are the inputs of Dispatch.
type DispatchOptions struct {
	// StateFile is the state the render step wrote (DefaultDispatchState
	// on this OS, unless the dispatcher's entry passes another).
	StateFile string
	// Self is the dispatcher's own executable, so that it never hands a
	// URL to itself.
	Self string
	// Env is the environment the target gets (os.Environ()); its PATH
	// finds a previous browser recorded by name.
	Env []string
	// Exec hands the process over to argv (handoff.Exec); it returns only
	// on failure on Unix.
	Exec func(argv, env []string) error
}

// LoadState reads and checks the dispatcher's state file.
func LoadState(file string) (*dispatch.State, error) {
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist (kiwistack-agent render writes it)", ErrNoState, file)
	}
	if err != nil {
		return nil, fmt.Errorf("opening the dispatcher's state: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, dispatch.MaxStateBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	st, err := dispatch.ParseState(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return st, nil
}

// Dispatch is the installed dispatcher: it decides where url goes from the
// state file and hands the process over to the target — the launcher's app
// window, or the previous default browser — with the argv as decided,
// never through a shell. It returns the decision, and an error when nothing
// was opened.
func Dispatch(url string, o DispatchOptions) (dispatch.Decision, error) {
	st, err := LoadState(o.StateFile)
	if err != nil {
		return dispatch.Decision{}, err
	}
	d := dispatch.Decide(url, st.Config(o.Self))
	switch {
	case d.Target == dispatch.Refused:
		return d, fmt.Errorf("%w: %s [%s]", ErrRefused, d.Explanation, d.Reason)
	case d.Target == dispatch.ToPrevious && len(d.Argv) == 0:
		return d, fmt.Errorf("%w in %s (%s): render again to record one", ErrNoPrevious, o.StateFile, d.Explanation)
	case d.Target == dispatch.ToPrevious && getenv(o.Env, LoopEnv) == url:
		return d, fmt.Errorf("%w: the previous browser handed %q back to the dispatcher; opening it again would loop", ErrRefused, url)
	}
	argv := append([]string(nil), d.Argv...)
	if !filepath.IsAbs(argv[0]) {
		p, err := lookPath(argv[0], getenv(o.Env, "PATH"))
		if err != nil {
			return d, err
		}
		argv[0] = p
	}
	if sameFile(argv[0], o.Self) {
		return d, fmt.Errorf("%w: %s is the dispatcher itself; opening would loop", ErrRefused, argv[0])
	}
	env := withoutEnv(o.Env, LoopEnv)
	if d.Target == dispatch.ToPrevious {
		env = append(env, LoopEnv+"="+url)
	}
	if err := o.Exec(argv, env); err != nil {
		return d, err
	}
	return d, nil
}

func getenv(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v
		}
	}
	return ""
}

func withoutEnv(env []string, key string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// lookPath finds an executable regular file named name in the directories
// of path, as a shell would, without running one.
func lookPath(name, path string) (string, error) {
	if strings.ContainsRune(name, filepath.Separator) {
		return "", fmt.Errorf("previous browser %q: a relative path; want a name or an absolute path", name)
	}
	for _, dir := range filepath.SplitList(path) {
		if !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("previous browser %q: not found in PATH", name)
}

// sameFile reports whether a and b are the same file after symlinks.
func sameFile(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}
