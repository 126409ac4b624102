package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// maxJSONDepth bounds the nesting of any JSON this package reads.
const maxJSONDepth = 16

// checkStrictJSON reports an error when data is not exactly one JSON value,
// contains an object with a duplicated key (at any depth), is not valid
// UTF-8, or nests deeper than maxJSONDepth.
func checkStrictJSON(data []byte) error {
	if !utf8.Valid(data) {
		return errors.New("not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := walkJSON(dec, 0); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after JSON value")
	}
	return nil
}

// walkJSON consumes one JSON value from dec, checking duplicate keys.
func walkJSON(dec *json.Decoder, depth int) error {
	if depth > maxJSONDepth {
		return fmt.Errorf("JSON nested deeper than %d levels", maxJSONDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return fmt.Errorf("invalid JSON: %w", err)
			}
			key, ok := k.(string)
			if !ok {
				return errors.New("invalid JSON: object key is not a string")
			}
			if seen[key] {
				return fmt.Errorf("duplicate JSON key %q", key)
			}
			seen[key] = true
			if err := walkJSON(dec, depth+1); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return fmt.Errorf("invalid JSON: %w", err)
		}
	case json.Delim('['):
		for dec.More() {
			if err := walkJSON(dec, depth+1); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return fmt.Errorf("invalid JSON: %w", err)
		}
	}
	return nil
}

// unmarshalStrict decodes data into v after checkStrictJSON, rejecting
// unknown fields. Errors wrap ErrMalformed.
func unmarshalStrict(data []byte, v any) error {
	if err := checkStrictJSON(data); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return nil
}

// DecodeJSON reads one JSON message of at most limit bytes from r into v, a
// pointer to one of this package's wire types. It rejects oversize bodies,
// invalid UTF-8, duplicate keys, unknown fields, trailing data and excessive
// nesting; every error wraps ErrMalformed and says what was wrong. If v has a
// Validate method, DecodeJSON calls it too.
func DecodeJSON(r io.Reader, limit int64, v any) error {
	if limit <= 0 {
		return fmt.Errorf("%w: decode limit must be positive", ErrMalformed)
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return fmt.Errorf("%w: reading body: %w", ErrMalformed, err)
	}
	if int64(len(data)) > limit {
		return fmt.Errorf("%w: body larger than %d bytes", ErrMalformed, limit)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return fmt.Errorf("%w: empty body", ErrMalformed)
	}
	if err := unmarshalStrict(data, v); err != nil {
		return err
	}
	if val, ok := v.(interface{ Validate() error }); ok {
		if err := val.Validate(); err != nil {
			return err
		}
	}
	return nil
}
