package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/release"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// chartCache loads each chart once. Charts are immutable during a run; the Python side
// vendors dependencies (`helm dependency build`) before it sends a request.
//
// action.Install mutates the chart it renders (chartutil.ProcessDependenciesWithMerge rewrites
// Metadata.Dependencies, the subchart list and Values), so every render gets its own clone.
type chartCache struct {
	mu     sync.Mutex
	charts map[string]*chartEntry
}

type chartEntry struct {
	mu    sync.Mutex
	chart *chart.Chart
}

func newChartCache() *chartCache { return &chartCache{charts: map[string]*chartEntry{}} }

// get returns a private copy of the chart at path; load errors are not cached.
func (c *chartCache) get(path string) (*chart.Chart, error) {
	c.mu.Lock()
	e, ok := c.charts[path]
	if !ok {
		e = &chartEntry{}
		c.charts[path] = e
	}
	c.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.chart == nil {
		ch, err := loadLikeHelmTemplate(path)
		if err != nil {
			return nil, err
		}
		e.chart = ch
	}
	return cloneChart(e.chart), nil
}

// loadLikeHelmTemplate does what `helm template` does with a local chart path before it installs.
func loadLikeHelmTemplate(path string) (*chart.Chart, error) {
	abs, err := filepath.Abs(strings.TrimSpace(path))
	if err != nil {
		return nil, err
	}
	ch, err := loader.Load(abs)
	if err != nil {
		return nil, err
	}
	switch ch.Metadata.Type {
	case "", "application":
	default:
		return nil, fmt.Errorf("%s charts are not installable", ch.Metadata.Type)
	}
	if req := ch.Metadata.Dependencies; req != nil {
		if err := action.CheckDependencies(ch, req); err != nil {
			return nil, fmt.Errorf("An error occurred while checking for chart dependencies. "+
				"You may need to run `helm dependency build` to fetch missing dependencies: %w", err)
		}
	}
	return ch, nil
}

// cloneChart copies everything action.Install may change; templates and files are shared read-only.
func cloneChart(c *chart.Chart) *chart.Chart {
	out := *c
	if c.Metadata != nil {
		md := *c.Metadata
		if c.Metadata.Dependencies != nil {
			md.Dependencies = make([]*chart.Dependency, len(c.Metadata.Dependencies))
			for i, d := range c.Metadata.Dependencies {
				if d != nil {
					dd := *d
					md.Dependencies[i] = &dd
				}
			}
		}
		out.Metadata = &md
	}
	out.Values = copyMap(c.Values)
	subs := c.Dependencies()
	cloned := make([]*chart.Chart, len(subs))
	for i, s := range subs {
		cloned[i] = cloneChart(s)
	}
	out.SetDependencies(cloned...) // also points each clone's parent at out
	return &out
}

func copyMap(m map[string]interface{}) map[string]interface{} {
	if m == nil {
		return nil
	}
	out := make(map[string]interface{}, len(m))
	for k, v := range m {
		out[k] = copyValue(v)
	}
	return out
}

func copyValue(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		return copyMap(t)
	case chartutil.Values:
		return chartutil.Values(copyMap(t))
	case []interface{}:
		out := make([]interface{}, len(t))
		for i, x := range t {
			out[i] = copyValue(x)
		}
		return out
	default:
		return v
	}
}

// document is one rendered YAML document: its source text and its JSON form.
type document struct {
	yaml []byte
	json []byte
}

// render renders a release exactly like
//
//	helm template <release> <chart> --namespace <ns> --kube-version <v> --values -
//
// and returns the documents in the order helm prints them (manifests, then hooks), empty ones dropped.
// The error text is the one helm prints after "Error: ".
func render(ctx context.Context, charts *chartCache, vschemas *valuesSchemas, req *Request) ([]document, error) {
	// The checks `helm template` makes before it renders, in its order, with its messages.
	var kubeVersion *chartutil.KubeVersion
	if req.KubeVersion != "" {
		kv, err := chartutil.ParseKubeVersion(req.KubeVersion)
		if err != nil {
			return nil, fmt.Errorf("invalid kube version '%s': %s", req.KubeVersion, err)
		}
		kubeVersion = kv
	}
	if _, err := os.Stat(strings.TrimSpace(req.Chart)); err != nil {
		return nil, fmt.Errorf("path %q not found", strings.TrimSpace(req.Chart))
	}
	if _, err := parseValues(req); err != nil {
		return nil, err
	}

	// Fast path: helm renders, the values schema is checked against the cached compiled schema.
	rel, err := install(ctx, charts, req, kubeVersion, true)
	if err == nil {
		coalesced, cerr := chartutil.CoalesceValues(rel.Chart, rel.Config)
		if cerr != nil || !vschemas.passes(rel.Chart, coalesced.AsMap()) {
			err = errRedo
		}
	}
	if err != nil {
		// Anything but a clean pass: let helm do it all, its own way, for its exact output or error.
		if rel, err = install(ctx, charts, req, kubeVersion, false); err != nil {
			if rel != nil {
				return nil, fmt.Errorf("%w\n\nUse --debug flag to render out invalid YAML", err)
			}
			return nil, err
		}
	}

	var out bytes.Buffer
	fmt.Fprintln(&out, strings.TrimSpace(rel.Manifest))
	for _, h := range rel.Hooks {
		fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", h.Path, h.Manifest)
	}
	return splitDocuments(out.Bytes())
}

// parseValues reads the request's values the way helm reads `--values -` (sigs.k8s.io/yaml; JSON is
// YAML), so they arrive typed exactly as they would in helm.
func parseValues(req *Request) (map[string]interface{}, error) {
	values := map[string]interface{}{}
	if len(req.Values) > 0 {
		if err := yaml.Unmarshal(req.Values, &values); err != nil {
			return nil, fmt.Errorf("failed to parse -: %w", err)
		}
		if values == nil {
			values = map[string]interface{}{}
		}
	}
	return values, nil
}

var errRedo = errors.New("render again with helm's own values validation")

// install runs action.Install the way `helm template` sets it up (client-only dry run, no CRDs).
func install(ctx context.Context, charts *chartCache, req *Request, kubeVersion *chartutil.KubeVersion,
	skipSchemaValidation bool) (*release.Release, error) {
	values, err := parseValues(req) // a private copy, like the chart
	if err != nil {
		return nil, err
	}
	ch, err := charts.get(req.Chart) // a private copy: Run mutates it
	if err != nil {
		return nil, err
	}
	cfg := &action.Configuration{Log: func(string, ...interface{}) {}}
	client := action.NewInstall(cfg)
	client.KubeVersion = kubeVersion
	client.DryRun = true
	client.DryRunOption = "true"
	client.ReleaseName = req.Release
	client.Replace = true // skip the name check, as helm template does
	client.ClientOnly = true
	client.IncludeCRDs = false
	client.Namespace = req.Namespace
	client.SkipSchemaValidation = skipSchemaValidation
	return client.RunWithContext(ctx, ch, values)
}

// splitDocuments cuts a YAML stream into documents and converts each to JSON, dropping empty ones
// (null, {}, [], "", false, 0: what `[d for d in yaml.safe_load_all(out) if d]` drops).
func splitDocuments(stream []byte) ([]document, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(stream)))
	var docs []document
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("rendered output is not valid YAML: %w", err)
		}
		if isEmptyJSON(js) {
			continue
		}
		docs = append(docs, document{yaml: doc, json: js})
	}
}

func isEmptyJSON(js []byte) bool {
	switch string(bytes.TrimSpace(js)) {
	case "", "null", "{}", "[]", `""`, "false", "0":
		return true
	}
	return false
}
