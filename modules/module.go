// Package modules is kportal's module host. Every feature is a module: a package
// that declares what it brings (routes, Casbin rules, jobs, workflows, menu
// entries) through optional interfaces, and the host wires it. The core contract
// is tiny (Info); capabilities are found by type assertion, as in Caddy's registry.
package modules

import (
	"github.com/hibiken/asynq"

	"kportal/modules/workflow"
	"kportal/policies"
	"kportal/workers"
)

// Info describes a module.
type Info struct {
	ID       string   // short, stable, lower case: "web", "activities"
	Title    string   // Norwegian, shown to tenant admins
	Requires []string // IDs of modules that must be registered first
	// Optional modules can be switched off per tenant; their routes answer 404
	// and their menu entries disappear in tenants that switched them off.
	Optional bool
	// DefaultOn is whether an optional module is on in a tenant that never chose.
	DefaultOn bool
}

// Module is the one thing every module implements.
type Module interface{ Info() Info }

// Routes is implemented by modules with HTTP routes or pages.
type Routes interface{ Routes(r *Router) }

// Policies is implemented by modules that need Casbin permission rules.
type Policies interface{ Policies() []policies.Rule }

// Tasks is implemented by modules with background jobs.
type Tasks interface{ Tasks(m *asynq.ServeMux) }

// Workflows is implemented by modules that own state machines.
type Workflows interface{ Workflows() []*workflow.Def }

// Nav is implemented by modules with menu entries; it is asked per request.
type Nav interface{ Nav(v *Viewer) []NavItem }

// NavItem is one entry in the main menu.
type NavItem struct {
	Label string // Norwegian
	Href  string
	Order int // lower comes first
	// Home also shows the entry as a card on the home page (work that is not
	// in one tenant, such as an RHF admin's foretak).
	Home bool
	// Object and Action, when set, show the entry only to those the route
	// guard would let in (in the viewer's tenant), roles or delegations alike.
	Object, Action string
}

// Schedules is implemented by modules with periodic jobs.
type Schedules interface{ Schedules() []workers.Schedule }
