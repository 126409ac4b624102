package api

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"math"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/ca"
	"github.com/kiwistack/endpoint/server/metrics"
)

// openAPIPath is the document the tests below keep true.
const openAPIPath = "../../docs/openapi.yaml"

// schemaTypes maps each component schema that describes a wire type to
// that type. Every schema of the document is here or in plainSchemas.
var schemaTypes = map[string]reflect.Type{
	"ChallengeRequest":   reflect.TypeFor[protocol.ChallengeRequest](),
	"Challenge":          reflect.TypeFor[protocol.Challenge](),
	"EnrollRequest":      reflect.TypeFor[protocol.EnrollRequest](),
	"EnrollResponse":     reflect.TypeFor[protocol.EnrollResponse](),
	"ClaimRequest":       reflect.TypeFor[protocol.ClaimRequest](),
	"AgentConfig":        reflect.TypeFor[protocol.AgentConfig](),
	"FleetConfig":        reflect.TypeFor[protocol.FleetConfig](),
	"DirectoryConfig":    reflect.TypeFor[protocol.DirectoryConfig](),
	"DiskConfig":         reflect.TypeFor[protocol.DiskConfig](),
	"DiskEscrowRequest":  reflect.TypeFor[protocol.DiskEscrowRequest](),
	"DiskEscrowResponse": reflect.TypeFor[protocol.DiskEscrowResponse](),
	"RecoveryKeyRelease": reflect.TypeFor[protocol.RecoveryKeyRelease](),
	"WireGuardConfig":    reflect.TypeFor[protocol.WireGuardConfig](),
	"CommandList":        reflect.TypeFor[protocol.CommandList](),
	"SignedCommand":      reflect.TypeFor[protocol.SignedCommand](),
	"CommandAck":         reflect.TypeFor[protocol.CommandAck](),
	"ErrorResponse":      reflect.TypeFor[protocol.ErrorResponse](),

	"AppCertificateRequest":  reflect.TypeFor[protocol.AppCertificateRequest](),
	"DeviceReissueRequest":   reflect.TypeFor[protocol.DeviceReissueRequest](),
	"AppCertificateResponse": reflect.TypeFor[protocol.AppCertificateResponse](),

	"AdminCertificateRequest":  reflect.TypeFor[protocol.AdminCertificateRequest](),
	"AdminReissueRequest":      reflect.TypeFor[protocol.AdminReissueRequest](),
	"AdminCertificateResponse": reflect.TypeFor[protocol.AdminCertificateResponse](),
	"AdminRosterEntry":         reflect.TypeFor[protocol.AdminRosterEntry](),

	"OperationRequest":   reflect.TypeFor[protocol.OperationRequest](),
	"SignatureRequest":   reflect.TypeFor[protocol.SignatureRequest](),
	"OperationSignature": reflect.TypeFor[protocol.OperationSignature](),
	"OperationInstance":  reflect.TypeFor[protocol.OperationInstance](),
	"OperationList":      reflect.TypeFor[protocol.OperationList](),
	"AuditEntry":         reflect.TypeFor[protocol.AuditEntry](),
	"AuditPage":          reflect.TypeFor[protocol.AuditPage](),
}

// plainSchemas are the schemas with no Go struct: the reason enum and the
// bodies of /healthz and /readyz (maps in the code).
var plainSchemas = []string{"Reason", "Health", "Ready"}

// httpMethods are the operation keys of an OpenAPI path item.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// openAPI is the parsed document.
type openAPI map[string]any

func loadOpenAPI(t *testing.T) openAPI {
	t.Helper()
	data, err := os.ReadFile(openAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	// Into a plain map: yaml gives nested maps the type of the outer one.
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		t.Fatalf("parsing %s: %v", openAPIPath, err)
	}
	doc := openAPI(raw)
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Fatalf("openapi version %q, want 3.1.x", v)
	}
	return doc
}

