package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// apiFlags are the flags every command that talks to the admin API has.
type apiFlags struct {
	admin, token string
	json         bool
}

func (f *apiFlags) register(cmd *cobra.Command) {
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.admin, "admin", "", "admin API address (default $AWNING_ADMIN, else http://127.0.0.1:9090)")
	pf.StringVar(&f.token, "token", "", "admin token (default $AWNING_TOKEN)")
	pf.BoolVar(&f.json, "json", false, "print the API's JSON instead of a summary")
}

// apiClient calls the admin API.
type apiClient struct {
	base, token string
	http        *http.Client
}

func (f *apiFlags) client() (*apiClient, error) {
	base := f.admin
	if base == "" {
		base = os.Getenv("AWNING_ADMIN")
	}
	if base == "" {
		base = "http://127.0.0.1:9090"
	}
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	tok := f.token
	if tok == "" {
		tok = os.Getenv("AWNING_TOKEN")
	}
	if tok == "" {
		return nil, errors.New("no admin token: set AWNING_TOKEN (or --token); `awning token new` makes one")
	}
	return &apiClient{base: strings.TrimSuffix(base, "/"), token: tok, http: &http.Client{Timeout: 15 * time.Second}}, nil
}

// apiError is an error the API answered with.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("%s (HTTP %d)", e.msg, e.status) }

// call sends a request; body is JSON-encoded unless it is []byte (sent as
// ctype); header holds extra header names and values, in pairs. It returns
// the response body of a 2xx answer, else the API's error.
func (c *apiClient) call(ctx context.Context, method, path string, body any, ctype string, header ...string) ([]byte, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd, ctype = bytes.NewReader(data), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("admin API at %s: %w (is awning running, and AWNING_ADMIN right?)", c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		var e struct{ Error string }
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(data))
		}
		return nil, &apiError{resp.StatusCode, e.Error}
	}
	return data, nil
}

// scoped returns the API client and the path of a per-site or all-sites
// resource, as the commands that take --site or --all need both.
func (f *apiFlags) scoped(site string, all bool, resource string) (*apiClient, string, error) {
	c, err := f.client()
	if err != nil {
		return nil, "", err
	}
	path, err := scopePath(site, all, resource)
	if err != nil {
		return nil, "", err
	}
	return c, path, nil
}

// scopePath returns the API path of a per-site or all-sites resource.
func scopePath(site string, all bool, resource string) (string, error) {
	switch {
	case all && site != "":
		return "", errors.New("give --site or --all, not both")
	case all:
		return "/v1/" + resource, nil
	case site != "":
		return "/v1/sites/" + site + "/" + resource, nil
	}
	return "", errors.New("say which shop: --site NAME, or --all for every site")
}

// messages parses repeated "lang=text" flags.
func messages(flag string, vals []string) (map[string]string, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, v := range vals {
		lang, text, ok := strings.Cut(v, "=")
		if !ok || lang == "" {
			return nil, fmt.Errorf("--%s %q: write it as lang=text, such as nl=\"We zijn zo terug\"", flag, v)
		}
		out[lang] = text
	}
	return out, nil
}

// printJSON writes data indented.
func printJSON(w io.Writer, data []byte) {
	var v any
	if json.Unmarshal(data, &v) == nil {
		data, _ = json.MarshalIndent(v, "", "  ")
	}
	fmt.Fprintln(w, string(data))
}
