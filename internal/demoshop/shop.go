package demoshop

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

//go:embed templates
var templateFS embed.FS

// Modes the shop can be broken into, as an origin fails in real life.
const (
	ModeHealthy = ""     // answers normally
	ModeDown    = "down" // the listener is closed: connections are refused
	ModeHang    = "hang" // accepts and never answers (a black-holed origin)
	ModeSlow    = "slow" // answers after 5 seconds (a slow database)
	Mode500     = "500"  // every page is a 500 (the platform's database is down)
	Mode502     = "502"  // every page is a 502 (a broken load balancer)
	Mode503     = "503"  // every page is a 503 (the platform is overloaded)
	ModeReset   = "reset"
)

var modes = []string{ModeDown, ModeHang, ModeSlow, Mode500, Mode502, Mode503, ModeReset}

// Shop is the sample web shop behind Awning in `awning demo`: product and
// category pages with images, a cart and checkout that set a session
// cookie, and a JSON API. It can be broken on purpose (Break) and healed.
// It is safe for concurrent use.
type Shop struct {
	log    *slog.Logger
	pages  map[string]*template.Template
	css    []byte
	images map[int][]byte

	mu     sync.Mutex
	mode   string
	addr   string
	srv    *http.Server
	ln     net.Listener
	wake   chan struct{} // closed when the shop heals or closes: releases hanging requests
	closed bool

	requests atomic.Int64
	orders   atomic.Int64
}

// New builds the shop; Start makes it listen.
func New(log *slog.Logger) *Shop {
	s := &Shop{log: log, pages: map[string]*template.Template{}, images: map[int][]byte{}, wake: make(chan struct{})}
	base := template.Must(template.ParseFS(templateFS, "templates/layout.html"))
	for _, p := range []string{"home", "category", "product", "cart", "ordered"} {
		s.pages[p] = template.Must(template.Must(base.Clone()).ParseFS(templateFS, "templates/"+p+".html"))
	}
	s.css, _ = templateFS.ReadFile("templates/shop.css")
	for _, p := range products {
		s.images[p.ID] = productImage(p)
	}
	return s
}

// Start listens on addr (host:port; port 0 picks a free one).
func (s *Shop) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("demo shop: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addr = ln.Addr().String()
	s.serveLocked(ln)
	return nil
}

func (s *Shop) serveLocked(ln net.Listener) {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.srv, s.ln = srv, ln
	go srv.Serve(ln)
}

// Addr is the address the shop listens on.
func (s *Shop) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Requests is how many requests the shop has answered or held.
func (s *Shop) Requests() int64 { return s.requests.Load() }

// Mode returns how the shop is broken ("" when healthy).
func (s *Shop) Mode() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mode
}

// Break makes the shop fail in the given mode until Heal.
func (s *Shop) Break(mode string) error {
	valid := false
	for _, m := range modes {
		valid = valid || m == mode
	}
	if !valid {
		return fmt.Errorf("unknown mode %q; use one of %s", mode, strings.Join(modes, ", "))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.healLocked()
	s.mode = mode
	if mode == ModeDown && s.srv != nil {
		s.srv.Close() // closes the listener and every open connection
		s.srv, s.ln = nil, nil
	}
	return nil
}

// Heal makes the shop answer normally again.
func (s *Shop) Heal() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.healLocked()
	if s.srv == nil && !s.closed {
		ln, err := net.Listen("tcp", s.addr)
		if err != nil {
			return fmt.Errorf("demo shop: listen again: %w", err)
		}
		s.serveLocked(ln)
	}
	return nil
}

func (s *Shop) healLocked() {
	s.mode = ModeHealthy
	close(s.wake)
	s.wake = make(chan struct{})
}

// Close stops the shop.
func (s *Shop) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	close(s.wake)
	s.wake = make(chan struct{})
	if s.srv != nil {
		s.srv.Close()
		s.srv = nil
	}
}

