package cache

import (
	"reflect"
	"testing"
)

// TestKeyCopyKeepsEveryFlag: Copy names Key's fields one by one (so that
// escape analysis keeps the source key's buffer on the stack); every bool
// of Key is a reason not to store or share, and one that Copy dropped
// would let the request path keep a copy the flag forbids. Each flag is
// set alone and must survive Copy.
func TestKeyCopyKeepsEveryFlag(t *testing.T) {
	p := NewKeyPolicy(KeyConfig{Site: "shop", Languages: []string{"nl", "en"}})
	kt := reflect.TypeOf(Key{})
	n := 0
	for i := range kt.NumField() {
		f := kt.Field(i)
		if f.Type.Kind() != reflect.Bool {
			continue
		}
		n++
		var k Key
		k.Primary, k.Lang = []byte("shop\x00/p"), "en"
		reflect.ValueOf(&k).Elem().Field(i).SetBool(true)
		var dst Key
		p.Copy(&dst, &k, nil)
		if !reflect.ValueOf(dst).Field(i).Bool() {
			t.Errorf("Copy dropped Key.%s", f.Name)
		}
		if string(dst.Primary) != string(k.Primary) || dst.Lang != "en" {
			t.Errorf("Copy with %s: Primary %q Lang %q", f.Name, dst.Primary, dst.Lang)
		}
		if k.Storable() {
			t.Errorf("a key with %s is storable", f.Name)
		}
	}
	if n < 7 {
		t.Errorf("%d bool fields in Key; the test expects the storing flags", n)
	}
}

// TestKeyPolicyNamed: a policy for another site keys by that site's name
// and shares the rules: a cookie not on the list still makes the request
// personal.
func TestKeyPolicyNamed(t *testing.T) {
	base := keys()
	long := "a-shop-whose-name-is-longer-than-thirty-two-bytes"
	for _, name := range []string{"b", "bakkerij-de-gouden-korenschoof", long} {
		p := base.Named([]byte(name))
		k := p.Build(nil, request("/p?utm_source=x"))
		if want := name + "\x00shop.example\x00/p"; string(k.Primary) != want || !k.Tracking {
			t.Errorf("Named(%q): key %q tracking %v; want %q and tracking", name, k.Primary, k.Tracking, want)
		}
		if k := p.Build(nil, request("/p", "Cookie", "theme=dark")); !k.Personal {
			t.Errorf("Named(%q): a cookie not on the list is not personal", name)
		}
	}
	if k := base.Build(nil, request("/p")); string(k.Primary) != "shop\x00shop.example\x00/p" {
		t.Errorf("Named changed the policy it was called on: %q", k.Primary)
	}
}
