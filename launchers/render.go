package launchers

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/kiwistack/endpoint/launchers/catalog"
	"github.com/kiwistack/endpoint/launchers/chromium"
	"github.com/kiwistack/endpoint/launchers/dispatch"
	"github.com/kiwistack/endpoint/launchers/fileset"
	"github.com/kiwistack/endpoint/launchers/xdg"
)

// ErrUnsupportedOS is returned for an OS whose renderer is not written yet.
var ErrUnsupportedOS = errors.New("unsupported OS")

// Source says which catalog to use: a file the API sent, or the seed's
// defaults for a tenant.
type Source struct {
	// CatalogFile is a catalog in JSON; when set, Tenant and Routing must
	// be empty or agree with it.
	CatalogFile string
	// Tenant is the tenant slug for the default catalog.
	Tenant string
	// Routing is the routing shape for the default catalog.
	Routing catalog.Routing
}

// Load returns the catalog s names, validated.
func (s Source) Load() (*catalog.Catalog, error) {
	if s.CatalogFile == "" {
		if s.Tenant == "" {
			return nil, errors.New("no catalog: give a tenant slug or a catalog file")
		}
		r := s.Routing
		if r == "" {
			r = catalog.Subdomain
		}
		return catalog.Defaults(s.Tenant, r)
	}
	f, err := os.Open(s.CatalogFile)
	if err != nil {
		return nil, fmt.Errorf("opening the catalog: %w", err)
	}
	defer f.Close()
	c, err := catalog.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.CatalogFile, err)
	}
	if s.Tenant != "" && s.Tenant != c.Tenant || s.Routing != "" && s.Routing != c.Routing {
		return nil, fmt.Errorf("%s is tenant %s with %s routing, not what the flags say", s.CatalogFile, c.Tenant, c.Routing)
	}
	return c, nil
}

// RenderOptions are the inputs of Render.
type RenderOptions struct {
	Source
	// OS is the target: "linux" (darwin and windows are not written yet).
	OS string
	// Root is the directory to write under.
	Root string
	// Browser is the Chromium the launchers run; empty means the first of
	// chromium.LinuxCandidates that LookPath finds.
	Browser string
	// LookPath finds the browser; nil means exec.LookPath.
	LookPath chromium.LookPath
	// Log receives one line per file changed; nil discards.
	Log *slog.Logger
}

// Render renders every launcher file for o.OS from the catalog, applies it
// under o.Root (writing only what changed, removing what left the catalog)
// and reports to out what it did and what to do next.
func Render(out io.Writer, o RenderOptions) (fileset.Result, error) {
	if o.OS != "linux" {
		return fileset.Result{}, fmt.Errorf("--os %q: %w (linux is implemented; darwin and windows are not yet)", o.OS, ErrUnsupportedOS)
	}
	if o.Root == "" {
		return fileset.Result{}, errors.New("no root directory given")
	}
	c, err := o.Load()
	if err != nil {
		return fileset.Result{}, err
	}
	browser, err := findBrowser(o.Browser, o.LookPath)
	if err != nil {
		return fileset.Result{}, err
	}
	set, err := xdg.Render(c, browser)
	if err != nil {
		return fileset.Result{}, err
	}
	res, err := fileset.Writer{Root: o.Root, Manifest: xdg.Manifest, Log: o.Log}.Apply(set)
	if err != nil {
		return res, fmt.Errorf("writing under %s: %w", o.Root, err)
	}
	fmt.Fprintf(out, "Linux launchers for tenant %s (%s routing, %s) under %s, running %s:\n",
		c.Tenant, c.Routing, c.Domain, o.Root, browser.Path)
	for _, p := range res.Written {
		fmt.Fprintf(out, "  wrote     %s\n", p)
	}
	for _, p := range res.Removed {
		fmt.Fprintf(out, "  removed   %s\n", p)
	}
	for _, p := range res.Kept {
		fmt.Fprintf(out, "  kept      %s (changed by someone else since written; remove it by hand if it is not needed)\n", p)
	}
	fmt.Fprintf(out, "%d written, %d unchanged, %d removed; the manifest is %s.\n",
		len(res.Written), len(res.Unchanged), len(res.Removed), filepath.Join(o.Root, xdg.Manifest))
	return res, nil
}

func findBrowser(explicit string, look chromium.LookPath) (chromium.Browser, error) {
	if explicit != "" {
		if !filepath.IsAbs(explicit) {
			return chromium.Browser{}, fmt.Errorf("--browser %q: want an absolute path", explicit)
		}
		return chromium.Browser{Candidate: chromium.Candidate{Command: explicit}, Path: explicit}, nil
	}
	if look == nil {
		look = exec.LookPath
	}
	return chromium.Find(look, chromium.LinuxCandidates)
}

// ExplainOptions are the inputs of Explain.
type ExplainOptions struct {
	Source
	// Browser is the Chromium app windows would use; empty means look it up.
	Browser string
	// LookPath finds the browser; nil means exec.LookPath.
	LookPath chromium.LookPath
	// Previous is the command of the previous default browser (an
	// absolute path); empty when none is recorded.
	Previous string
	// JSON selects the versioned JSON output.
	JSON bool
}

// Explain prints where url would go and why, without opening anything.
func Explain(out io.Writer, url string, o ExplainOptions) error {
	c, err := o.Load()
	if err != nil {
		return err
	}
	cfg := dispatch.Config{Catalog: c}
	if b, err := findBrowser(o.Browser, o.LookPath); err == nil {
		cfg.Browser = b.Path
	} else if o.Browser != "" {
		return err
	}
	if o.Previous != "" {
		if !filepath.IsAbs(o.Previous) {
			return fmt.Errorf("--previous-browser %s: want an absolute path", strconv.Quote(o.Previous))
		}
		cfg.Previous = []string{o.Previous}
	}
	if self, err := os.Executable(); err == nil {
		cfg.Self = self
	}
	return dispatch.Explain(out, url, cfg, o.JSON)
}
