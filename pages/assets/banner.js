// On a page served from a copy while the shop is down: forms that would
// send to the shop (method post) are paused, and trying one shows why, in
// the banner's language, instead of an outage page at the form's target.
// Submit buttons are caught before the shop's own click handlers (which
// may send by fetch), and submissions by Enter too. Once the shop is open
// again the page loads its live self, by GET, as the outage page does:
// polls back off and are jittered so that thousands of shoppers do not
// return in one wave, and a page that keeps coming back as a copy is
// retried ever slower.
(function () {
  var b = document.getElementById("awning-banner");
  if (!b || !document.addEventListener) return;
  var note = b.querySelector(".awning-paused");
  function posts(f, s) {
    var m = (s && s.getAttribute && s.getAttribute("formmethod")) || f.getAttribute("method") || "";
    return m.toLowerCase() === "post";
  }
  function pause(e) {
    e.preventDefault();
    e.stopImmediatePropagation();
    if (note) {
      note.hidden = false;
      b.scrollIntoView();
    }
  }
  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (f && f.tagName === "FORM" && posts(f, e.submitter)) pause(e);
  }, true);
  document.addEventListener("click", function (e) {
    var t = e.target && e.target.closest ? e.target.closest("button,input") : null;
    if (!t || !t.form) return;
    var type = (t.getAttribute("type") || (t.tagName === "BUTTON" ? "submit" : "text")).toLowerCase();
    if ((type === "submit" || type === "image") && posts(t.form, t)) pause(e);
  }, true);

  var wait = 3000, max = 60000, key = "awning-return", n = 0;
  try {
    var s = (sessionStorage.getItem(key) || "").split(" ");
    if (s[1] === location.href && Date.now() - s[2] < 120000) n = +s[0] || 0;
    sessionStorage.setItem(key, n + 1 + " " + location.href + " " + Date.now());
  } catch (e) {}
  wait = Math.min(wait * Math.pow(2, n), max);
  function back() {
    if (location.hash) location.reload();
    else location.replace(location.href);
  }
  function later() {
    setTimeout(check, wait * (0.75 + Math.random() / 2));
    wait = Math.min(wait * 1.5, max);
  }
  function check() {
    if (document.hidden) {
      document.addEventListener("visibilitychange", check, { once: true });
      return;
    }
    fetch("/.well-known/awning/health", { cache: "no-store", credentials: "omit" })
      .then(function (r) { return r.ok ? r.json() : {}; })
      .then(function (h) { if (h && h.open === true) back(); else later(); }, later);
  }
  if (window.fetch) later();
})();
