package authz

import (
	"errors"
	"fmt"
)

// State is the state of an operation instance.
type State string

// The states. Pending, Staged and Approved are open: a re-evaluation can
// move them (a burned key can send an approved operation back to pending).
// Applied, Cancelled, Expired and Rejected are terminal.
const (
	// StatePending: signatures (or the operator co-signature) missing.
	StatePending State = "pending"
	// StateStaged: approved, waiting for the end of the delay (Decision.ApplyAt)
	// or for the operator co-signature.
	StateStaged State = "staged"
	// StateApproved: apply now.
	StateApproved State = "approved"
	// StateApplied: the caller applied the operation.
	StateApplied State = "applied"
	// StateCancelled: cancelled by an admin during its delay.
	StateCancelled State = "cancelled"
	// StateExpired: the window or the challenge ended before approval.
	StateExpired State = "expired"
	// StateRejected: the operation can never be approved (its policy is
	// unusable).
	StateRejected State = "rejected"
)

// States lists every state, open ones first.
func States() []State {
	return []State{StatePending, StateStaged, StateApproved, StateApplied, StateCancelled, StateExpired, StateRejected}
}

// Terminal reports whether s is a final state.
func (s State) Terminal() bool {
	switch s {
	case StateApplied, StateCancelled, StateExpired, StateRejected:
		return true
	}
	return false
}

// valid reports whether s is one of States.
func (s State) valid() bool {
	switch s {
	case StatePending, StateStaged, StateApproved, StateApplied, StateCancelled, StateExpired, StateRejected:
		return true
	}
	return false
}

// ErrTransition is returned (wrapped in a *TransitionError) for a move the
// engine does not allow.
var ErrTransition = errors.New("state transition not allowed")

// TransitionError is a refused move from one state to another.
type TransitionError struct {
	From, To State
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("operation in state %q cannot become %q", e.From, e.To)
}

// Unwrap returns ErrTransition.
func (e *TransitionError) Unwrap() error { return ErrTransition }

// CanTransition reports whether an operation stored in state from may be
// stored in state to: staying put is always allowed; a terminal state never
// changes; applied is reached only from approved; every other move between
// known states is allowed (an open state can fall back to pending when a
// burned key's signature is dropped).
func CanTransition(from, to State) bool {
	if from == "" {
		from = StatePending
	}
	switch {
	case !from.valid() || !to.valid():
		return false
	case from == to:
		return true
	case from.Terminal():
		return false
	case to == StateApplied:
		return from == StateApproved
	}
	return true
}

// Advance returns the state to store after a Decision for an operation
// stored in state from, or a *TransitionError.
func Advance(from State, d Decision) (State, error) {
	if !CanTransition(from, d.State) {
		return from, &TransitionError{From: from, To: d.State}
	}
	return d.State, nil
}

// MarkApplied returns StateApplied for an operation whose latest Decision
// was approved and that the caller has just applied, or a *TransitionError.
func MarkApplied(d Decision) (State, error) {
	if d.State != StateApproved {
		return d.State, &TransitionError{From: d.State, To: StateApplied}
	}
	return StateApplied, nil
}
