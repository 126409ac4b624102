// Package pemkey reads ECDSA private keys stored as PKCS #8 PEM ("PRIVATE
// KEY" blocks), the form in which this project writes its device and CA
// keys. It does not write keys, decrypt them or read other key types.
package pemkey

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// ParseECDSA parses the first PEM block of data as a PKCS #8 ECDSA private
// key.
func ParseECDSA(data []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("no PEM private key")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("unexpected key type %T", k)
	}
	return key, nil
}
