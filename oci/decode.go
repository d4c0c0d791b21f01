package oci

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// The fields of the runtime spec's seccomp objects, spelled exactly. Go's
// decoder matches field names regardless of case and would take
// "DefaultAction" for "defaultAction"; crun's parser would not, so a
// profile must spell them as the spec does.
var (
	seccompFields = []string{"defaultAction", "defaultErrnoRet", "architectures", "flags",
		"listenerPath", "listenerMetadata", "syscalls"}
	syscallFields = []string{"names", "action", "errnoRet", "args"}
	argFields     = []string{"index", "value", "valueTwo", "op"}
)

// Decode reads a profile: a bare linux.seccomp object (it has a
// "defaultAction"), or a whole config.json (it has an "ociVersion" or a
// "linux"), of which it takes linux.seccomp. Inside the seccomp object
// every field must be one of the runtime spec's (v1.3.0), spelled as the
// spec does; the rest of a config.json is the runtime's business and is
// not checked. Errors are one line each.
func Decode(data []byte) (*specs.LinuxSeccomp, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, jsonError(data, err)
	}
	raw := json.RawMessage(data)
	if _, bare := top["defaultAction"]; !bare {
		_, config := top["ociVersion"]
		linux, hasLinux := top["linux"]
		if !config && !hasLinux {
			return nil, errors.New(`neither a linux.seccomp object (no "defaultAction") ` +
				`nor an OCI config.json (no "ociVersion")`)
		}
		var l map[string]json.RawMessage
		if hasLinux && !isNull(linux) {
			if err := json.Unmarshal(linux, &l); err != nil {
				return nil, errors.New(`config.json: "linux" is not an object`)
			}
		}
		raw = l["seccomp"]
		if raw == nil || isNull(raw) {
			return nil, errors.New("config.json has no linux.seccomp")
		}
	}
	var p specs.LinuxSeccomp
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, jsonError(raw, err)
	}
	if err := checkFields(raw); err != nil {
		return nil, err
	}
	return &p, nil
}

// checkFields refuses a field of the seccomp object, of a syscalls entry
// or of an argument condition that the runtime spec does not define. raw
// has been decoded into specs.LinuxSeccomp already, so its shape is right.
func checkFields(raw json.RawMessage) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return err
	}
	if err := unknownField(top, seccompFields, "linux.seccomp"); err != nil {
		return err
	}
	var entries []map[string]json.RawMessage
	if s, ok := top["syscalls"]; ok {
		if err := json.Unmarshal(s, &entries); err != nil {
			return err
		}
	}
	for i, e := range entries {
		where := fmt.Sprintf("syscalls entry %d", i+1)
		if err := unknownField(e, syscallFields, where); err != nil {
			return err
		}
		var args []map[string]json.RawMessage
		if a, ok := e["args"]; ok {
			if err := json.Unmarshal(a, &args); err != nil {
				return err
			}
		}
		for j, arg := range args {
			if err := unknownField(arg, argFields,
				fmt.Sprintf("%s, args %d", where, j+1)); err != nil {
				return err
			}
		}
	}
	return nil
}

func unknownField(obj map[string]json.RawMessage, known []string, where string) error {
	var bad []string
	for k := range obj {
		if !slices.Contains(known, k) {
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	slices.Sort(bad)
	return fmt.Errorf("unknown field %q in %s", bad[0], where)
}

func isNull(raw json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// jsonError words a decoding error of data in one line, with the line
// number of a syntax error.
func jsonError(data []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		line := 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
		return fmt.Errorf("not valid JSON: %v (line %d)", se, line)
	case errors.As(err, &te) && te.Field == "":
		return fmt.Errorf("not a JSON object but a JSON %s", te.Value)
	case errors.As(err, &te):
		return fmt.Errorf("field %q holds a JSON %s, not a %s", te.Field, te.Value, te.Type)
	}
	return fmt.Errorf("not valid JSON: %v", err)
}