// ServeHTTP answers as the shop, or fails as its mode says.
func (s *Shop) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	s.mu.Lock()
	mode, wake := s.mode, s.wake
	s.mu.Unlock()
	switch mode {
	case ModeHang:
		select {
		case <-wake:
		case <-r.Context().Done():
		}
		return
	case ModeSlow:
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
			return
		}
	case Mode500, Mode502, Mode503:
		code, _ := strconv.Atoi(mode)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(code)
		fmt.Fprintf(w, "<h1>%d %s</h1><p>SQLSTATE[HY000] [2002] Connection refused</p>", code, http.StatusText(code))
		return
	case ModeReset:
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				if tc, ok := c.(*net.TCPConn); ok {
					tc.SetLinger(0)
				}
				c.Close()
			}
		}
		return
	}
	s.route(w, r)
}

func (s *Shop) route(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case path == "/" && r.Method == http.MethodGet:
		s.render(w, r, "home", page{Title: "Vers brood en gebak", Products: products})
	case strings.HasPrefix(path, "/product/") && r.Method == http.MethodGet:
		s.product(w, r, strings.TrimPrefix(path, "/product/"))
	case strings.HasPrefix(path, "/category/") && r.Method == http.MethodGet:
		c, ok := categoryBySlug(strings.TrimPrefix(path, "/category/"))
		if !ok {
			http.NotFound(w, r)
			return
		}
		s.render(w, r, "category", page{Title: c.Name, Category: c, Products: productsIn(c.Slug)})
	case strings.HasPrefix(path, "/img/") && strings.HasSuffix(path, ".png"):
		id, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(path, "/img/"), ".png"))
		img, ok := s.images[id]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Cache-Control", "public, max-age=86400")
		w.Write(img)
	case path == "/static/shop.css":
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Write(s.css)
	case path == "/cart" && r.Method == http.MethodGet:
		s.cart(w, r)
	case path == "/cart/add" && r.Method == http.MethodPost:
		s.addToCart(w, r)
	case path == "/checkout" && r.Method == http.MethodPost:
		s.checkout(w, r)
	case path == "/api/products" && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=60")
		json.NewEncoder(w).Encode(products)
	case strings.HasPrefix(path, "/api/products/") && r.Method == http.MethodGet:
		id, _ := strconv.Atoi(strings.TrimPrefix(path, "/api/products/"))
		p, ok := productByID(id)
		if !ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":"not found"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(p)
	case path == "/healthz":
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("ok\n"))
	case path == "/sitemap.xml":
		s.sitemap(w, r)
	default:
		http.NotFound(w, r)
	}
}

// page is what the templates render.
type page struct {
	Title, Description string
	Categories         []Category
	Products           []Product
	Category           Category
	Product            Product
	Related            []Product
	Lines              []cartLine
	Total              float64
	CartCount          int
	Order              string
	RenderedAt         string
	RequestID          int64
}

