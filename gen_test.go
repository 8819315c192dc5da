package chatsync_test

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// These tests keep the contract honest: the protos pass buf lint, and the
// committed generated code is exactly what buf.gen.yaml produces from them.
// They need web/node_modules (protoc-gen-es), which the test task installs.

func runTool(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("go", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("go %v: %v\n%s", args, err, out.String())
	}
	return out.Bytes()
}

func linkProtovalidate(t *testing.T) {
	t.Helper()
	runTool(t, "tool", "task", "proto:deps")
}

func TestProtoLint(t *testing.T) {
	linkProtovalidate(t)
	runTool(t, "tool", "buf", "lint")
}

func TestGeneratedCodeIsFresh(t *testing.T) {
	if _, err := os.Stat("web/node_modules/.bin/protoc-gen-es"); err != nil {
		t.Fatalf("protoc-gen-es is not installed: run `go tool task web:deps` (the test task does): %v", err)
	}
	linkProtovalidate(t)
	out := t.TempDir()
	runTool(t, "tool", "buf", "generate", "-o", out)
	for _, dir := range []string{"gen", "web/src/gen", "sidecar/webjs/src/gen"} {
		compareTrees(t, filepath.Join(out, dir), dir)
	}
}

// compareTrees fails for every file that differs, is missing or is extra
// (Go test files and non-generated files in gen/ excepted).
func compareTrees(t *testing.T, fresh, committed string) {
	t.Helper()
	want := readTree(t, fresh)
	got := readTree(t, committed)
	for name, data := range want {
		if c, ok := got[name]; !ok {
			t.Errorf("%s/%s is missing: run `go tool task gen` and commit", committed, name)
		} else if !bytes.Equal(c, data) {
			t.Errorf("%s/%s is stale: run `go tool task gen` and commit", committed, name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s/%s is not generated from proto/: remove it or regenerate", committed, name)
		}
	}
}

func readTree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		b, err := os.ReadFile(path)
		files[rel] = b
		return err
	})
	if err != nil {
		t.Fatalf("read %s: %v", root, err)
	}
	return files
}
