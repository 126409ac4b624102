package ca

// ReadSecretFile reads a small secret file (a key, a password, an enroll
// secret) after checking that only its owner may read or write it
// (0600 on Unix; Windows has no such modes).
func ReadSecretFile(path string) ([]byte, error) { return readSecretFile(path) }
