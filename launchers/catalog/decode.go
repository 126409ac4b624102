package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/kiwistack/endpoint/launchers/internal/safetext"
)

// MaxBytes is the largest catalog Decode accepts. The seed's seven
// launchers take about 2.5 KiB; 64 KiB leaves room for MaxLaunchers.
const MaxBytes = 64 << 10

// maxDepth bounds nesting while checking for duplicate keys; the catalog
// itself is four levels deep.
const maxDepth = 8

// ErrTooLarge is returned when the input exceeds MaxBytes.
var ErrTooLarge = errors.New("catalog larger than 64 KiB")

// Decode reads one catalog as JSON from r (for example the API's answer)
// and validates it. It refuses input over MaxBytes, unknown fields,
// duplicate keys at any level (encoding/json would silently keep the last),
// anything after the catalog, and every catalog Validate refuses. Errors
// wrap ErrTooLarge or ErrInvalid, or are JSON syntax errors.
func Decode(r io.Reader) (*Catalog, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading catalog: %w", err)
	}
	if len(data) > MaxBytes {
		return nil, ErrTooLarge
	}
	return DecodeBytes(data)
}

// DecodeBytes is Decode on a byte slice.
func DecodeBytes(data []byte) (*Catalog, error) {
	if len(data) > MaxBytes {
		return nil, ErrTooLarge
	}
	if err := checkDuplicateKeys(data); err != nil {
		return nil, fmt.Errorf("decoding catalog: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Catalog
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("decoding catalog: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("decoding catalog: %w: data after the catalog", ErrInvalid)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("catalog for tenant %q: %w", safetext.Printable(c.Tenant), err)
	}
	return &c, nil
}

// checkDuplicateKeys walks the JSON tokens and fails on a repeated key in
// any object, or on nesting deeper than maxDepth.
func checkDuplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var walk func(depth int) error
	walk = func(depth int) error {
		if depth > maxDepth {
			return fmt.Errorf("%w: nested deeper than %d levels", ErrInvalid, maxDepth)
		}
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		d, ok := tok.(json.Delim)
		if !ok {
			return nil
		}
		switch d {
		case '{':
			keys := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				k, _ := kt.(string)
				if keys[k] {
					return fmt.Errorf("%w: duplicate key %q", ErrInvalid, safetext.Printable(k))
				}
				keys[k] = true
				if err := walk(depth + 1); err != nil {
					return err
				}
			}
		case '[':
			for dec.More() {
				if err := walk(depth + 1); err != nil {
					return err
				}
			}
		}
		_, err = dec.Token() // the closing delimiter
		return err
	}
	return walk(0)
}
