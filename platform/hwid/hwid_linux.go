//go:build linux

package hwid

import "context"

func readOS(ctx context.Context) (Fingerprint, error) {
	if err := ctx.Err(); err != nil {
		return Fingerprint{}, err
	}
	return ReadLinux("/")
}
