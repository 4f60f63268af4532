package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/awningproxy/awning/fallback/cache"
	"github.com/awningproxy/awning/fallback/health"
	"github.com/awningproxy/awning/internal/testkit"
	"github.com/awningproxy/awning/pages"
	"github.com/awningproxy/awning/state"
	"github.com/redis/go-redis/v9"
	"github.com/valyala/fasthttp"
)

// The failover drills of issue 15: three Awning nodes on a Redis Sentinel
// set or a Redis Cluster, with admins writing through every node and
// shoppers asking every node, while the drill breaks Redis. After each
// drill: no shopper got an error, no acknowledged write is lost, every node
// holds exactly what Redis holds, and the audit stream holds every
// acknowledged change. Each drill's times are logged; with
// AWNING_FAILOVER_ROUNDS=5 every drill runs five times and the log ends
// with the median and worst of each (docs/operations.md and the issue note
// quote them).

const fleetToken = "awn_fleet_drill_token_0123456789abcdef"

// fleet is three nodes sharing one Redis topology, and the traffic that
// runs through them during drills.
type fleet struct {
	t      *testing.T
	nodes  []*Node
	client redis.UniversalClient // the test's own, to read Redis
	down   *testkit.Origin       // the origin of site "down", refused but while seeding
	pages  [][]string            // paths of site "down", by shard (slot range)
	shard  func(path string) int // the shard of a page's copy
	// steady waits until the topology is whole and every replica has what
	// its master has, so that a drill starts from a known state.
	steady func()

	mu        sync.Mutex
	attempts  map[string][]string // site → update messages tried, in order
	acked     map[string][]string // site → update messages acknowledged, in order
	ids       []string            // update IDs acknowledged
	maint     bool                // the last acknowledged maintenance state of shop
	writeErrs int
	shopErrs  []string
	lostPages []string // pages on shards that were up but not served from a copy
	failed    int      // the shard whose copies may be missing now; -1 for none, -2 for all
	mark      time.Time
	firstAck  time.Time
	ackTimes  []time.Time // when updates were acknowledged since mark
	firstMsg  string      // the update acknowledged first after mark, and its site
	firstSite string
	timings   map[string]map[string][]time.Duration // drill → measure → times
}

func fleetConfig(redisURL, dir, up, down string) string {
	sum := sha256.Sum256([]byte(fleetToken))
	site := func(name, origin string, extra string) string {
		return fmt.Sprintf("  - {name: %s, hosts: [%s.example], origin: {urls: [%q]%s}, page: {languages: [en]}}\n", name, name, origin, extra)
	}
	cfg := fmt.Sprintf(`listen: {http: "127.0.0.1:0", admin: "127.0.0.1:0"}
tls: {mode: "off"}
state: {redis: %q, dir: %q}
cache: {memory: 1MiB, refresh: 100ms, redis_refresh: 1s}
admin: {tokens: [{name: ops, sha256: %q, sites: ["*"]}]}
sites:
`, redisURL, dir, hex.EncodeToString(sum[:]))
	cfg += site("shop", up, "")
	cfg += site("down", down, ", fallback_after: 500ms, health: {path: /, interval: 100ms, timeout: 100ms, rise: 1, fall: 1}")
	for i := range 3 {
		cfg += site(fmt.Sprintf("w%d", i), up, "")
	}
	return cfg
}

// startFleet starts three nodes on redisURL. Nodes 2 and 3 keep no copy in
// memory, so every page they serve from a copy comes from Redis: node 2
// serves the shoppers of site "down", node 3 the probes that time the
// return of a shard's copies.
func startFleet(t *testing.T, redisURL string, shard func(key string) int, shards int) *fleet {
	up := testkit.NewOrigin(t, testkit.Respond(200, "<h1>shop</h1>", "Content-Type: text/html"))
	f := &fleet{t: t, attempts: map[string][]string{}, acked: map[string][]string{}, failed: -1,
		timings: map[string]map[string][]time.Duration{}}
	f.down = testkit.NewOrigin(t, pageBehavior)
	for range 3 {
		n, _, _, _ := runNode(t, fleetConfig(redisURL, t.TempDir(), up.URL(), f.down.URL()))
		f.nodes = append(f.nodes, n)
	}
	f.nodes[1].cache.Resize(0)
	f.nodes[2].cache.Resize(0)
	var err error
	if f.client, err = state.OpenRedis(redisURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.client.Close() })

	// Eight pages per shard, found by the slot of their copy's key.
	f.pages = make([][]string, shards)
	byPath := map[string]int{}
	for i := 0; ; i++ {
		done := true
		for _, p := range f.pages {
			done = done && len(p) >= 8
		}
		if done {
			break
		}
		path := fmt.Sprintf("/p/%d", i)
		s := shard(pageKey(path))
		if len(f.pages[s]) < 8 {
			f.pages[s] = append(f.pages[s], path)
			byPath[path] = s
		}
	}
	f.shard = func(path string) int { return byPath[path] }
	f.seed()
	testkit.WaitFor(t, 20*time.Second, "every node to follow redis", func() bool {
		for _, n := range f.nodes {
			if n.state.Healthy() != nil {
				return false
			}
		}
		return true
	})
	return f
}

