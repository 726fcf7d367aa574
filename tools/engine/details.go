package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// detailer explains why kubeconform found an object invalid.
//
// kubeconform's Result lists only the first level of the schema validator's error tree, and the
// Kubernetes schemas reach every field through $refs, so an error at /spec/replicas comes back as
// "/spec: validation failed". For the objects kubeconform calls invalid (few, and only those), the
// same schema file is compiled once more here, with the same library, and the leaves of the error
// tree are reported: the exact field and what is wrong with it. The verdict stays kubeconform's.
type detailer struct {
	locations []string
	strict    bool
	version   string
	loader    jsonschema.SchemeURLLoader

	mu      sync.Mutex
	schemas map[string]*detailSchema // apiVersion/kind -> compiled schema (nil: none found)
}

type detailSchema struct {
	once   sync.Once
	schema *jsonschema.Schema
}

// localURLs serves the remote documents the schemas $ref (their shared definitions) from local files.
type localURLs map[string]string

func (l localURLs) Load(url string) (any, error) {
	path, ok := l[url]
	if !ok {
		return nil, fmt.Errorf("%s is not available offline", url)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return jsonschema.UnmarshalJSON(f)
}

func newDetailer(locations []string, strict bool, version string, remote map[string]string) *detailer {
	return &detailer{
		locations: locations, strict: strict, version: version,
		loader: jsonschema.SchemeURLLoader{
			"file": jsonschema.FileLoader{}, "http": localURLs(remote), "https": localURLs(remote),
		},
		schemas: map[string]*detailSchema{},
	}
}

func (d *detailer) schemaFor(apiVersion, kind string) *jsonschema.Schema {
	key := apiVersion + "/" + kind
	d.mu.Lock()
	s, ok := d.schemas[key]
	if !ok {
		s = &detailSchema{}
		d.schemas[key] = s
	}
	d.mu.Unlock()
	s.once.Do(func() {
		for _, loc := range d.locations {
			if strings.HasPrefix(loc, "http://") || strings.HasPrefix(loc, "https://") {
				continue
			}
			path, err := expandLocation(loc, kind, apiVersion, d.version, d.strict)
			if err != nil {
				continue
			}
			if _, err := os.Stat(path); err != nil {
				continue
			}
			c := jsonschema.NewCompiler()
			c.UseLoader(d.loader)
			c.DefaultDraft(jsonschema.Draft4) // as kubeconform compiles them
			if compiled, err := c.Compile(path); err == nil {
				s.schema = compiled
				return
			}
		}
	})
	return s.schema
}

// explain returns the leaves of the error tree for one object, or nil when it cannot tell.
func (d *detailer) explain(apiVersion, kind string, jsonDoc []byte) []FieldError {
	schema := d.schemaFor(apiVersion, kind)
	if schema == nil {
		return nil
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(jsonDoc))
	if err != nil {
		return nil
	}
	verr, ok := schema.Validate(inst).(*jsonschema.ValidationError)
	if !ok || verr == nil {
		return nil
	}
	printer := message.NewPrinter(language.English)
	var out []FieldError
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			out = append(out, FieldError{Path: pointer(e.InstanceLocation), Message: e.ErrorKind.LocalizedString(printer)})
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(verr)
	return out
}

// pointer is the JSON pointer (RFC 6901) of a location in the object.
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1"))
	}
	return b.String()
}
