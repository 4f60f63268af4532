package proxy

import (
	"errors"

	"github.com/awningproxy/awning/pages"
)

// RenderPreview renders a site's page for the admin API's previews: what
// shoppers get now (run-time state included), with the logo inlined and
// without the auto-return script (a preview is looked at in a frame, never
// run). A draft, when not nil, takes the place of the merchant's stored
// branding, so a change can be seen before it is saved. lang picks the
// language order starting with it; "" gives the shop's own.
func (s *Server) RenderPreview(site string, mode pages.Mode, lang string, draft *pages.Branding) ([]byte, error) {
	s.mu.Lock()
	in := s.inputs[site]
	s.mu.Unlock()
	snap := s.snap.Load()
	ss := snap.sites.Named(site)
	if ss == nil {
		return nil, errors.New("proxy: no site named " + site)
	}
	st := in.Pages
	if draft != nil {
		st.Branding = draft
	}
	set, err := pages.Render(snap.states[ss.Index].pageSite, st, pages.Options{InlineLogo: true, NoScript: true})
	if err != nil {
		return nil, err
	}
	p := set.Outage
	if mode == pages.Maintenance {
		p = set.Maintenance
	}
	if v := p.Variant(lang); lang != "" && v != nil {
		return v.HTML, nil
	}
	return p.Variants()[0].HTML, nil
}
