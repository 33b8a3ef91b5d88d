// Package workflow is kportal's small workflow engine. A workflow is data:
// states, transitions, the Casbin action each transition needs, guards (Go
// funcs) and the events a transition emits. Modules persist the state; the
// engine decides whether a transition may happen and what it emits.
package workflow

import (
	"context"
	"fmt"

	"kportal/modules/apperr"
)

// State is a workflow state, e.g. "draft", "sent", "approved".
type State string

// Subject is the thing moving through a workflow.
type Subject interface {
	WorkflowState() State
}

// Guard refuses a transition by returning an error (an *apperr.Error with a
// message for the user).
type Guard func(ctx context.Context, s Subject) error

// Transition moves a subject from one of From to To.
type Transition struct {
	Name   string
	From   []State
	To     State
	Action string  // Casbin action the actor needs, e.g. "approve"
	Guards []Guard // checked in order after the action
	Emit   string  // event name emitted on success, "" for none
}

// Def is a workflow definition.
type Def struct {
	Name        string
	Object      string // Casbin object the actions apply to, e.g. "goal"
	Initial     State
	Final       []State // no transition leaves a final state
	Transitions []Transition
}

// Event is what a transition emits.
type Event struct {
	Workflow   string
	Name       string
	Transition string
	From, To   State
	Subject    Subject
}

// Can reports whether the actor holds a Casbin action on the workflow's object.
type Can func(object, action string) (bool, error)

// Validate checks that the definition is coherent: known states, unique
// transition names, nothing leaving a final state.
func (d *Def) Validate() error {
	if d.Name == "" || d.Initial == "" {
		return fmt.Errorf("workflow needs a name and an initial state")
	}
	final := map[State]bool{}
	for _, s := range d.Final {
		final[s] = true
	}
	seen := map[string]bool{}
	for _, t := range d.Transitions {
		if t.Name == "" || t.To == "" || len(t.From) == 0 || t.Action == "" {
			return fmt.Errorf("workflow %q: transition %q needs from, to and an action", d.Name, t.Name)
		}
		if seen[t.Name] {
			return fmt.Errorf("workflow %q: transition %q defined twice", d.Name, t.Name)
		}
		seen[t.Name] = true
		for _, f := range t.From {
			if final[f] {
				return fmt.Errorf("workflow %q: transition %q leaves final state %q", d.Name, t.Name, f)
			}
		}
	}
	return nil
}

// Available lists the transitions possible from a state (for showing buttons).
func (d *Def) Available(s State) []Transition {
	var out []Transition
	for _, t := range d.Transitions {
		for _, f := range t.From {
			if f == s {
				out = append(out, t)
			}
		}
	}
	return out
}

// Fire checks that the named transition may happen to s for an actor who can
// do what can allows, and returns the new state and the event to emit (nil
// when the transition emits none). It changes nothing itself.
func (d *Def) Fire(ctx context.Context, s Subject, name string, can Can) (State, *Event, error) {
	var tr *Transition
	for i := range d.Transitions {
		if d.Transitions[i].Name == name {
			tr = &d.Transitions[i]
		}
	}
	if tr == nil {
		return "", nil, fmt.Errorf("workflow %q has no transition %q", d.Name, name)
	}
	from := s.WorkflowState()
	allowedFrom := false
	for _, f := range tr.From {
		allowedFrom = allowedFrom || f == from
	}
	if !allowedFrom {
		return "", nil, apperr.New(apperr.Conflict, "Dette kan ikke gjøres nå: saken har status «%s».", from)
	}
	ok, err := can(d.Object, tr.Action)
	if err != nil {
		return "", nil, err
	}
	if !ok {
		return "", nil, apperr.Default(apperr.Forbidden)
	}
	for _, g := range tr.Guards {
		if err := g(ctx, s); err != nil {
			return "", nil, err
		}
	}
	var ev *Event
	if tr.Emit != "" {
		ev = &Event{Workflow: d.Name, Name: tr.Emit, Transition: tr.Name, From: from, To: tr.To, Subject: s}
	}
	return tr.To, ev, nil
}