// obj returns m[key] as a map, or nil.
func obj(m map[string]any, key string) map[string]any {
	v, _ := m[key].(map[string]any)
	return v
}

// schemas returns components.schemas.
func (d openAPI) schemas() map[string]any { return obj(obj(d, "components"), "schemas") }

// resolve follows a local $ref of v, once or repeatedly.
func (d openAPI) resolve(t *testing.T, v map[string]any) map[string]any {
	t.Helper()
	for v != nil {
		ref, ok := v["$ref"].(string)
		if !ok {
			return v
		}
		var cur map[string]any = d
		for _, p := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			cur = obj(cur, p)
		}
		if cur == nil {
			t.Fatalf("unresolved $ref %s", ref)
		}
		v = cur
	}
	return nil
}

// operations returns "METHOD /path" → operation object.
func (d openAPI) operations() map[string]map[string]any {
	ops := map[string]map[string]any{}
	for path, item := range obj(d, "paths") {
		item, _ := item.(map[string]any)
		for _, m := range httpMethods {
			if op := obj(item, m); op != nil {
				ops[strings.ToUpper(m)+" "+path] = op
			}
		}
	}
	return ops
}

// registeredRoutes returns the string literal patterns this package passes
// to its ServeMux (s.mux.Handle or HandleFunc) in its non-test sources.
func registeredRoutes(t *testing.T) []string {
	t.Helper()
	var routes []string
	for _, f := range parseSources(t, ".") {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
				return true
			}
			if recv, ok := sel.X.(*ast.SelectorExpr); !ok || recv.Sel.Name != "mux" {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				t.Errorf("a route is registered with a pattern that is not a string literal; keep patterns literal so that this test sees them")
				return true
			}
			p, _ := strconv.Unquote(lit.Value)
			routes = append(routes, p)
			return true
		})
	}
	sort.Strings(routes)
	return routes
}

// parseSources parses the non-test Go files of dir.
func parseSources(t *testing.T, dir string) []*ast.File {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	fset := token.NewFileSet()
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, n, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// newMetricsEnv is newEnv with metrics, so that GET /metrics is served.
func newMetricsEnv(t *testing.T, configure ...func(*Config)) *env {
	t.Helper()
	return newEnv(t, append([]func(*Config){func(c *Config) { c.Metrics = metrics.New() }}, configure...)...)
}

// TestOpenAPIRoutes checks that the document's operations are exactly the
// routes the handler registers, and that the handler dispatches each one
// (and none of a list of undocumented ones) to a pattern.
func TestOpenAPIRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	var documented []string
	for k := range doc.operations() {
		documented = append(documented, k)
	}
	sort.Strings(documented)
	registered := registeredRoutes(t)
	if !slices.Equal(documented, registered) {
		t.Errorf("docs/openapi.yaml documents\n  %v\nbut server/api registers\n  %v", documented, registered)
	}

	e := newMetricsEnv(t)
	pattern := func(method, target string) string {
		req := httptest.NewRequest(method, target, nil)
		e.h.ServeHTTP(httptest.NewRecorder(), req)
		return req.Pattern
	}
	for _, route := range documented {
		method, path, _ := strings.Cut(route, " ")
		if got := pattern(method, path); got != route {
			t.Errorf("%s is documented but the handler matched %q", route, got)
		}
	}
	for _, probe := range []string{
		"GET /", "GET /v1/", "GET /v1/challenges", "PUT /v1/challenges", "GET /v1/enrollments",
		"DELETE /v1/enrollments", "GET /v1/devices", "GET /v1/enrollments/x", "POST /healthz",
		"POST /readyz", "POST /metrics", "GET /metrics/x", "GET /v1/admin-certificates", "GET /debug/pprof/",
	} {
		method, path, _ := strings.Cut(probe, " ")
		if slices.Contains(documented, probe) {
			continue
		}
		if got := pattern(method, path); got != "" {
			t.Errorf("%s is served (pattern %q) but not documented in docs/openapi.yaml", probe, got)
		}
	}
}