// pageKey is the Redis key of the copy of site "down"'s page at path.
func pageKey(path string) string {
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.SetRequestURI(path)
	req.Header.SetHost("down.example")
	k := cache.NewKeyPolicy(cache.KeyConfig{Site: "down"}).Build(nil, req)
	return cache.RedisKey(&k)
}

// pageBehavior is site "down"'s origin: a page that names its path.
func pageBehavior(x *testkit.Exchange) {
	x.Write(testkit.Response(200, "<h1>copy of "+x.Request.URL.Path+"</h1>", "Content-Type: text/html"))
	x.KeepAlive = true
}

// seed has node 1 store a copy of every page of site "down" in Redis while
// its origin answers, then refuses the origin again.
func (f *fleet) seed() {
	f.t.Helper()
	n := f.nodes[0]
	f.down.Heal(pageBehavior)
	testkit.WaitFor(f.t, 10*time.Second, "site down's origin to be found up", func() bool {
		return n.proxy.Health("down").Stats().Origins[0].State == health.Up
	})
	// A page node 1 holds in memory is written to Redis again once
	// cache.redis_refresh passed since its last write: ask until every
	// copy is there.
	ctx := context.Background()
	for _, pages := range f.pages {
		for _, p := range pages {
			key := pageKey(p)
			// Each try asks the origin again (slower than fallback_after on
			// a busy machine, or a copy Redis lost that only a refresh
			// writes back); the copy goes to Redis in the background, so a
			// later try finds it.
			testkit.WaitFor(f.t, 20*time.Second, "the copy of "+p+" in redis", func() bool {
				get1(n.Addrs().HTTP[0], "down.example", p)
				n, err := f.client.Exists(ctx, key).Result()
				return err == nil && n == 1
			})
		}
	}
	f.down.Refuse()
}

// get1 asks addr for path on host and returns Awning-Served and the status
// ("error: …" when no answer came).
func get1(addr, host, path string) (string, int) {
	served, status, _ := get2(addr, host, path)
	return served, status
}

