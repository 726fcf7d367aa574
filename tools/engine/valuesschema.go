package main

import (
	"bytes"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"helm.sh/helm/v3/pkg/chart"
)

// valuesSchemas keeps each chart's values.schema.json compiled once.
//
// helm checks the values against values.schema.json inside install.Run
// (chartutil.ValidateAgainstSchema), compiling the schema again on every render, which costs more
// than rendering most of our charts. The engine therefore renders with SkipSchemaValidation, then
// checks the very values helm would have checked (chartutil.CoalesceValues of the release's
// processed chart and raw values) against the cached compiled schemas, walking chart and subcharts
// as helm does. Whenever that check does not pass cleanly (a violation, a schema that needs a
// loader, a panic, or any render error) the release is rendered again by helm with its own
// validation on, so what comes back (objects or error text) is always exactly helm's.
type valuesSchemas struct {
	mu       sync.Mutex
	compiled map[string]*compiledValuesSchema // keyed by the schema's bytes
}

type compiledValuesSchema struct {
	once   sync.Once
	schema *jsonschema.Schema
	err    error
}

func newValuesSchemas() *valuesSchemas {
	return &valuesSchemas{compiled: map[string]*compiledValuesSchema{}}
}

func (vs *valuesSchemas) get(raw []byte) (*jsonschema.Schema, error) {
	vs.mu.Lock()
	c, ok := vs.compiled[string(raw)]
	if !ok {
		c = &compiledValuesSchema{}
		vs.compiled[string(raw)] = c
	}
	vs.mu.Unlock()
	c.once.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			c.err = err
			return
		}
		compiler := jsonschema.NewCompiler()
		// No loaders: a schema that refers to other documents is left to helm itself.
		compiler.UseLoader(jsonschema.SchemeURLLoader{})
		if c.err = compiler.AddResource("file:///values.schema.json", doc); c.err != nil {
			return
		}
		c.schema, c.err = compiler.Compile("file:///values.schema.json")
	})
	return c.schema, c.err
}

// passes reports whether helm's values-schema check would pass; false also means "not sure".
func (vs *valuesSchemas) passes(ch *chart.Chart, values map[string]interface{}) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	if ch.Schema != nil {
		s, err := vs.get(ch.Schema)
		if err != nil || s.Validate(values) != nil {
			return false
		}
	}
	for _, sub := range ch.Dependencies() {
		raw, exists := values[sub.Name()]
		if !exists || raw == nil {
			continue
		}
		subValues, isMap := raw.(map[string]interface{})
		if !isMap || !vs.passes(sub, subValues) {
			return false
		}
	}
	return true
}
