// Command kratos is Ory Kratos built from a pinned version, because
// `go install github.com/ory/kratos` is refused (its go.mod has replace directives).
package main

import (
	"os"

	"github.com/ory/kratos/cmd"
)

func main() { os.Exit(cmd.Execute()) }
