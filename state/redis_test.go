package state

import (
	"context"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
	"github.com/redis/go-redis/v9"
)

func TestOpenRedisForms(t *testing.T) {
	tests := []struct {
		url  string
		kind string // "" for an error
	}{
		{"redis://127.0.0.1:6379/2", "single"},
		{"rediss://user:pw@redis.example:6380", "single"},
		{"unix:///run/redis.sock?db=1", "single"},
		{"redis+sentinel://s1:26379?master_name=main&addr=s2:26379", "sentinel"},
		{"redis+sentinel://s1:26379", ""},
		{"redis+cluster://n1:6379?addr=n2:6379&addr=n3:6379", "cluster"},
		{"redis://127.0.0.1:6379?no_such_option=1", ""},
		{"http://127.0.0.1:6379", ""},
		{"redis+other://x", ""},
	}
	for _, tt := range tests {
		c, err := OpenRedis(tt.url)
		kind := ""
		switch c.(type) {
		case *redis.Client:
			kind = "single"
		case *sentinelClient:
			kind = "sentinel"
		case *redis.ClusterClient:
			kind = "cluster"
		}
		if (err == nil) != (tt.kind != "") || kind != tt.kind {
			t.Errorf("OpenRedis(%q) = %T, %v; want %s", tt.url, c, err, tt.kind)
		}
		if c != nil {
			c.Close()
		}
	}

	c, err := OpenRedis("redis+cluster://n1:6379?addr=n2:6379&read_only=true&route_randomly=true")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if o := c.(*redis.ClusterClient).Options(); o.ReadOnly || o.RouteRandomly || o.RouteByLatency {
		t.Errorf("cluster options read from replicas (%+v); the state must be read from masters", o)
	}
}

func TestOpenRedisTimeoutsAndLiveServer(t *testing.T) {
	r := testkit.StartRedis(t)
	c, err := OpenRedis(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	o := c.(*redis.Client).Options()
	if !o.ContextTimeoutEnabled || o.ReadTimeout != DefaultReadTimeout || o.DialTimeout != DefaultDialTimeout {
		t.Errorf("options: context %v read %s dial %s", o.ContextTimeoutEnabled, o.ReadTimeout, o.DialTimeout)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("get: %q %v", v, err)
	}

	r.Stop()
	if err := c.Get(ctx, "k").Err(); err == nil {
		t.Fatal("get from a stopped redis succeeded")
	}
}
