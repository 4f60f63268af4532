package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// printConsoleLinks prints the web console's address with a one-time
// sign-in link for the demo's ops token and for its merchant token. The
// links come from the admin API (POST /v1/session/link), as they would for
// any client: the demo has no way in of its own.
func printConsoleLinks(w io.Writer, admin, opsToken, merchantToken string) {
	base := "http://" + admin
	ops, err1 := consoleLink(base, opsToken)
	merchant, err2 := consoleLink(base, merchantToken)
	if err1 != nil || err2 != nil {
		fmt.Fprintf(w, "Web console             %s/ui/ (no sign-in link: %v %v)\n", base, err1, err2)
		return
	}
	fmt.Fprintf(w, `Web console (each link signs in once, within 15 minutes; a token works too):
  as ops                %s%s
  as the merchant       %s%s
        # the merchant of bakkerij: its page's branding and status, nothing else
  merchant's token      %s

`, base, ops, base, merchant, merchantToken)
}

// consoleLink asks the admin API at base for a one-time sign-in link for
// token and returns its path.
func consoleLink(base, token string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/v1/session/link", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var link struct{ Path, Error string }
	if err := json.NewDecoder(resp.Body).Decode(&link); err != nil || resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("sign-in link: %d %s", resp.StatusCode, link.Error)
	}
	return link.Path, nil
}