// get2 is get1 that also returns Cache-Status, which says why.
func get2(addr, host, path string) (served string, status int, why string) {
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	req.Host = host
	resp, err := fleetHTTP.Do(req)
	if err != nil {
		return "error: " + err.Error(), 0, ""
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.Header.Get("Awning-Served"), resp.StatusCode, resp.Header.Get("Cache-Status")
}

var fleetHTTP = &http.Client{Timeout: 15 * time.Second}

// admin sends an admin API request to node i and returns the status and
// body.
func (f *fleet) admin(i int, method, path, body string) (int, []byte) {
	req, _ := http.NewRequest(method, "http://"+f.nodes[i].Addrs().Admin[0]+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+fleetToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := fleetHTTP.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// traffic runs the admins and shoppers until stop is closed:
//   - one admin per node posts incident updates to its own site (w0, w1,
//     w2), one after another;
//   - one admin turns shop's maintenance on and off through each node in
//     turn;
//   - a shopper asks every node for shop (origin or maintenance, never an
//     error) and node 2 for every page of site down (a copy, or the outage
//     page only for a shard that is down).
func (f *fleet) traffic(stop chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	loop := func(pause time.Duration, fn func(n int)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				fn(n)
				select {
				case <-stop:
					return
				case <-time.After(pause):
				}
			}
		}()
	}
	for i := range f.nodes {
		site := fmt.Sprintf("w%d", i)
		loop(50*time.Millisecond, func(n int) { f.postUpdate(i, site) })
	}
	loop(100*time.Millisecond, func(n int) { f.setMaintenance(n%3, n%2 == 0) })
	loop(20*time.Millisecond, func(n int) {
		node := f.nodes[n%3]
		served, status := get1(node.Addrs().HTTP[0], "shop.example", "/")
		if !(served == "origin" && status == 200) && !(served == "maintenance" && status == 503) {
			f.mu.Lock()
			f.shopErrs = append(f.shopErrs, fmt.Sprintf("node %d: shop answered %d %q", n%3+1, status, served))
			f.mu.Unlock()
		}
	})
	loop(20*time.Millisecond, func(n int) {
		all := slices.Concat(f.pages...)
		path := all[n%len(all)]
		served, status, why := get2(f.nodes[1].Addrs().HTTP[0], "down.example", path)
		f.mu.Lock()
		defer f.mu.Unlock()
		switch {
		case served == "stale" && status == 200, served == "origin" && status == 200:
		case served == "outage" && status == 503:
			if f.failed != -2 && f.failed != f.shard(path) {
				f.lostPages = append(f.lostPages, fmt.Sprintf("%s (shard %d; shard down: %d): %s", path, f.shard(path), f.failed, why))
			}
		default:
			f.shopErrs = append(f.shopErrs, fmt.Sprintf("node 2: down%s answered %d %q", path, status, served))
		}
	})
	return &wg
}

func (f *fleet) postUpdate(i int, site string) {
	f.mu.Lock()
	msg := fmt.Sprintf("%s-%d", site, len(f.attempts[site]))
	f.attempts[site] = append(f.attempts[site], msg)
	started := time.Now()
	f.mu.Unlock()
	status, body := f.admin(i, "POST", "/v1/sites/"+site+"/updates", `{"message": {"en": "`+msg+`"}}`)
	var u struct{ ID string }
	json.Unmarshal(body, &u)
	f.mu.Lock()
	defer f.mu.Unlock()
	if status != http.StatusCreated || u.ID == "" {
		f.writeErrs++
		return
	}
	f.acked[site] = append(f.acked[site], msg)
	f.ids = append(f.ids, u.ID)
	if f.mark.IsZero() || started.Before(f.mark) {
		return // sent before the failure: it says nothing of writes after it
	}
	if f.firstAck.IsZero() {
		f.firstAck, f.firstMsg, f.firstSite = time.Now(), msg, site
	}
	f.ackTimes = append(f.ackTimes, time.Now())
}

func (f *fleet) setMaintenance(i int, on bool) bool {
	method, body := "DELETE", ""
	if on {
		method, body = "PUT", `{"enabled": true}`
	}
	status, _ := f.admin(i, method, "/v1/sites/shop/maintenance", body)
	f.mu.Lock()
	defer f.mu.Unlock()
	if status != http.StatusOK {
		f.writeErrs++
		return false
	}
	f.maint = on
	return true
}

// converged reports whether every node holds exactly the versions Redis
// holds.
func (f *fleet) converged() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	want, err := state.RemoteVersions(ctx, f.client)
	if err != nil || len(want) == 0 {
		return false
	}
	for _, n := range f.nodes {
		got := n.state.Versions()
		if len(got) != len(want) {
			return false
		}
		for name, v := range want {
			if got[name] != v {
				return false
			}
		}
	}
	return true
}

// holds reports whether every node's scope site holds update msg.
func (f *fleet) holds(site, msg string) bool {
	for _, n := range f.nodes {
		if !slices.ContainsFunc(n.state.Scope(site).Updates, func(u pages.Update) bool { return u.Message["en"] == msg }) {
			return false
		}
	}
	return true
}

// drillSpec is one drill.
type drillSpec struct {
	name string
	// breakIt breaks Redis and returns when the failure took effect: the
	// measures count from then.
	breakIt func() time.Time
	// switched, when set, reports whether a new master has been named: the
	// first admin write is timed from then too.
	switched func() bool
	// shard is the shard whose copies the failure takes away (-1 none, -2
	// all); copies times their return, read from Redis by node 3.
	shard  int
	copies bool
	// writesGoOn: the failure must not fail a single admin write.
	writesGoOn bool
	// during (optional) runs once the failure took effect: the outage.
	during func()
	// repair (optional) puts the topology back once writes went through.
	repair func()
}

