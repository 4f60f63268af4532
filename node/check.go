package node

import (
	"errors"

	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/pages"
	"github.com/awningproxy/awning/sites"
	"github.com/awningproxy/awning/state"
	"github.com/awningproxy/awning/tls/certs"
)

// Check reports every problem serve would find in the file at path, in
// one round, sorted by line: the file's own (decoding and validation) and
// those only the components see (host names, page languages, logos and
// templates, the ACME terms and CA root, the Redis URL). It builds no
// node: it opens no socket, starts no goroutine that outlives it, and
// writes nothing; it reads the file and the files it names. It is what
// `awning check-config` runs.
func Check(path string) (*config.Config, error) {
	cfg, errs, err := config.Inspect(path)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		return nil, errs // no structure to check further
	}
	add := func(err error) error {
		var ce config.Errors
		if !errors.As(err, &ce) {
			return err
		}
		for _, e := range ce {
			if !errs.Covers(e.Path) {
				errs = append(errs, e)
			}
		}
		return nil
	}
	for _, err := range checkComponents(cfg) {
		if err := add(err); err != nil {
			return nil, err
		}
	}
	if len(errs) > 0 {
		errs.Sort()
		return nil, errs
	}
	return cfg, nil
}

// allProblems returns, for a configuration error err met while starting or
// reloading from path, every problem check-config reports in the file:
// the decoder stops before the components' checks (host names, page
// languages, logos, the ACME terms), and an operator should not have to
// fix a file in rounds. Run only on failure, so a good file is checked
// once. Any other error is returned as it is.
func allProblems(path string, err error) error {
	var ce config.Errors
	if !errors.As(err, &ce) {
		return err
	}
	if _, all := Check(path); all != nil {
		var ac config.Errors
		if errors.As(all, &ac) && len(ac) >= len(ce) {
			return all
		}
	}
	return err
}

// checkComponents runs the checks of every component that has its own on
// cfg, without building the component.
func checkComponents(cfg *config.Config) []error {
	var out []error
	if _, err := sites.New(cfg); err != nil {
		out = append(out, err)
	}
	for i := range cfg.Sites {
		if _, err := pages.FromConfig(cfg, i); err != nil {
			out = append(out, err)
		}
	}
	if errs := certs.Check(cfg); len(errs) > 0 {
		out = append(out, errs)
	}
	if cfg.State.Redis != "" {
		// A client is made and closed, never used: go-redis dials on the
		// first command.
		c, err := state.OpenRedis(cfg.State.Redis)
		if err != nil {
			out = append(out, config.Errors{cfg.Errorf("state.redis", "%v", err)})
		} else {
			c.Close()
		}
	}
	return out
}
