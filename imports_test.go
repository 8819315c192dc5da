package chatsync_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportRules checks the house rule of STYLE.md §2 on the production
// packages (tests may cross it): server, worker and the providers never
// import each other; they meet only in worker/tasks, store, events and the
// root package; only cmd/chatsync wires them together (and
// server/servertest, the harness that runs the real handler in tests, wires
// the same providers, so it is left out here).
func TestImportRules(t *testing.T) {
	const mod = "github.com/chatsync/chatsync/"
	forbidden := map[string][]string{
		"./server":       {mod + "worker", mod + "provider/"},
		"./worker/...":   {mod + "server", mod + "provider/"},
		"./provider/...": {mod + "server", mod + "worker"},
		"./store/...":    {mod + "server", mod + "worker", mod + "provider/", mod + "gen/"},
	}
	for pkgs, bad := range forbidden {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkgs).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkgs, err)
		}
		for dep := range strings.Lines(string(out)) {
			dep = strings.TrimSpace(dep)
			for _, b := range bad {
				if strings.HasPrefix(dep, b) && dep != mod+"worker/tasks" && !strings.HasPrefix(dep, strings.TrimSuffix(mod+strings.TrimPrefix(pkgs, "./"), "/...")) {
					t.Errorf("%s depends on %s", pkgs, dep)
				}
			}
		}
	}
}
