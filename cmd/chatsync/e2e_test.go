package main

import (
	"encoding/json"
	"os/exec"
	"slices"
	"testing"
)

// TestProductionBuildHasNoE2EHook: the fake WhatsApp of the browser tests
// (e2e_hook.go) exists only with -tags e2e. Tests build without that tag,
// like production, so the seam must be nil here; and the go command must
// see the hook file as excluded from a normal build of cmd/chatsync.
func TestProductionBuildHasNoE2EHook(t *testing.T) {
	if pairingTransport != nil {
		t.Fatalf("pairingTransport is %T in a build without -tags e2e; PairSession would not reach WhatsApp", pairingTransport)
	}
	list := func(tags ...string) (goFiles, ignored []string) {
		t.Helper()
		args := append([]string{"list", "-json"}, tags...)
		out, err := exec.Command("go", append(args, ".")...).Output()
		if err != nil {
			t.Fatalf("go list: %v", err)
		}
		var pkg struct{ GoFiles, IgnoredGoFiles []string }
		if err := json.Unmarshal(out, &pkg); err != nil {
			t.Fatal(err)
		}
		return pkg.GoFiles, pkg.IgnoredGoFiles
	}
	files, ignored := list()
	if slices.Contains(files, "e2e_hook.go") || !slices.Contains(ignored, "e2e_hook.go") {
		t.Errorf("a normal build of cmd/chatsync compiles e2e_hook.go (files %v); it must carry //go:build e2e", files)
	}
	if files, _ := list("-tags", "e2e"); !slices.Contains(files, "e2e_hook.go") {
		t.Errorf("go build -tags e2e does not compile e2e_hook.go (files %v)", files)
	}
}
