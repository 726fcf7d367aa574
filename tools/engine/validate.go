package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/template"

	"github.com/yannh/kubeconform/pkg/resource"
	"github.com/yannh/kubeconform/pkg/validator"
	"helm.sh/helm/v3/pkg/chartutil"
)

// schemaSet holds one kubeconform validator per Kubernetes schema version, created on first use
// and shared by all workers.
//
// Thread safety: kubeconform's validator keeps compiled schemas in an in-memory cache guarded by
// a RWMutex, its file and HTTP loaders are stateless (the on-disk cache is mutex-guarded), and a
// compiled jsonschema.Schema is read-only, so ValidateResource may run concurrently. Two
// goroutines that miss the cache for the same kind would both compile it, so the first
// validation of each (apiVersion, kind) is serialised here.
type schemaSet struct {
	locations    []string
	strict       bool
	exactVersion bool // false: 1.34.4 -> the 1.34.0 schemas (one folder per minor, as kubernetes-validate ships)
	tmpDir       string

	mu         sync.Mutex
	validators map[string]*versionValidator
}

type versionValidator struct {
	v       validator.Validator
	err     error
	details *detailer

	mu    sync.Mutex
	first map[string]*sync.Mutex // (apiVersion, kind) -> held while its schema is compiled
	ready sync.Map               // (apiVersion, kind) -> true once compiled (or known missing)
}

func newSchemaSet(locations []string, strict, exactVersion bool) (*schemaSet, error) {
	dir, err := os.MkdirTemp("", "edgeai-engine-")
	if err != nil {
		return nil, err
	}
	return &schemaSet{locations: locations, strict: strict, exactVersion: exactVersion, tmpDir: dir,
		validators: map[string]*versionValidator{}}, nil
}

func (s *schemaSet) close() { _ = os.RemoveAll(s.tmpDir) }

// schemaVersion maps a site's Kubernetes version to the version the schema locations are keyed by.
func (s *schemaSet) schemaVersion(kubeVersion string) (string, error) {
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		return "", fmt.Errorf("invalid kube version '%s': %s", kubeVersion, err)
	}
	if s.exactVersion {
		return strings.TrimPrefix(kv.Version, "v"), nil
	}
	return fmt.Sprintf("%s.%s.0", kv.Major, strings.TrimSuffix(kv.Minor, "+")), nil
}

func (s *schemaSet) forVersion(kubeVersion string) (*versionValidator, error) {
	if kubeVersion == "" {
		return nil, fmt.Errorf("validation needs the site's kubeVersion")
	}
	version, err := s.schemaVersion(kubeVersion)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if vv, ok := s.validators[version]; ok {
		return vv, vv.err
	}
	vv := &versionValidator{first: map[string]*sync.Mutex{}}
	remote := map[string]string{}
	vv.v, vv.err = s.newValidator(version, remote)
	vv.details = newDetailer(s.locations, s.strict, version, remote)
	s.validators[version] = vv
	return vv, vv.err
}

// newValidator builds kubeconform's validator for one schema version and proves it works offline.
//
// The kubernetes-validate schemas $ref "/api/_definitions.json#/$defs/...", which resolves against
// their $id to https://kubernetes.io/api/_definitions.json. kubeconform fetches such refs with its
// HTTP loader, which reads its schema cache (Opts.Cache: one file per URL, named by the URL's
// sha256) before the network; so the _definitions.json next to the local schemas is linked into a
// per-version cache folder under that name, and nothing is ever downloaded.
func (s *schemaSet) newValidator(version string, remote map[string]string) (validator.Validator, error) {
	cache := filepath.Join(s.tmpDir, "v"+version)
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, err
	}
	for _, loc := range s.locations {
		if strings.HasPrefix(loc, "http://") || strings.HasPrefix(loc, "https://") {
			continue
		}
		probe, err := expandLocation(loc, "ConfigMap", "v1", version, s.strict)
		if err != nil {
			return nil, err
		}
		defs := filepath.Join(filepath.Dir(probe), "_definitions.json")
		id, err := schemaID(defs)
		if err != nil {
			continue // this location has no shared definitions
		}
		link := filepath.Join(cache, sha256Hex(id))
		if _, err := os.Lstat(link); err == nil {
			continue // an earlier location already provides this URL
		}
		remote[id] = defs
		if err := os.Symlink(defs, link); err != nil {
			return nil, err
		}
	}
	v, err := validator.New(s.locations, validator.Opts{
		Cache:                cache,
		KubernetesVersion:    version,
		Strict:               s.strict,
		IgnoreMissingSchemas: true, // a kind with no schema (a custom resource) is reported as skipped
	})
	if err != nil {
		return nil, err
	}
	// With IgnoreMissingSchemas a schema that fails to load would silently read as "skipped"; make
	// sure the built-in kinds really resolve for this version.
	probe := []byte(`{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "probe"}}`)
	res := v.ValidateResource(resource.Resource{Path: "probe", Bytes: probe})
	if res.Status != validator.Valid {
		detail := ""
		if res.Err != nil {
			detail = ": " + res.Err.Error()
		}
		return nil, fmt.Errorf("no usable Kubernetes schemas for version %s at %s (a ConfigMap came back %s%s)",
			version, strings.Join(s.locations, ", "), statusName(res.Status), detail)
	}
	return v, nil
}