func (s *Shop) render(w http.ResponseWriter, r *http.Request, name string, p page) {
	p.Categories = categories
	p.RenderedAt = time.Now().Format("15:04:05")
	p.RequestID = s.requests.Load()
	if p.Description == "" {
		p.Description = "Bakkerij de Vries: " + p.Title
	}
	for _, l := range readCart(r) {
		p.CartCount += l.Qty
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if w.Header().Get("Cache-Control") == "" {
		w.Header().Set("Cache-Control", "public, max-age=60")
	}
	if err := s.pages[name].ExecuteTemplate(w, "layout", p); err != nil {
		s.log.Error("demo shop: render", "page", name, "err", err)
	}
}

func (s *Shop) product(w http.ResponseWriter, r *http.Request, idStr string) {
	id, err := strconv.Atoi(idStr)
	p, ok := productByID(id)
	if err != nil || !ok {
		http.NotFound(w, r)
		return
	}
	c, _ := categoryBySlug(p.Category)
	var related []Product
	for _, q := range products {
		if q.ID != p.ID && len(related) < 4 {
			related = append(related, q)
		}
	}
	s.render(w, r, "product", page{Title: p.Name, Description: p.Description, Product: p, Category: c, Related: related})
}

type cartLine struct {
	Product Product
	Qty     int
	Total   float64
}

// readCart reads the cart cookie: "id:qty,id:qty".
func readCart(r *http.Request) []cartLine {
	c, err := r.Cookie("cart")
	if err != nil {
		return nil
	}
	var lines []cartLine
	for _, item := range strings.Split(c.Value, ".") {
		idStr, qtyStr, _ := strings.Cut(item, "-")
		id, _ := strconv.Atoi(idStr)
		qty, _ := strconv.Atoi(qtyStr)
		if p, ok := productByID(id); ok && qty > 0 {
			lines = append(lines, cartLine{p, qty, float64(qty) * p.Price})
		}
	}
	return lines
}

func (s *Shop) cart(w http.ResponseWriter, r *http.Request) {
	lines := readCart(r)
	total := 0.0
	for _, l := range lines {
		total += l.Total
	}
	w.Header().Set("Cache-Control", "private, no-store")
	s.render(w, r, "cart", page{Title: "Winkelmand", Lines: lines, Total: total})
}

func (s *Shop) addToCart(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	id, _ := strconv.Atoi(r.FormValue("id"))
	qty, _ := strconv.Atoi(r.FormValue("qty"))
	if _, ok := productByID(id); !ok || qty < 1 || qty > 20 {
		http.Error(w, "invalid product or quantity", http.StatusBadRequest)
		return
	}
	var items []string
	for _, l := range readCart(r) {
		if l.Product.ID != id {
			items = append(items, fmt.Sprintf("%d-%d", l.Product.ID, l.Qty))
		}
	}
	items = append(items, fmt.Sprintf("%d-%d", id, qty))
	http.SetCookie(w, &http.Cookie{Name: "cart", Value: strings.Join(items, "."), Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	ensureSession(w, r)
	http.Redirect(w, r, "/cart", http.StatusSeeOther)
}

func (s *Shop) checkout(w http.ResponseWriter, r *http.Request) {
	if len(readCart(r)) == 0 {
		http.Redirect(w, r, "/cart", http.StatusSeeOther)
		return
	}
	ensureSession(w, r)
	http.SetCookie(w, &http.Cookie{Name: "cart", Value: "", Path: "/", MaxAge: -1})
	order := fmt.Sprintf("BDV-%05d", 1000+s.orders.Add(1))
	w.Header().Set("Cache-Control", "private, no-store")
	s.render(w, r, "ordered", page{Title: "Bedankt", Order: order})
}

func ensureSession(w http.ResponseWriter, r *http.Request) {
	if _, err := r.Cookie("session"); err == nil {
		return
	}
	var b [16]byte
	rand.Read(b[:])
	http.SetCookie(w, &http.Cookie{Name: "session", Value: hex.EncodeToString(b[:]), Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

func (s *Shop) sitemap(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/xml")
	base := "http://" + r.Host
	fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">`+"\n")
	fmt.Fprintf(w, "<url><loc>%s/</loc></url>\n", base)
	for _, c := range categories {
		fmt.Fprintf(w, "<url><loc>%s/category/%s</loc></url>\n", base, c.Slug)
	}
	for _, p := range products {
		fmt.Fprintf(w, "<url><loc>%s/product/%d</loc></url>\n", base, p.ID)
	}
	fmt.Fprint(w, "</urlset>\n")
}

// Control returns the handler of the demo's control endpoints:
// POST /_demo/break?mode=down|hang|slow|500|502|503|reset, POST /_demo/heal
// and GET /_demo/status.
func (s *Shop) Control() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /_demo/break", func(w http.ResponseWriter, r *http.Request) {
		mode := r.URL.Query().Get("mode")
		if err := s.Break(mode); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.log.Info("demo shop broken", "mode", mode)
		fmt.Fprintf(w, "the shop is now %s\n", describe(mode))
	})
	mux.HandleFunc("POST /_demo/heal", func(w http.ResponseWriter, r *http.Request) {
		if err := s.Heal(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		s.log.Info("demo shop healed")
		fmt.Fprintln(w, "the shop is healthy again")
	})
	mux.HandleFunc("GET /_demo/status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"mode": s.Mode(), "requests": s.Requests(), "addr": s.Addr()})
	})
	return mux
}

func describe(mode string) string {
	switch mode {
	case ModeDown:
		return "down: connections are refused"
	case ModeHang:
		return "hanging: connections are accepted and never answered"
	case ModeSlow:
		return "slow: every answer takes 5 seconds"
	case ModeReset:
		return "resetting every connection"
	}
	return "answering every request with " + mode
}

// ServeControl runs the control handler h on ln until ctx ends.
func ServeControl(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
