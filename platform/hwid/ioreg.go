package hwid

import (
	"bufio"
	"bytes"
	"errors"
	"slices"
	"strings"
)

// parseIOReg returns IOPlatformUUID and IOPlatformSerialNumber, in that
// order and when present, from the output of
// ioreg -rd1 -c IOPlatformExpertDevice: lines of the form
//
//	"IOPlatformUUID" = "9C8D3F1E-..."
//
// inside the first object. Values that are not quoted strings are ignored.
func parseIOReg(out []byte) ([]Source, error) {
	want := []string{SourceIOPlatformUUID, SourceIOPlatformSerialNumber}
	found := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "+-o") && len(found) > 0 {
			break // the next object
		}
		key, value, ok := strings.Cut(line, " = ")
		if !ok || len(key) < 2 || key[0] != '"' || key[len(key)-1] != '"' {
			continue
		}
		key = key[1 : len(key)-1]
		if _, dup := found[key]; dup || !slices.Contains(want, key) {
			continue
		}
		if len(value) < 2 || value[0] != '"' || value[len(value)-1] != '"' {
			continue
		}
		value = value[1 : len(value)-1]
		if strings.ContainsAny(value, "\"\\") {
			continue // escaped content is never a UUID or serial
		}
		found[key] = value
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	var sources []Source
	for _, k := range want {
		if v, ok := found[k]; ok {
			sources = append(sources, Source{Name: k, Value: v})
		}
	}
	if len(sources) == 0 {
		return nil, errors.New("no IOPlatformUUID or IOPlatformSerialNumber in ioreg output")
	}
	return sources, nil
}