// validate checks one rendered document; yamlDoc is what kubeconform reads, kind/apiVersion come from jsonDoc.
func (vv *versionValidator) validate(index int, yamlDoc, jsonDoc []byte) Finding {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	_ = json.Unmarshal(jsonDoc, &head)
	key := head.APIVersion + "/" + head.Kind
	res := resource.Resource{Path: "stdin", Bytes: yamlDoc}
	var r validator.Result
	if _, ok := vv.ready.Load(key); ok {
		r = vv.v.ValidateResource(res)
	} else {
		r = vv.validateFirst(key, res)
	}
	f := finding(index, r)
	if r.Status == validator.Invalid {
		if leaves := vv.details.explain(head.APIVersion, head.Kind, jsonDoc); len(leaves) > 0 {
			f.Errors = leaves
		}
	}
	return f
}

// validateFirst validates the first object of a kind alone, so that its schema is compiled once.
func (vv *versionValidator) validateFirst(key string, res resource.Resource) validator.Result {
	vv.mu.Lock()
	m, ok := vv.first[key]
	if !ok {
		m = &sync.Mutex{}
		vv.first[key] = m
	}
	vv.mu.Unlock()
	m.Lock()
	defer m.Unlock()
	r := vv.v.ValidateResource(res)
	vv.ready.Store(key, true)
	return r
}

func finding(index int, r validator.Result) Finding {
	f := Finding{Index: index, Status: statusName(r.Status), Errors: []FieldError{}}
	switch r.Status {
	case validator.Invalid:
		for _, e := range r.ValidationErrors {
			f.Errors = append(f.Errors, FieldError{Path: e.Path, Message: e.Msg})
		}
		if len(f.Errors) == 0 && r.Err != nil {
			f.Errors = append(f.Errors, FieldError{Path: "", Message: r.Err.Error()})
		}
	case validator.Error:
		msg := "error"
		if r.Err != nil {
			msg = r.Err.Error()
		}
		f.Errors = append(f.Errors, FieldError{Path: "", Message: msg})
	}
	return f
}

func statusName(s validator.Status) string {
	switch s {
	case validator.Valid:
		return "valid"
	case validator.Invalid:
		return "invalid"
	case validator.Skipped, validator.Empty:
		return "skipped"
	default:
		return "error"
	}
}

// expandLocation fills a kubeconform schema location template the way kubeconform does
// (github.com/yannh/kubeconform/pkg/registry), to find where a location's files live.
func expandLocation(tpl, kind, apiVersion, version string, strict bool) (string, error) {
	if !strings.HasSuffix(tpl, "json") {
		tpl += "/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json"
	}
	groupParts := strings.Split(apiVersion, "/")
	versionParts := strings.Split(groupParts[0], ".")
	kindSuffix := "-" + strings.ToLower(versionParts[0])
	if len(groupParts) > 1 {
		kindSuffix += "-" + strings.ToLower(groupParts[1])
	}
	strictSuffix := ""
	if strict {
		strictSuffix = "-strict"
	}
	data := struct {
		NormalizedKubernetesVersion, StrictSuffix, ResourceKind, ResourceAPIVersion, Group, KindSuffix string
	}{"v" + version, strictSuffix, strings.ToLower(kind), groupParts[len(groupParts)-1], groupParts[0], kindSuffix}
	t, err := template.New("location").Parse(tpl)
	if err != nil {
		return "", fmt.Errorf("bad schema location %q: %w", tpl, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("bad schema location %q: %w", tpl, err)
	}
	return b.String(), nil
}

// schemaID reads the "$id" of a JSON schema file.
func schemaID(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var doc struct {
		ID string `json:"$id"`
	}
	if err := json.NewDecoder(f).Decode(&doc); err != nil {
		return "", err
	}
	if doc.ID == "" {
		return "", fmt.Errorf("%s has no $id", path)
	}
	return doc.ID, nil
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
