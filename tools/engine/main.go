// edgeai-engine renders Helm releases with Helm's own library (the code of `helm template`) and
// validates every rendered object with kubeconform's validator library, for the policy gate.
//
// Protocol: one JSON request per line on stdin, one JSON response per line on stdout, in any order,
// tagged with the request's id (see protocol.go). Charts are loaded once, schemas compiled once.
// At most a few requests per worker are in flight, so memory stays flat however long the stream.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"sync"
)

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var locations stringList
	flag.Var(&locations, "schema-location", "kubeconform schema location template (repeatable), e.g. "+
		"/schemas/{{ .NormalizedKubernetesVersion }}-local-strict/{{ .ResourceKind }}{{ .KindSuffix }}.json")
	workers := flag.Int("workers", runtime.GOMAXPROCS(0), "requests rendered and validated in parallel")
	strict := flag.Bool("strict", false, "kubeconform strict mode: reject duplicate keys; {{ .StrictSuffix }} is -strict")
	exact := flag.Bool("exact-schema-version", false,
		"look schemas up by the exact kubeVersion (v1.34.4) instead of its minor (v1.34.0)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file (for tuning)")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "edgeai-engine:", err)
			os.Exit(2)
		}
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if *workers < 1 {
		*workers = 1
	}

	schemas, err := newSchemaSet(locations, *strict, *exact)
	if err != nil {
		fmt.Fprintln(os.Stderr, "edgeai-engine:", err)
		os.Exit(2)
	}
	defer schemas.close()

	if os.Getenv("GOGC") == "" {
		// The live heap is small (charts, compiled schemas, in-flight requests); collecting less
		// often saves a fifth of the CPU.
		debug.SetGCPercent(400)
	}

	if err := serve(os.Stdin, os.Stdout, *workers, newEngine(schemas)); err != nil {
		fmt.Fprintln(os.Stderr, "edgeai-engine:", err)
		pprof.StopCPUProfile()
		schemas.close()
		os.Exit(1)
	}
}

// serve reads requests until stdin closes, handles them on `workers` goroutines and writes the
// responses as they complete. Channels are small, so a slow reader of stdout stops the intake.
func serve(in io.Reader, out io.Writer, workers int, e *engine) error {
	jobs := make(chan []byte, workers)
	results := make(chan []byte, workers)

	var readErr error
	go func() {
		defer close(jobs)
		br := bufio.NewReaderSize(in, 1<<20)
		for {
			line, err := br.ReadBytes('\n')
			if len(bytes.TrimSpace(line)) > 0 {
				jobs <- line
			}
			if err != nil {
				if err != io.EOF {
					readErr = err
				}
				return
			}
		}
	}()

	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for line := range jobs {
				results <- e.handle(line)
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()

	bw := bufio.NewWriterSize(out, 1<<20)
	var writeErr error
	for b := range results {
		if writeErr != nil {
			continue // keep draining so the workers can finish
		}
		if _, writeErr = bw.Write(b); writeErr == nil {
			writeErr = bw.WriteByte('\n')
		}
		if writeErr == nil && len(results) == 0 {
			writeErr = bw.Flush() // nothing else ready: let the client see what is done
		}
	}
	if writeErr == nil {
		writeErr = bw.Flush()
	}
	if readErr != nil {
		return readErr
	}
	return writeErr
}

// engine is what the workers share: loaded charts, compiled values schemas, kubeconform validators.
type engine struct {
	charts   *chartCache
	vschemas *valuesSchemas
	schemas  *schemaSet
}

func newEngine(schemas *schemaSet) *engine {
	return &engine{charts: newChartCache(), vschemas: newValuesSchemas(), schemas: schemas}
}

// handle turns one request line into one response line; it never fails, errors go into the response.
func (e *engine) handle(line []byte) (out []byte) {
	var req Request
	defer func() {
		if r := recover(); r != nil {
			out = encodeResponse(req.ID, nil, fmt.Errorf("edgeai-engine: panic while rendering: %v", r), nil)
		}
	}()
	if err := json.Unmarshal(line, &req); err != nil {
		return encodeResponse("", nil, fmt.Errorf("edgeai-engine: bad request: %w", err), nil)
	}
	docs, err := render(context.Background(), e.charts, e.vschemas, &req)
	if err != nil {
		return encodeResponse(req.ID, nil, fmt.Errorf("Error: %w", err), nil) // as helm prints it
	}
	var findings []Finding
	if req.Validate && len(docs) > 0 {
		vv, err := e.schemas.forVersion(req.KubeVersion)
		findings = make([]Finding, 0, len(docs))
		for i, d := range docs {
			if err != nil {
				findings = append(findings, Finding{Index: i, Status: "error",
					Errors: []FieldError{{Path: "", Message: err.Error()}}})
				continue
			}
			findings = append(findings, vv.validate(i, d.yaml, d.json))
		}
	}
	return encodeResponse(req.ID, docs, nil, findings)
}

// encodeResponse writes a Response by hand: the objects are already compact JSON (sigs.k8s.io/yaml
// output), so they are copied rather than re-encoded.
func encodeResponse(id string, docs []document, err error, findings []Finding) []byte {
	size := 64
	for _, d := range docs {
		size += len(d.json) + 1
	}
	b := bytes.NewBuffer(make([]byte, 0, size))
	idJSON, _ := json.Marshal(id)
	b.WriteString(`{"id":`)
	b.Write(idJSON)
	b.WriteString(`,"objects":[`)
	for i, d := range docs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(d.json)
	}
	b.WriteString(`],"error":`)
	if err != nil {
		msg, _ := json.Marshal(err.Error())
		b.Write(msg)
	} else {
		b.WriteString("null")
	}
	b.WriteString(`,"schema":`)
	if findings == nil {
		findings = []Finding{}
	}
	f, _ := json.Marshal(findings)
	b.Write(f)
	b.WriteByte('}')
	return b.Bytes()
}
