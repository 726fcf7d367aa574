package main

import "encoding/json"

// Request is one line of standard input.
type Request struct {
	ID          string          `json:"id"`
	Chart       string          `json:"chart"`       // absolute path of a chart directory (dependencies vendored)
	Release     string          `json:"release"`     // release name, as `helm template <release>`
	Namespace   string          `json:"namespace"`   // as `--namespace`
	KubeVersion string          `json:"kubeVersion"` // as `--kube-version`; also selects the schemas
	Values      json.RawMessage `json:"values"`      // as `--values -`
	Validate    bool            `json:"validate"`    // validate every object against the Kubernetes schemas
}

// Response is one line of standard output, tagged with the request's id. (encodeResponse writes
// this shape by hand, copying the already-encoded objects.)
type Response struct {
	ID      string            `json:"id"`
	Objects []json.RawMessage `json:"objects"`
	Error   *string           `json:"error"`
	Schema  []Finding         `json:"schema"`
}

// Finding is the schema verdict for objects[Index].
type Finding struct {
	Index  int          `json:"index"`
	Status string       `json:"status"` // valid | invalid | skipped | error
	Errors []FieldError `json:"errors"`
}

// FieldError is one schema violation: a JSON pointer into the object and a message.
type FieldError struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}