// drill runs d with traffic through every node, then checks what it left.
func (f *fleet) drill(d drillSpec) {
	f.t.Helper()
	name := d.name
	f.t.Logf("drill %s", name)
	if f.steady != nil {
		f.steady()
	}
	stop := make(chan struct{})
	wg := f.traffic(stop)
	f.awaitWrites("traffic under way before the failure", 5)
	f.mu.Lock()
	f.failed, f.writeErrs = d.shard, 0
	f.mu.Unlock()
	t0 := d.breakIt()
	f.mu.Lock()
	f.mark, f.firstAck, f.ackTimes = t0, time.Time{}, nil
	f.mu.Unlock()

	// The measures are taken side by side, from t0, while the outage (if
	// any) runs on this goroutine.
	var measures sync.WaitGroup
	var lost []string
	var lostMu sync.Mutex
	measure := func(what string, cond func() bool) *time.Time {
		at := new(time.Time)
		measures.Add(1)
		go func() {
			defer measures.Done()
			if !testkit.Poll(time.Until(t0.Add(30*time.Second)), cond) {
				lostMu.Lock()
				lost = append(lost, what)
				lostMu.Unlock()
				return
			}
			*at = time.Now()
		}()
		return at
	}
	var firstAck, afterSwitch time.Time
	measure("an admin write acknowledged after the failure", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		firstAck = f.firstAck
		return !firstAck.IsZero()
	})
	everyNode := measure("that write on every node", func() bool {
		f.mu.Lock()
		ok := !f.firstAck.IsZero()
		s, m := f.firstSite, f.firstMsg
		f.mu.Unlock()
		return ok && f.holds(s, m)
	})
	var switchedAt time.Time
	if d.switched != nil {
		measure("the new master to be named, and an admin write after that", func() bool {
			if switchedAt.IsZero() {
				if !d.switched() {
					return false
				}
				switchedAt = time.Now()
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			for _, at := range f.ackTimes {
				if !at.Before(switchedAt) {
					afterSwitch = at
					return true
				}
			}
			return false
		})
	}
	var copiesBack *time.Time
	if d.copies {
		path := f.pages[d.shard][0]
		copiesBack = measure("the failed shard's copies to be served again", func() bool {
			served, _ := get1(f.nodes[2].Addrs().HTTP[0], "down.example", path)
			return served == "stale"
		})
	}
	if d.during != nil {
		d.during()
	}
	measures.Wait()
	if len(lost) > 0 {
		f.t.Fatalf("%s: within 30s, no sign of %s", name, strings.Join(lost, ", "))
	}
	f.awaitWrites("writes on the changed topology", 10)
	if d.repair != nil {
		d.repair()
	}
	close(stop)
	wg.Wait()
	f.mu.Lock()
	f.failed = -1
	if d.writesGoOn && f.writeErrs > 0 {
		f.t.Errorf("%s: %d admin writes failed; want none while the state's master is up", name, f.writeErrs)
	}
	failedWrites := f.writeErrs
	f.mu.Unlock()

	// End on a known maintenance state; then every node must agree with Redis.
	testkit.WaitFor(f.t, 30*time.Second, name+": maintenance off to be acknowledged", func() bool { return f.setMaintenance(0, false) })
	testkit.WaitFor(f.t, 30*time.Second, name+": every node to hold what redis holds", f.converged)
	for i, n := range f.nodes {
		testkit.WaitFor(f.t, 5*time.Second, fmt.Sprintf("%s: node %d to serve shop after maintenance was turned off", name, i+1), func() bool {
			served, _ := get1(n.Addrs().HTTP[0], "shop.example", "/")
			return served == "origin"
		})
	}
	f.check(name)
	f.record(name, "first admin write", firstAck.Sub(t0))
	f.record(name, "all nodes converged", everyNode.Sub(t0))
	msg := fmt.Sprintf("drill %s: first admin write after %s, on every node after %s",
		name, firstAck.Sub(t0).Round(time.Millisecond), everyNode.Sub(t0).Round(time.Millisecond))
	if d.switched != nil {
		f.record(name, "new master named", switchedAt.Sub(t0))
		f.record(name, "write after new master", afterSwitch.Sub(switchedAt))
		msg += fmt.Sprintf("; new master named after %s, first write %s after that",
			switchedAt.Sub(t0).Round(time.Millisecond), afterSwitch.Sub(switchedAt).Round(time.Millisecond))
	}
	if copiesBack != nil {
		f.record(name, "copies served again", copiesBack.Sub(t0))
		msg += fmt.Sprintf("; copies served again after %s", copiesBack.Sub(t0).Round(time.Millisecond))
	}
	f.t.Logf("%s; %d admin writes failed", msg, failedWrites)
}

