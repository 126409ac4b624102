package localstate

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

func TestSeed(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		changed  bool
		want     string // the whole output, when changed
	}{
		{"absent", "", true, `{"net":{"received_http_auth_negotiate_headers":true}}`},
		{"blank", " \n", true, `{"net":{"received_http_auth_negotiate_headers":true}}`},
		{"empty object", "{}", true, `{"net":{"received_http_auth_negotiate_headers":true}}`},
		{"other keys kept", `{"browser":{"enabled_labs_experiments":[]},"net":{"network_service_sandbox":false},"profile":{"info_cache":{"Work":{"name":"Work"}}},"big":12345678901234567890}`, true,
			`{"big":12345678901234567890,"browser":{"enabled_labs_experiments":[]},"net":{"network_service_sandbox":false,"received_http_auth_negotiate_headers":true},"profile":{"info_cache":{"Work":{"name":"Work"}}}}`},
		{"false becomes true", `{"net":{"received_http_auth_negotiate_headers":false}}`, true, `{"net":{"received_http_auth_negotiate_headers":true}}`},
		{"already set", `{"a":1,"net":{"received_http_auth_negotiate_headers":true}}`, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, changed, err := Seed([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if changed != tc.changed {
				t.Fatalf("changed = %v, want %v", changed, tc.changed)
			}
			if !changed {
				if string(got) != tc.in {
					t.Errorf("unchanged, but returned %s", got)
				}
				return
			}
			if string(got) != tc.want {
				t.Errorf("Seed(%s)\n = %s\nwant %s", tc.in, got, tc.want)
			}
		})
	}
}

func TestSeedRefusesGarbage(t *testing.T) {
	for _, in := range []string{
		"not json", "[]", "null", `"s"`, "{", `{"a":1} {"b":2}`, `{"a":1}x`,
		`{"net":[]}`, `{"net":null}`, `{"net":"x"}`,
		`{"net":{"received_http_auth_negotiate_headers":"true"}}`,
		`{"net":{"received_http_auth_negotiate_headers":1}}`,
		string(make([]byte, MaxBytes+1)),
	} {
		out, changed, err := Seed([]byte(in))
		if !errors.Is(err, ErrInvalid) || out != nil || changed {
			t.Errorf("Seed(%.40q) = %.40q, %v, %v; want ErrInvalid and nothing", in, out, changed, err)
		}
	}
}

// FuzzSeed: whatever the input, Seed either refuses it with ErrInvalid or
// returns a JSON object with the flag set that keeps every top-level key,
// and seeding that again changes nothing.
func FuzzSeed(f *testing.F) {
	for _, s := range []string{"", "{}", `{"net":{"x":1}}`, `{"net":{"received_http_auth_negotiate_headers":false}}`, `{"a":[1,{"b":null}]}`, "[", `{"net":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, changed, err := Seed(in)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error without ErrInvalid: %v", err)
			}
			if out != nil || changed {
				t.Fatal("an error with output")
			}
			return
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("output is not a JSON object: %v: %s", err, out)
		}
		var net struct {
			Flag *bool `json:"received_http_auth_negotiate_headers"`
		}
		if err := json.Unmarshal(m["net"], &net); err != nil || net.Flag == nil || !*net.Flag {
			t.Fatalf("flag not set in %s", out)
		}
		if len(bytes.Trim(in, jsonSpace)) > 0 {
			var before map[string]json.RawMessage
			if err := json.Unmarshal(in, &before); err != nil {
				t.Fatalf("accepted input that is not an object: %v", err)
			}
			for k := range before {
				if _, ok := m[k]; !ok {
					t.Fatalf("key %q lost", k)
				}
			}
		}
		again, changed2, err := Seed(out)
		if err != nil || changed2 || !bytes.Equal(again, out) {
			t.Fatalf("seeding twice changed it: %v %v", changed2, err)
		}
		_ = changed
	})
}