// TestOpenAPISchemas checks that each schema's properties and required
// list are the JSON fields of its Go type.
func TestOpenAPISchemas(t *testing.T) {
	doc := loadOpenAPI(t)
	schemas := doc.schemas()
	for name := range schemas {
		if _, ok := schemaTypes[name]; !ok && !slices.Contains(plainSchemas, name) {
			t.Errorf("schema %s maps to no Go type: add it to schemaTypes", name)
		}
	}
	for name, typ := range schemaTypes {
		t.Run(name, func(t *testing.T) {
			s := obj(schemas, name)
			if s == nil {
				t.Fatalf("docs/openapi.yaml has no schema %s", name)
			}
			if s["type"] != "object" || s["additionalProperties"] != false {
				t.Errorf("type %v, additionalProperties %v: want a closed object (the API decodes strictly)", s["type"], s["additionalProperties"])
			}
			props := obj(s, "properties")
			var required []string
			for _, r := range s["required"].([]any) {
				required = append(required, r.(string))
			}
			wantProps, wantRequired := map[string]reflect.Type{}, []string{}
			for f := range typ.Fields() {
				if !f.IsExported() {
					continue
				}
				tag := f.Tag.Get("json")
				jname, opts, _ := strings.Cut(tag, ",")
				if jname == "-" {
					continue
				}
				if jname == "" {
					jname = f.Name
				}
				wantProps[jname] = f.Type
				if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
					wantRequired = append(wantRequired, jname)
				}
			}
			for p := range props {
				if _, ok := wantProps[p]; !ok {
					t.Errorf("property %s is not a JSON field of %s", p, typ)
				}
			}
			for p, ft := range wantProps {
				ps, ok := props[p].(map[string]any)
				if !ok {
					t.Errorf("JSON field %s of %s is not documented", p, typ)
					continue
				}
				got, want := schemaType(ps), jsonType(ft)
				if name, ok := strings.CutPrefix(got, "$ref:"); ok && slices.Contains(plainSchemas, name) {
					got = schemaType(obj(schemas, name)) // e.g. Reason, a string enum
				}
				if got != want {
					t.Errorf("property %s: documented as %s, Go type %s is %s", p, got, ft, want)
				}
			}
			sort.Strings(required)
			sort.Strings(wantRequired)
			if !slices.Equal(required, wantRequired) {
				t.Errorf("required %v, want %v (fields without omitempty)", required, wantRequired)
			}
		})
	}
}

// schemaType is a property's JSON type, or "$ref:Name".
func schemaType(s map[string]any) string {
	if ref, ok := s["$ref"].(string); ok {
		return "$ref:" + strings.TrimPrefix(ref, "#/components/schemas/")
	}
	t, _ := s["type"].(string)
	return t
}

// jsonType is the documented type of a Go type: a struct is a $ref to the
// schema of its name.
func jsonType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map:
		return "object"
	case reflect.Struct:
		return "$ref:" + t.Name()
	case reflect.Pointer:
		return jsonType(t.Elem())
	}
	return t.Kind().String()
}

// TestOpenAPIReasons checks that the Reason enum is Reasons(), and that
// Reasons() lists every Reason constant of this package and of
// enroll/protocol.
func TestOpenAPIReasons(t *testing.T) {
	doc := loadOpenAPI(t)
	var enum []string
	for _, v := range obj(doc.schemas(), "Reason")["enum"].([]any) {
		enum = append(enum, v.(string))
	}
	code := Reasons()
	if dup := duplicates(code); len(dup) > 0 {
		t.Errorf("Reasons() lists %v twice", dup)
	}
	sort.Strings(enum)
	sort.Strings(code)
	if !slices.Equal(enum, code) {
		t.Errorf("Reason enum\n  %v\nwant Reasons()\n  %v", enum, code)
	}
	consts := reasonConstants(t)
	if !slices.Equal(consts, code) {
		t.Errorf("Reason constants in the code\n  %v\nbut Reasons() returns\n  %v: add new codes to Reasons", consts, code)
	}
}

