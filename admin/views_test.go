package admin

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/state"
)

// TestSiteViewSaysZoneAndURL: a site's view carries the zone its times
// are in (for the CLI) and the URL shoppers reach it at through the node.
func TestSiteViewSaysZoneAndURL(t *testing.T) {
	e := newEnv(t)
	_, body := e.call(t, opsToken, "GET", "/v1/sites/bakkerij", "", nil)
	var v SiteView
	json.Unmarshal([]byte(body), &v)
	if v.TimeZone != "UTC" || v.URL != "" {
		t.Errorf("without SiteURL: timezone %q url %q; want UTC (the default) and none", v.TimeZone, v.URL)
	}
	a := New(Options{Config: e.cfg, Sites: e.reg, Store: e.store, Proxy: e.proxy,
		SiteURL: func(host string) string { return "https://" + host + ":8443" }})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/v1/sites/winkel", nil)
	req.Header.Set("Authorization", "Bearer "+opsToken)
	a.ServeHTTP(rec, req)
	json.Unmarshal(rec.Body.Bytes(), &v)
	if v.TimeZone != "Europe/Berlin" || v.URL != "https://winkel.example:8443" {
		t.Errorf("winkel: timezone %q url %q; want Europe/Berlin and https://winkel.example:8443", v.TimeZone, v.URL)
	}
}

// TestMaintenanceStatusAndReplace: a window is active, scheduled or ended
// by the clock; If-None-Match: * refuses to replace a window that is on or
// scheduled, not one that ended; the audit line says when it starts.
func TestMaintenanceStatusAndReplace(t *testing.T) {
	e := newEnv(t)
	now := time.Now()
	e.now.Store(now.UnixNano()) // the API's clock stands still until the test moves it
	at := func(d time.Duration) string { return now.Add(d).UTC().Format(time.RFC3339Nano) }
	put := func(body string, onlyNew bool) (int, MaintenanceView) {
		var h []string
		if onlyNew {
			h = []string{"If-None-Match", "*"}
		}
		status, b := e.call(t, opsToken, "PUT", "/v1/sites/bakkerij/maintenance", "application/json", []byte(body), h...)
		var m MaintenanceView
		json.Unmarshal([]byte(b), &m)
		return status, m
	}
	if status, m := put(`{"enabled": true, "start": "`+at(time.Hour)+`", "end": "`+at(2*time.Hour)+`", "message": {"nl": "Eerste"}}`, true); status != 200 || m.Status != "scheduled" {
		t.Fatalf("scheduling: %d %+v", status, m)
	}
	version := e.store.Version()
	status, b := e.call(t, opsToken, "PUT", "/v1/sites/bakkerij/maintenance", "application/json", []byte(`{"enabled": true, "message": {"nl": "Tweede"}}`), "If-None-Match", "*")
	if status != http.StatusPreconditionFailed || !strings.Contains(b, "already set or scheduled") || e.store.Version() != version {
		t.Errorf("If-None-Match over a scheduled window: %d %s; want 412, nothing changed", status, b)
	}
	if status, m := put(`{"enabled": true, "end": "`+at(time.Minute)+`"}`, false); status != 200 || m.Status != "active" {
		t.Fatalf("replacing without If-None-Match: %d %+v; want it active", status, m)
	}
	// The clock passes the end.
	e.now.Store(now.Add(2 * time.Minute).UnixNano())
	_, b = e.call(t, opsToken, "GET", "/v1/sites/bakkerij", "", nil)
	var v SiteView
	json.Unmarshal([]byte(b), &v)
	if v.Maintenance == nil || v.Maintenance.Status != "ended" || v.Maintenance.Active {
		t.Errorf("after its end: %+v; want status ended, not active", v.Maintenance)
	}
	if status, m := put(`{"enabled": true, "start": "`+at(time.Hour)+`"}`, true); status != 200 || m.Status != "scheduled" {
		t.Errorf("If-None-Match over an ended window: %d %+v; want it set", status, m)
	}

	_, b = e.call(t, opsToken, "GET", "/v1/audit", "", nil)
	var log []state.AuditEntry
	json.Unmarshal([]byte(b), &log)
	if len(log) == 0 || !strings.Contains(log[0].Detail, "start="+now.Add(time.Hour).UTC().Format(time.RFC3339)) {
		t.Errorf("audit %+v; want the last change's start", log)
	}
	if len(log) < 2 || !strings.Contains(log[1].Detail, "start=") {
		t.Errorf("audit %+v; a window starting at once says when too", log)
	}
}

// TestPageViewIsEffective: GET .../page shows what the page shows, the
// config file's values with the merchant's over them, and names which are
// the merchant's.
func TestPageViewIsEffective(t *testing.T) {
	e := newEnv(t)
	get := func() map[string]any {
		_, b := e.call(t, bakkerToken, "GET", "/v1/sites/bakkerij/page", "", nil)
		var v map[string]any
		json.Unmarshal([]byte(b), &v)
		return v
	}
	v := get()
	if v["brand"] != "Bakkerij de Vries" || v["contact"] != "info@bakkerij.example" || v["logo"] != true || len(v["overrides"].([]any)) != 0 {
		t.Errorf("no changes: %v; want the config file's brand, contact and logo, no overrides", v)
	}
	e.call(t, bakkerToken, "PUT", "/v1/sites/bakkerij/page", "application/json", []byte(`{"contact": "help@bakkerij.example"}`))
	v = get()
	if v["brand"] != "Bakkerij de Vries" || v["contact"] != "help@bakkerij.example" || !equalJSON(v["overrides"], []any{"contact"}) {
		t.Errorf("contact changed: %v; want the new contact, the config's brand, overrides [contact]", v)
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// TestOversizeLogoOneMessage: a logo just over the limit and one far over
// it get the same answer naming the 200 KB limit, whether or not the body
// says its size.
func TestOversizeLogoOneMessage(t *testing.T) {
	e := newEnv(t)
	for _, size := range []int{213 << 10, 300 << 10, 5 << 20} {
		data := append(testPNG(t, 64, 64), make([]byte, size)...)[:size]
		for _, chunked := range []bool{false, true} {
			req, _ := http.NewRequest("PUT", e.srv.URL+"/v1/sites/bakkerij/page/logo", bytes.NewReader(data))
			if chunked {
				req.ContentLength = -1
				req.Body = readerOnly{bytes.NewReader(data)}
			}
			req.Header.Set("Authorization", "Bearer "+opsToken)
			req.Header.Set("Content-Type", "image/png")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var msg struct{ Error string }
			json.NewDecoder(resp.Body).Decode(&msg)
			resp.Body.Close()
			if resp.StatusCode != 413 || !strings.HasPrefix(msg.Error, "logo: ") || !strings.Contains(msg.Error, "larger than the 200 KB limit") {
				t.Errorf("%d KB (chunked %v): %d %q; want 413 naming the 200 KB limit", size>>10, chunked, resp.StatusCode, msg.Error)
			}
		}
	}
}

type readerOnly struct{ r *bytes.Reader }

func (r readerOnly) Read(p []byte) (int, error) { return r.r.Read(p) }
func (r readerOnly) Close() error               { return nil }
