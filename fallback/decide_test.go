package fallback

import "testing"

// TestDecide holds the rules over every combination of facts that matter.
func TestDecide(t *testing.T) {
	for _, closed := range []bool{false, true} {
		for _, readOnly := range []bool{false, true} {
			for _, browse := range []bool{false, true} {
				for _, answered := range []bool{false, true} {
					for _, hasCopy := range []bool{false, true} {
						for _, sent := range []bool{false, true} {
							f := Facts{Closed: closed, ReadOnly: readOnly, Browse: browse, Answered: answered, Copy: hasCopy, Sent: sent}
							var want Answer
							switch {
							case closed && readOnly && browse && hasCopy:
								want = Stale
							case closed:
								want = Maintenance
							case answered:
								want = Origin
							case browse && hasCopy:
								want = Stale
							case !browse && sent:
								want = Unconfirmed
							default:
								want = Outage
							}
							if got := Decide(&f); got != want {
								t.Errorf("Decide(%+v) = %s; want %s", f, got, want)
							}
							// A copy is looked for exactly when it could change
							// the answer.
							without, with := f, f
							without.Copy, with.Copy = false, true
							if matters := Decide(&without) != Decide(&with); matters != f.WantsCopy() {
								t.Errorf("WantsCopy(%+v) = %v; a copy changes the answer: %v", f, f.WantsCopy(), matters)
							}
						}
					}
				}
			}
		}
	}
}

func TestAppendCacheStatus(t *testing.T) {
	for _, tt := range []struct {
		name string
		f    Facts
		want string
	}{
		{"stored", Facts{Browse: true, Answered: true, Stored: true}, "Awning; fwd=uri-miss; stored"},
		{"refreshed", Facts{Browse: true, Answered: true, HadCopy: true, Stored: true}, "Awning; fwd=stale; stored"},
		{"not stored", Facts{Browse: true, Answered: true, NotStored: "personal-request"}, "Awning; fwd=uri-miss; detail=personal-request"},
		{"collapsed", Facts{Browse: true, Answered: true, Collapsed: true}, "Awning; fwd=uri-miss; collapsed"},
		{"circuit open", Facts{Browse: true, NotAsked: "forced", Copy: true}, "Awning; hit; detail=forced"},
		{"read-only", Facts{Closed: true, ReadOnly: true, Browse: true, NotAsked: "read-only", Copy: true}, "Awning; hit; detail=read-only"},
		{"origin 502", Facts{Browse: true, FwdStatus: 502, Copy: true}, "Awning; fwd=stale; fwd-status=502"},
		{"timeout", Facts{Browse: true, Failure: "timeout", Copy: true}, "Awning; fwd=stale; detail=timeout"},
		{"collapsed failure", Facts{Browse: true, FwdStatus: 503, Failure: "collapsed"}, "Awning; fwd=uri-miss; fwd-status=503; detail=collapsed"},
		{"outage", Facts{Browse: true, Failure: "refused"}, "Awning; fwd=uri-miss; detail=refused"},
		{"POST", Facts{Answered: true}, ""},
		{"POST unconfirmed", Facts{Sent: true, Failure: "timeout"}, ""},
		{"maintenance", Facts{Closed: true, Browse: true}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(AppendCacheStatus(nil, &tt.f, Decide(&tt.f))); got != tt.want {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
	f := Facts{Browse: true, FwdStatus: 502, Failure: "timeout", Copy: true}
	buf := make([]byte, 0, 128)
	if n := testing.AllocsPerRun(100, func() { AppendCacheStatus(buf[:0], &f, Decide(&f)) }); n != 0 {
		t.Errorf("AppendCacheStatus allocates %v times; want 0", n)
	}
}
