package admin

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/awningproxy/awning/config"
)

// TestGuessingIsSlowedDown: a client that keeps presenting tokens that are
// not valid (to the API or to the console's sign-in) gets 429 with
// Retry-After once it used its allowance, whatever it sends then, and one
// more try per guessEvery after that.
func TestGuessingIsSlowedDown(t *testing.T) {
	e := newEnv(t)
	start := time.Now()
	e.now.Store(start.UnixNano())
	for i := range guessBurst {
		path, body := "/v1/sites", ""
		if i%2 == 1 {
			path, body = "/v1/session", `{"token": "`+unknownToken+`"}`
		}
		var status int
		if body == "" {
			status, _ = e.call(t, unknownToken, "GET", path, "", nil)
		} else {
			status, _ = e.call(t, "", "POST", path, "application/json", []byte(body), "Origin", e.srv.URL)
		}
		if status != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d; want 401", i+1, status)
		}
	}
	for _, token := range []string{unknownToken, opsToken} {
		req, _ := http.NewRequest("GET", e.srv.URL+"/v1/sites", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "6" {
			t.Errorf("after %d failures, token %.4s…: %d Retry-After %q; want 429 and 6", guessBurst, token, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if st, _ := e.call(t, "", "POST", "/v1/session", "application/json", []byte(`{"token": "`+opsToken+`"}`), "Origin", e.srv.URL); st != http.StatusTooManyRequests {
		t.Errorf("sign-in after the allowance: %d; want 429", st)
	}
	e.now.Store(start.Add(guessEvery).UnixNano())
	if st, _ := e.call(t, opsToken, "GET", "/v1/sites", "", nil); st != http.StatusOK {
		t.Errorf("%s later, a valid token: %d; want 200", guessEvery, st)
	}
	if st, _ := e.call(t, unknownToken, "GET", "/v1/sites", "", nil); st != http.StatusUnauthorized {
		t.Errorf("%s later, one more guess: %d; want 401", guessEvery, st)
	}
	if st, _ := e.call(t, unknownToken, "GET", "/v1/sites", "", nil); st != http.StatusTooManyRequests {
		t.Errorf("and the next at once: %d; want 429", st)
	}
	if failed, refused := e.admin.guesses.counts(); failed != guessBurst+1 || refused != 4 {
		t.Errorf("counted %d failures and %d refusals; want %d and 4", failed, refused, guessBurst+1)
	}
}

// TestGuessClientBehindProxy: behind a trusted proxy each client counts on
// its own (X-Forwarded-For), an IPv6 client by its /64, and an untrusted
// peer cannot pick its own key.
func TestGuessClientBehindProxy(t *testing.T) {
	trusted := []config.Prefix{{Prefix: netip.MustParsePrefix("10.0.0.0/8")}}
	for _, tt := range []struct {
		remote, xff string
		want        string
	}{
		{"192.0.2.7:5000", "", "192.0.2.7/32"},
		{"192.0.2.7:5000", "198.51.100.1", "192.0.2.7/32"}, // not from a trusted proxy
		{"10.1.2.3:5000", "198.51.100.1", "198.51.100.1/32"},
		{"10.1.2.3:5000", "198.51.100.1, 10.9.9.9", "198.51.100.1/32"},
		{"10.1.2.3:5000", "203.0.113.5, 198.51.100.1", "198.51.100.1/32"}, // the client could forge the first
		{"10.1.2.3:5000", "garbage", "10.1.2.3/32"},
		{"[2001:db8:1:2:3:4:5:6]:5000", "", "2001:db8:1:2::/64"},
		{"[::ffff:192.0.2.7]:5000", "", "192.0.2.7/32"},
	} {
		r := httptest.NewRequest("GET", "/v1/sites", nil)
		r.RemoteAddr = tt.remote
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		if got := clientPrefix(r, trusted).String(); got != tt.want {
			t.Errorf("%s with X-Forwarded-For %q: %s; want %s", tt.remote, tt.xff, got, tt.want)
		}
	}
}

// TestGuessLimiterBounded: the addresses remembered stay within
// guessTracked however many clients fail.
func TestGuessLimiterBounded(t *testing.T) {
	var l guessLimiter
	now := time.Now()
	for i := range guessTracked + 100 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		l.fail(netip.PrefixFrom(a, 32), now)
	}
	if n := len(l.clients.m); n > guessTracked {
		t.Errorf("%d clients remembered; want at most %d", n, guessTracked)
	}
}
