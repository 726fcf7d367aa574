package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConcurrentRequests streams the same releases many times through several workers (run it
// with -race): the shared chart cache, values schemas and kubeconform validator must give every
// copy the same answer. Needs EDGEAI_SCHEMAS (the kubernetes-json-schema folder of the
// kubernetes-validate package) and the repository's charts with their dependencies built.
func TestConcurrentRequests(t *testing.T) {
	schemas := os.Getenv("EDGEAI_SCHEMAS")
	if schemas == "" {
		t.Skip("EDGEAI_SCHEMAS is not set")
	}
	charts, _ := filepath.Abs("../../charts")
	var in bytes.Buffer
	names := []string{}
	for _, name := range []string{"kafka", "redis", "siddhi", "gateway", "monitoring"} {
		if _, err := os.Stat(filepath.Join(charts, name, "Chart.yaml")); err == nil {
			names = append(names, name)
		}
	}
	const copies = 8
	for i := 0; i < copies; i++ {
		for _, name := range names {
			fmt.Fprintf(&in, `{"id":"%s/%d","chart":"%s","release":"%s","namespace":"edgeai-test","kubeVersion":"1.34.4","values":{},"validate":true}`+"\n",
				name, i, filepath.Join(charts, name), name)
		}
	}
	set, err := newSchemaSet([]string{schemas + "/{{ .NormalizedKubernetesVersion }}-local{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json"}, true, false)
	if err != nil {
		t.Fatal(err)
	}
	defer set.close()
	var out bytes.Buffer
	if err := serve(&in, &out, 4, newEngine(set)); err != nil {
		t.Fatal(err)
	}
	type response struct {
		ID      string            `json:"id"`
		Objects []json.RawMessage `json:"objects"`
		Error   *string           `json:"error"`
		Schema  []Finding         `json:"schema"`
	}
	first := map[string]string{}
	n, rendered := 0, 0
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var r response
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		n++
		if r.Error == nil && len(r.Objects) > 0 && len(r.Schema) == len(r.Objects) {
			rendered++
		}
		name := strings.Split(r.ID, "/")[0]
		copyNo := strings.Split(r.ID, "/")[1]
		norm := sc.Text()[len(`{"id":"`)+len(r.ID)+2:] // all but the id must be identical
		if prev, ok := first[name]; ok && prev != norm {
			t.Errorf("%s: copy %s differs from the first", name, copyNo)
		} else if !ok {
			first[name] = norm
		}
	}
	if n != copies*len(names) {
		t.Fatalf("%d responses for %d requests", n, copies*len(names))
	}
	if rendered == 0 {
		t.Fatal("no release rendered and validated")
	}
}
