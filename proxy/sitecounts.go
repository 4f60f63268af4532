package proxy

// SiteCounts calls fn with each site's answers by outcome, in the order of
// the site table in force, without building Stats (no allocation): the
// metrics sampler reads it every few seconds, on nodes with tens of
// thousands of sites. fn must not keep served.
func (s *Server) SiteCounts(fn func(site string, served *[NumOutcomes]uint64)) {
	var served [NumOutcomes]uint64
	for _, st := range s.snap.Load().states {
		st.count.served.loadAll(&served)
		fn(st.site.Name, &served)
	}
}
