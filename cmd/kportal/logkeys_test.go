package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Logs name an error under one key, "error", so one query finds them all.
func TestHardeningOneKeyForErrorsInLogs(t *testing.T) {
	logCall := regexp.MustCompile(`\.(Debug|Info|Warn|Error)\([^\n]*"err",`)
	root, _ := filepath.Abs("../..")
	var bad []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range logCall.FindAll(b, -1) {
			bad = append(bad, strings.TrimPrefix(path, root+"/")+": "+string(m))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) > 0 {
		t.Fatalf("log calls with the key \"err\" (use \"error\"):\n%s", strings.Join(bad, "\n"))
	}
}