func duplicates(s []string) []string {
	seen, dup := map[string]bool{}, []string(nil)
	for _, v := range s {
		if seen[v] {
			dup = append(dup, v)
		}
		seen[v] = true
	}
	return dup
}

// reasonConstants returns the distinct values of the constants named
// Reason… in this package and enroll/protocol: string literals, or
// references to another such constant.
func reasonConstants(t *testing.T) []string {
	t.Helper()
	values := map[string]string{} // constant name → value
	refs := map[string]string{}   // constant name → name of the constant it refers to
	for _, dir := range []string{".", "../../enroll/protocol"} {
		for _, f := range parseSources(t, dir) {
			for _, d := range f.Decls {
				gd, ok := d.(*ast.GenDecl)
				if !ok || gd.Tok != token.CONST {
					continue
				}
				for _, spec := range gd.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, n := range vs.Names {
						if !strings.HasPrefix(n.Name, "Reason") || i >= len(vs.Values) {
							continue
						}
						switch v := vs.Values[i].(type) {
						case *ast.BasicLit:
							values[n.Name], _ = strconv.Unquote(v.Value)
						case *ast.Ident:
							refs[n.Name] = v.Name
						case *ast.SelectorExpr:
							refs[n.Name] = v.Sel.Name
						default:
							t.Errorf("constant %s: cannot read its value", n.Name)
						}
					}
				}
			}
		}
	}
	seen := map[string]bool{}
	for _, v := range values {
		seen[v] = true
	}
	for n, r := range refs {
		if _, ok := values[r]; !ok {
			t.Errorf("constant %s refers to %s, which is not a Reason constant with a literal value", n, r)
		}
	}
	var out []string
	for v := range seen {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// failingCA is a CA whose device signing is down.
type failingCA struct{ CA }

func (failingCA) Sign(context.Context, *x509.CertificateRequest, string, time.Duration) (*x509.Certificate, []*x509.Certificate, error) {
	return nil, nil, errors.New("ca down")
}

func (failingCA) SignAdmin(context.Context, ca.AdminRequest) (*x509.Certificate, []*x509.Certificate, error) {
	return nil, nil, errors.New("ca down")
}

// TestOpenAPIResponses sends real requests and checks that each status is
// documented for its route and that each body validates against the
// documented schema (and each accepted request body against its own).
func TestOpenAPIResponses(t *testing.T) {
	doc := loadOpenAPI(t)
	ops := doc.operations()
	e := newMetricsEnv(t)
	down := newMetricsEnv(t, func(c *Config) { c.CA = failingCA{} })
	closed := newMetricsEnv(t)
	if err := closed.st.Close(); err != nil {
		t.Fatal(err)
	}

	challengeBody := func(tenant string) []byte {
		c := e.begin(t) // a valid device's parameters
		b, _ := json.Marshal(protocol.ChallengeRequest{Operation: protocol.OpEnrollDevice, Tenant: tenant, Params: map[string]string{
			protocol.ParamHardwareFingerprint: c.fingerprint + "-x",
			protocol.ParamDeviceKeySHA256:     c.stmt.DeviceKeySHA256,
			protocol.ParamWireGuardPublicKey:  c.wgKey,
		}})
		return b
	}
	accepted := e.begin(t)
	acceptedBody := accepted.body(t)
	badSig := e.begin(t)
	badSig.signer = newKey(t)
	downCeremony := down.begin(t)
	admin, _ := adminEnv(t, func(c *Config) { c.Metrics = metrics.New() })
	trusted, foreign := attestationPKIs(t)
	adminOK, _ := adminRequest(t, trusted)
	adminOKBody, _ := json.Marshal(adminOK)
	adminForeign, _ := adminRequest(t, foreign)
	adminForeignBody, _ := json.Marshal(adminForeign)
	bearer := "Bearer " + provisioningToken
	claimTok, _ := e.newToken(t, "SER-DOC", tenant, time.Hour)
	claimOK := claimBody(t, claimRequest(t, claimTok, "SER-DOC"))

	for _, tc := range []struct {
		name         string
		e            *env
		method, path string
		ctype        string
		body         []byte
		status       int
		auth         string
	}{
		{"health", e, "GET", "/healthz", "", nil, 200, ""},
		{"ready", e, "GET", "/readyz", "", nil, 200, ""},
		{"not ready", closed, "GET", "/readyz", "", nil, 503, ""},
		{"metrics", e, "GET", "/metrics", "", nil, 200, ""},
		{"challenge", e, "POST", "/v1/challenges", ctJSON, challengeBody(tenant), 201, ""},
		{"challenge media type", e, "POST", "/v1/challenges", "text/plain", challengeBody(tenant), 415, ""},
		{"challenge malformed", e, "POST", "/v1/challenges", ctJSON, []byte(`{"operation":1}`), 400, ""},
		{"challenge other tenant", e, "POST", "/v1/challenges", ctJSON, challengeBody("other"), 403, ""},
		{"challenge too large", e, "POST", "/v1/challenges", ctJSON, bytes.Repeat([]byte(" "), protocol.MaxRequestBytes+1), 413, ""},
		{"enrollment", e, "POST", "/v1/enrollments", ctJSON, acceptedBody, 201, ""},
		{"enrollment replay", e, "POST", "/v1/enrollments", ctJSON, acceptedBody, 409, ""},
		{"enrollment bad signature", e, "POST", "/v1/enrollments", ctJSON, badSig.body(t), 401, ""},
		{"enrollment ca down", down, "POST", "/v1/enrollments", ctJSON, downCeremony.body(t), 502, ""},
		{"claim", e, "POST", "/v1/claims", ctJSON, claimOK, 201, ""},
		{"claim reused", e, "POST", "/v1/claims", ctJSON, claimOK, 409, ""},
		{"claim unknown token", e, "POST", "/v1/claims", ctJSON, claimBody(t, claimRequest(t, protocol.NewBootstrapToken([32]byte{1}), "S")), 401, ""},
		{"claim media type", e, "POST", "/v1/claims", "text/plain", claimOK, 415, ""},
		{"admin certificate", admin, "POST", "/v1/admin-certificates", ctJSON, adminOKBody, 201, bearer},
		{"admin certificate disabled", e, "POST", "/v1/admin-certificates", ctJSON, adminOKBody, 403, bearer},
		{"admin certificate no token", admin, "POST", "/v1/admin-certificates", ctJSON, adminOKBody, 401, ""},
		{"admin certificate malformed", admin, "POST", "/v1/admin-certificates", ctJSON, []byte(`{}`), 400, bearer},
		{"admin certificate foreign attestation", admin, "POST", "/v1/admin-certificates", ctJSON, adminForeignBody, 403, bearer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, tc.e.srv.URL+tc.path, bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := tc.e.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			op := ops[tc.method+" "+tc.path]
			if op == nil {
				t.Fatalf("%s %s is not documented", tc.method, tc.path)
			}
			if resp.StatusCode < 300 && tc.body != nil {
				rb := doc.resolve(t, obj(op, "requestBody"))
				schema := obj(obj(obj(rb, "content"), tc.ctype), "schema")
				if errs := doc.validate(t, schema, decode(t, tc.body), "request"); len(errs) > 0 {
					t.Errorf("request body does not match its schema: %v", errors.Join(errs...))
				}
			}
			r := doc.resolve(t, obj(obj(op, "responses"), strconv.Itoa(resp.StatusCode)))
			if r == nil {
				t.Fatalf("status %d is not documented for %s %s", resp.StatusCode, tc.method, tc.path)
			}
			mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
			if err != nil {
				t.Fatal(err)
			}
			media := obj(obj(r, "content"), mt)
			if media == nil {
				t.Fatalf("content type %s is not documented for %d", mt, resp.StatusCode)
			}
			var v any = string(body)
			if mt == ctJSON {
				v = decode(t, body)
			}
			if errs := doc.validate(t, obj(media, "schema"), v, "response"); len(errs) > 0 {
				t.Errorf("response %s does not match its schema: %v", body, errors.Join(errs...))
			}
		})
	}
}

