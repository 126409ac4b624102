//go:build !windows

package bitlocker

import "context"

func run(context.Context, []string) ([]byte, error) { return nil, ErrNotWindows }