func (f *fleet) record(drill, measure string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.timings[drill] == nil {
		f.timings[drill] = map[string][]time.Duration{}
	}
	f.timings[drill][measure] = append(f.timings[drill][measure], d)
}

// check asserts what every drill must leave behind.
func (f *fleet) check(name string) {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.shopErrs {
		f.t.Errorf("%s: shopper got an error: %s", name, e)
	}
	for _, p := range f.lostPages {
		f.t.Errorf("%s: a page whose shard was up got the outage page: %s", name, p)
	}
	f.shopErrs, f.lostPages = nil, nil

	// Every acknowledged update is in the state, unless MaxUpdates newer
	// ones pushed it out (updates that failed may have landed all the same,
	// so the order of attempts decides).
	for site, msgs := range f.acked {
		var have []string
		for _, u := range f.nodes[0].state.Scope(site).Updates {
			have = append(have, u.Message["en"])
		}
		order := f.attempts[site]
		oldest := len(order)
		for _, m := range have {
			if i := slices.Index(order, m); i < 0 {
				f.t.Errorf("%s: site %s holds update %q, which was never posted", name, site, m)
			} else {
				oldest = min(oldest, i)
			}
		}
		for _, m := range msgs {
			if !slices.Contains(have, m) && slices.Index(order, m) > oldest {
				f.t.Errorf("%s: site %s lost the acknowledged update %q (holds %v)", name, site, m, have)
			}
		}
	}
	log, err := f.nodes[0].state.AuditLog(context.Background(), 10_000)
	if err != nil {
		f.t.Fatalf("%s: audit log: %v", name, err)
	}
	audited := map[string]bool{}
	for _, e := range log {
		if id, ok := strings.CutPrefix(e.Detail, "update "); ok {
			audited[id] = true
		}
	}
	// After a flush, the stream is rebuilt from the entries the nodes keep
	// (the newest 1,000 each, maintenance changes among them): the newest
	// 600 acknowledged updates are always among those.
	for _, id := range f.ids[max(0, len(f.ids)-600):] {
		if !audited[id] {
			f.t.Errorf("%s: the audit stream misses the acknowledged update %s", name, id)
		}
	}
}

// report logs the median and worst of every measure of every drill.
func (f *fleet) report() {
	var lines []string
	for drill, ms := range f.timings {
		for measure, ds := range ms {
			sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
			lines = append(lines, fmt.Sprintf("%-40s %-22s median %7s  worst %7s  (n=%d)", drill, measure,
				ds[len(ds)/2].Round(time.Millisecond), ds[len(ds)-1].Round(time.Millisecond), len(ds)))
		}
	}
	sort.Strings(lines)
	f.t.Logf("failover timings:\n%s", strings.Join(lines, "\n"))
}

// rounds is how many times each drill runs: AWNING_FAILOVER_ROUNDS, 1 in CI.
func rounds(t *testing.T) int {
	n := 1
	if v := os.Getenv("AWNING_FAILOVER_ROUNDS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("AWNING_FAILOVER_ROUNDS=%q: want a positive number", v)
		}
	}
	return n
}

// pubsubKills kills every pub/sub connection of the servers at addrs, twice
// in a row.
func pubsubKills(t *testing.T, nodes ...*testkit.RedisNode) time.Time {
	t0 := time.Now()
	for range 2 {
		for _, n := range nodes {
			if _, err := n.Do("CLIENT", "KILL", "TYPE", "pubsub"); err != nil {
				t.Fatal(err)
			}
		}
	}
	return t0
}

// awaitWrites waits until n more admin writes have been tried (whatever
// their outcome): the traffic flows.
func (f *fleet) awaitWrites(what string, n int) {
	f.t.Helper()
	tried := func() int {
		f.mu.Lock()
		defer f.mu.Unlock()
		sum := 0
		for _, a := range f.attempts {
			sum += len(a)
		}
		return sum
	}
	start := tried()
	testkit.WaitFor(f.t, 30*time.Second, what, func() bool { return tried() >= start+n })
}

// awaitWriteErrors waits until n more admin writes have failed.
func (f *fleet) awaitWriteErrors(what string, n int) {
	f.t.Helper()
	errs := func() int {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.writeErrs
	}
	start := errs()
	testkit.WaitFor(f.t, 30*time.Second, what, func() bool { return errs() >= start+n })
}