func decode(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, b)
	}
	return v
}

// validate checks v against schema, for the subset of JSON Schema the
// document uses; any other keyword is an error, so that the document cannot
// say more than this test checks.
func (d openAPI) validate(t *testing.T, schema map[string]any, v any, at string) []error {
	t.Helper()
	if schema == nil {
		return []error{fmt.Errorf("%s: no schema", at)}
	}
	schema = d.resolve(t, schema)
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", at, fmt.Sprintf(format, args...)))
	}
	for k := range schema {
		switch k {
		case "type", "required", "properties", "additionalProperties", "enum", "items", "description":
		default:
			fail("schema keyword %q is not checked by this test's validator; extend it", k)
		}
	}
	switch typ, _ := schema["type"].(string); typ {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			fail("want an object, got %T", v)
			return errs
		}
		reqs, _ := schema["required"].([]any)
		for _, r := range reqs {
			if _, ok := m[r.(string)]; !ok {
				fail("required property %s missing", r)
			}
		}
		props := obj(schema, "properties")
		for k, pv := range m {
			if ps, ok := props[k].(map[string]any); ok {
				errs = append(errs, d.validate(t, ps, pv, at+"."+k)...)
				continue
			}
			switch ap := schema["additionalProperties"].(type) {
			case bool:
				if !ap {
					fail("property %s not allowed", k)
				}
			case map[string]any:
				errs = append(errs, d.validate(t, ap, pv, at+"."+k)...)
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			fail("want an array, got %T", v)
			return errs
		}
		for i, iv := range a {
			errs = append(errs, d.validate(t, obj(schema, "items"), iv, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case "string":
		if _, ok := v.(string); !ok {
			fail("want a string, got %T", v)
		}
	case "integer":
		if f, ok := v.(float64); !ok || f != math.Trunc(f) {
			fail("want an integer, got %v", v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			fail("want a boolean, got %T", v)
		}
	default:
		fail("schema type %q is not checked by this test's validator", typ)
	}
	if enum, ok := schema["enum"].([]any); ok {
		if !slices.ContainsFunc(enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(v) }) {
			fail("%v is not one of %v", v, enum)
		}
	}
	return errs
}

// TestOpenAPIValidator checks that the validator above refuses what it
// should, so that the response checks cannot pass vacuously.
func TestOpenAPIValidator(t *testing.T) {
	doc := loadOpenAPI(t)
	errSchema := obj(doc.schemas(), "ErrorResponse")
	for _, tc := range []struct {
		body string
		ok   bool
	}{
		{`{"reason":"nonce_used","message":"m"}`, true},
		{`{"reason":"nonce_used"}`, false},
		{`{"reason":"no_such_reason","message":"m"}`, false},
		{`{"reason":"nonce_used","message":"m","cause":"secret"}`, false},
		{`{"reason":"nonce_used","message":3}`, false},
		{`["reason"]`, false},
	} {
		errs := doc.validate(t, errSchema, decode(t, []byte(tc.body)), "body")
		if (len(errs) == 0) != tc.ok {
			t.Errorf("%s: errors %v, want ok=%v", tc.body, errs, tc.ok)
		}
	}
	cfg := obj(doc.schemas(), "AgentConfig")
	if errs := doc.validate(t, cfg, decode(t, []byte(`{"version":1.5,"tenant":"a","device_id":"d","ca_url":"","root_fingerprint":"","api_url":""}`)), "body"); len(errs) == 0 {
		t.Error("a non-integer version validates")
	}
}
