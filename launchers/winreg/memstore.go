package winreg

import "strings"

// MemStore is a Store in memory, for tests: Values maps
// lower-case "key\x00name" to the value as last set. Keys and names are
// case-insensitive, as in the registry.
type MemStore struct {
	Values map[string]Value
}

func memID(key, name string) string { return strings.ToLower(key) + "\x00" + strings.ToLower(name) }

func (m *MemStore) set(v Value) {
	if m.Values == nil {
		m.Values = map[string]Value{}
	}
	m.Values[memID(v.Key, v.Name)] = v
}

// SetString implements Store.
func (m *MemStore) SetString(key, name, value string) error {
	m.set(Value{Key: key, Name: name, Kind: String, String: value})
	return nil
}

// SetDWORD implements Store.
func (m *MemStore) SetDWORD(key, name string, value uint32) error {
	m.set(Value{Key: key, Name: name, Kind: DWORD, DWord: value})
	return nil
}

// DeleteKey implements Store: every value of the key and of the keys below
// it goes.
func (m *MemStore) DeleteKey(key string) error {
	k := strings.ToLower(key)
	for id, v := range m.Values {
		if l := strings.ToLower(v.Key); l == k || strings.HasPrefix(l, k+`\`) {
			delete(m.Values, id)
		}
	}
	return nil
}

// DeleteValue implements Store.
func (m *MemStore) DeleteValue(key, name string) error {
	delete(m.Values, memID(key, name))
	return nil
}
