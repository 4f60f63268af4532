package node

import (
	"net"
	"strconv"
)

// siteURL returns the URL shoppers reach host at through this node: https
// when the node serves HTTPS, with the listener's port when it is not the
// scheme's default (the demo's 8443). A load balancer in front may map
// ports differently; the link is what this node can know. It is the admin
// API's SiteURL, used for the maintenance bypass link.
func (n *Node) siteURL(host string) string {
	scheme, def, port := "http", 80, 0
	if n.certs != nil {
		scheme, def = "https", 443
	}
	if n.phase.Load() != phaseStarting { // the listeners are open: their ports are known
		if n.certs != nil {
			port = n.proxy.HTTPSPort()
		} else if a := n.Addrs().HTTP; len(a) > 0 {
			port = portOf(a[0])
		}
	}
	if port != 0 && port != def {
		host = net.JoinHostPort(host, strconv.Itoa(port))
	} else if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		host = "[" + host + "]"
	}
	return scheme + "://" + host
}
