// Brings the shopper back to the page they asked for once the shop is open
// again. Awning serves the outage page at the shopper's own URL, so going
// back is loading this URL again. The health answer is tiny and never
// cached; polls back off and are jittered so that thousands of waiting
// shoppers do not return in one wave onto a platform that has just
// recovered.
(function () {
  var wait = 3000, max = 60000, key = "awning-return", n = 0;
  // A shop that is open but still failing this one page would send the
  // shopper round in circles; remember recent returns to this URL and
  // start each round slower.
  try {
    var s = (sessionStorage.getItem(key) || "").split(" ");
    if (s[1] === location.href && Date.now() - s[2] < 120000) n = +s[0] || 0;
    sessionStorage.setItem(key, n + 1 + " " + location.href + " " + Date.now());
  } catch (e) {}
  wait = Math.min(wait * Math.pow(2, n), max);

  // The answer to a form (a POST the shop could not take) lives at the
  // form's target: loading that URL again would GET /cart/add (a 404) or,
  // reloaded, send the form again. Back to the page the form was on, if it
  // was this shop's, else to the shop's home.
  var m = document.querySelector('meta[name="awning-return"]');
  var form = m && m.getAttribute("content") === "form";
  function back() {
    if (form) {
      var to = "/";
      try {
        var r = new URL(document.referrer);
        if (r.origin === location.origin) to = r.href;
      } catch (e) {}
      location.replace(to);
      return;
    }
    // replace() loads the URL with GET and keeps the outage page out of
    // history; with a #fragment it would only scroll, so reload instead.
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
  else setTimeout(back, max);
})();
