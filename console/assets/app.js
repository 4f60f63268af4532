// Awning's web console. Every screen is drawn from the admin API's JSON,
// with DOM calls only (no HTML strings: the page enforces Trusted Types, so
// every HTML string sink would throw), and every action is an admin API
// call. The session is a cookie the API set; changes send the session's
// CSRF secret back in X-Awning-CSRF.
"use strict";
(function () {
  var T = JSON.parse(document.getElementById("texts").textContent);
  var CFG = JSON.parse(document.getElementById("config").textContent);
  var view = document.getElementById("view");
  var nav = document.getElementById("nav");
  var who = document.getElementById("who");
  var live = document.getElementById("live");
  var session = null;
  var bulk = null; // sites chosen on the overview for maintenance: {names, languages}
  var timers = [];

  // ---- helpers -----------------------------------------------------------

  function t(key, vars) {
    // A count of one takes the key's ".one" text where there is one:
    // "1 site", not "1 sites".
    var count = vars && (vars.n !== undefined ? vars.n : vars.total);
    if (count !== undefined && String(count) === "1" && T[key + ".one"] !== undefined) key += ".one";
    var s = T[key];
    if (s === undefined) s = key;
    if (vars) Object.keys(vars).forEach(function (k) { s = s.split("{" + k + "}").join(String(vars[k])); });
    return s;
  }

  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "class") el.className = v;
      else if (k === "text") el.textContent = v;
      else if (k.slice(0, 2) === "on") el.addEventListener(k.slice(2), v);
      else if (k === "value") el.value = v;
      else if (k === "checked") el.checked = !!v;
      else el.setAttribute(k, v === true ? "" : v);
    });
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }

  function append(el, kid) {
    if (kid === null || kid === undefined || kid === false) return;
    if (Array.isArray(kid)) { kid.forEach(function (k) { append(el, k); }); return; }
    el.append(kid instanceof Node ? kid : String(kid));
  }

  var uid = 0;
  function id(prefix) { uid++; return prefix + "-" + uid; }

  function announce(msg) {
    live.textContent = "";
    setTimeout(function () { live.textContent = msg; }, 50);
  }

  var dateFmt = new Intl.DateTimeFormat(CFG.lang, { dateStyle: "medium", timeStyle: "short" });
  var numFmt = new Intl.NumberFormat(CFG.lang);
  function when(s) { return s ? dateFmt.format(new Date(s)) : "—"; }
  function num(n) { return numFmt.format(n || 0); }
  function langName(l) { return (CFG.language_names && CFG.language_names[l]) || l; }

  // ---- the API -----------------------------------------------------------

  function ApiError(status, msg) { this.status = status; this.message = msg; }

  function api(method, path, body, extra) {
    var headers = {};
    var opts = { method: method, headers: headers, credentials: "same-origin", cache: "no-store" };
    if (method !== "GET" && session && session.csrf) headers["X-Awning-CSRF"] = session.csrf;
    if (extra && extra.bearer) headers["Authorization"] = "Bearer " + extra.bearer;
    if (body instanceof Blob) {
      opts.body = body;
      headers["Content-Type"] = body.type || "application/octet-stream";
    } else if (body !== undefined) {
      opts.body = JSON.stringify(body);
      headers["Content-Type"] = "application/json";
    }
    return fetch(path, opts).then(function (r) {
      var ct = r.headers.get("Content-Type") || "";
      var read = ct.indexOf("json") >= 0 ? r.json() : r.text();
      return read.then(function (data) {
        if (r.ok) return data;
        var msg = data && data.error ? data.error : t("error.http", { status: r.status });
        if (r.status === 401 && !(extra && extra.bearer) && path !== "/v1/session") {
          session = null;
          showSignIn(t("signin.ended"));
        }
        throw new ApiError(r.status, msg);
      });
    });
  }

  // ---- layout and routing ------------------------------------------------

  function parseHash() {
    var raw = location.hash.replace(/^#\/?/, "");
    var q = raw.indexOf("?");
    var path = q >= 0 ? raw.slice(0, q) : raw;
    var params = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : "");
    return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), params: params };
  }

  function go(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  }

  var opsScreens = ["maintenance", "updates", "audit", "nodes", "tokens"];

  function drawChrome(current) {
    nav.replaceChildren();
    who.replaceChildren();
    if (!session || !session.signed_in) { nav.hidden = true; return; }
    nav.hidden = false;
    var items = [["sites", t(session.role === "ops" ? "nav.sites" : "nav.my_sites")]];
    if (session.role === "ops") {
      items.push(["maintenance", t("nav.maintenance")], ["updates", t("nav.updates")], ["audit", t("nav.audit")],
        ["nodes", t("nav.nodes")], ["tokens", t("nav.tokens")]);
    }
    var ul = h("ul");
    items.forEach(function (it) {
      ul.append(h("li", null, h("a", { href: "#/" + it[0], "aria-current": current === it[0] ? "page" : null, text: it[1] })));
    });
    nav.append(ul);
    who.append(
      h("span", { class: "who-name", text: t(session.role === "ops" ? "who.ops" : "who.merchant", { name: session.name }) }),
      h("button", { type: "button", class: "quiet", onclick: signOut, text: t("signout") }));
  }

  function drawLanguages() {
    var box = document.getElementById("langs");
    box.replaceChildren();
    CFG.console_languages.forEach(function (l) {
      if (l === CFG.lang) {
        box.append(h("span", { lang: l, "aria-current": "true", text: langName(l) }));
      } else {
        box.append(h("a", { href: "?lang=" + l + location.hash, hreflang: l, lang: l, text: langName(l) }));
      }
    });
  }

  function screen(title, opts) {
    timers.forEach(clearTimeout);
    timers = [];
    var h1 = h("h1", { tabindex: "-1", text: title });
    var box = h("section", { class: "screen" + (opts && opts.wide ? " wide" : "") }, h1);
    view.replaceChildren(box);
    document.title = title + " · " + t("app.name");
    return box;
  }

  function focusTitle() {
    var h1 = view.querySelector("h1");
    if (h1) h1.focus({ preventScroll: true });
  }

  function route() {
    var r = parseHash();
    drawLanguages();
    if (!session || !session.signed_in) { showSignIn(); return; }
    var name = r.parts[0] || "sites";
    drawChrome(name === "site" ? "sites" : name);
    var p;
    if (opsScreens.indexOf(name) >= 0 && session.role !== "ops") {
      p = Promise.resolve(notAllowed());
    } else if (name === "sites") p = screenSites(r.params);
    else if (name === "site" && r.parts[1]) p = screenSite(r.parts[1], r.params);
    else if (name === "maintenance") p = screenMaintenance();
    else if (name === "updates") p = screenUpdates();
    else if (name === "audit") p = screenAudit(r.params);
    else if (name === "nodes") p = screenNodes();
    else if (name === "tokens") p = screenTokens();
    else p = Promise.resolve(notFound());
    p.then(focusTitle, function (e) {
      if (e instanceof ApiError && e.status === 401) return;
      var box = screen(t("error.title"));
      box.append(h("p", { class: "error", role: "alert", text: e.message || String(e) }));
      focusTitle();
    });
  }

  function notAllowed() {
    var box = screen(t("denied.title"));
    box.append(h("p", { text: t("denied.text") }), h("p", null, h("a", { href: "#/sites", text: t("nav.my_sites") })));
  }

  function notFound() {
    var box = screen(t("missing.title"));
    box.append(h("p", null, h("a", { href: "#/sites", text: t("nav.sites") })));
  }

  // ---- sign-in -------------------------------------------------------------

  function showSignIn(message) {
    drawChrome();
    var box = screen(t("signin.title"));
    var err = h("p", { class: "error", role: "alert", id: "signin-error", hidden: !message, text: message || "" });
    var input = h("input", { id: "token", name: "token", type: "password", autocomplete: "current-password", required: true, spellcheck: "false", "aria-describedby": "token-help signin-error" });
    var form = h("form", { class: "card narrow", onsubmit: function (ev) {
      ev.preventDefault();
      err.hidden = true;
      api("POST", "/v1/session", { token: input.value.trim() }).then(function (s) {
        session = s;
        input.value = "";
        announce(t("signin.done", { name: s.name }));
        go("#/sites");
      }, function (e) {
        err.textContent = e.message;
        err.hidden = false;
        input.focus();
      });
    } },
    h("label", { for: "token", text: t("signin.token") }),
    input,
    h("p", { id: "token-help", class: "help", text: t("signin.help") }),
    err,
    h("button", { type: "submit", class: "primary", text: t("signin.submit") }));
    box.append(form);
    focusTitle();
  }

  function signOut() {
    api("DELETE", "/v1/session").then(function () {
      session = null;
      announce(t("signout.done"));
      showSignIn(t("signout.done"));
    }, function (e) { announce(e.message); });
  }

  // ---- the overview ----------------------------------------------------------

  var states = ["down", "forced", "maintenance", "read-only", "degraded", "scheduled", "open"];

  function badge(state) {
    return h("span", { class: "badge s-" + state, text: t("state." + state) });
  }

  function sitesHash(q, st, page) {
    var p = new URLSearchParams();
    if (q) p.set("q", q);
    if (st) p.set("state", st);
    if (page > 1) p.set("page", page);
    var s = p.toString();
    return "#/sites" + (s ? "?" + s : "");
  }

  function screenSites(params) {
    var q = params.get("q") || "", st = params.get("state") || "", page = Math.max(1, +params.get("page") || 1);
    var query = new URLSearchParams({ q: q, state: st, page: page, per_page: 50 });
    if (!st) query.delete("state");
    return api("GET", "/v1/overview?" + query).then(function (ov) {
      if (session.role !== "ops" && ov.total === 1 && !q && !st && ov.sites.length === 1) {
        location.replace("#/site/" + encodeURIComponent(ov.sites[0].name));
        return;
      }
      var ops = session.role === "ops";
      var box = screen(t(ops ? "sites.title" : "sites.mine"), { wide: true });
      box.append(h("p", { class: "lede", text: t("sites.count", { total: num(ov.total), since: when(ov.since) }) }));

      var search = h("input", { id: "q", type: "search", name: "q", value: q, autocomplete: "off" });
      box.append(h("form", { class: "search", role: "search", onsubmit: function (ev) {
        ev.preventDefault();
        go(sitesHash(search.value.trim(), st, 1));
      } }, h("label", { for: "q", text: t("sites.search") }), search, h("button", { type: "submit", text: t("sites.search.go") })));

      var chips = h("ul", { class: "chips" });
      var all = 0;
      states.forEach(function (s) { all += ov.states[s] || 0; });
      chips.append(h("li", null, h("a", { href: sitesHash(q, "", 1), "aria-current": st ? null : "true", text: t("state.all") + " (" + num(all) + ")" })));
      states.forEach(function (s) {
        chips.append(h("li", null, h("a", { href: sitesHash(q, s, 1), class: "chip-" + s, "aria-current": st === s ? "true" : null, text: t("state." + s) + " (" + num(ov.states[s] || 0) + ")" })));
      });
      box.append(h("nav", { "aria-label": t("sites.filter") }, chips));

      var selected = {};
      var bulkBar = null, bulkCount = null;
      function refreshBulk() {
        if (!bulkBar) return;
        var n = Object.keys(selected).length;
        bulkCount.textContent = t("bulk.selected", { n: n });
        bulkBar.querySelector("button.sel").disabled = n === 0;
      }
      if (ops) {
        bulkCount = h("span", { text: "" });
        bulkBar = h("div", { class: "bulk", role: "group", "aria-label": t("bulk.label") },
          bulkCount,
          h("button", { type: "button", class: "sel", disabled: true, onclick: function () {
            var rows = ov.sites.filter(function (s) { return selected[s.name]; });
            bulk = bulkOf(rows, t("bulk.these", { n: rows.length }));
            go("#/maintenance");
          }, text: t("bulk.maint.selected") }),
          h("button", { type: "button", disabled: ov.matched === 0, onclick: function () {
            collectAll(q, st).then(function (rows) {
              bulk = bulkOf(rows, t("bulk.matching", { n: rows.length }));
              go("#/maintenance");
            }, function (e) { announce(e.message); });
          }, text: t("bulk.maint.matching", { n: num(ov.matched) }) }));
        box.append(bulkBar);
        refreshBulk();
      }

      if (ov.sites.length === 0) {
        box.append(h("p", { class: "empty", text: t("sites.none") }));
      } else {
        var table = h("table", { class: "sites" });
        table.append(h("caption", { text: t("sites.caption", { page: ov.page, pages: ov.pages, matched: num(ov.matched) }) }));
        var head = h("tr");
        if (ops) {
          var allBox = h("input", { type: "checkbox", "aria-label": t("bulk.page"), onchange: function () {
            table.querySelectorAll("tbody input[type=checkbox]").forEach(function (c) {
              c.checked = allBox.checked;
              if (allBox.checked) selected[c.value] = true; else delete selected[c.value];
            });
            refreshBulk();
          } });
          head.append(h("th", { scope: "col", class: "pick" }, allBox));
        }
        [["col.site", ""], ["col.state", ""], ["col.origins", "n"], ["col.origin", "n"], ["col.stale", "n"], ["col.outage", "n"], ["col.maintpage", "n"], ["col.maintenance", ""]].forEach(function (c) {
          head.append(h("th", { scope: "col", class: c[1], text: t(c[0]) }));
        });
        table.append(h("thead", null, head));
        var body = h("tbody");
        ov.sites.forEach(function (s) {
          var tr = h("tr");
          if (ops) {
            tr.append(h("td", { class: "pick" }, h("input", { type: "checkbox", value: s.name, "aria-label": t("bulk.pick", { site: s.name }), onchange: function (ev) {
              if (ev.target.checked) selected[s.name] = true; else delete selected[s.name];
              refreshBulk();
            } })));
          }
          tr.append(
            h("th", { scope: "row", "data-label": t("col.site") }, h("a", { href: "#/site/" + encodeURIComponent(s.name), text: s.name }), h("span", { class: "hosts", text: s.hosts.join(", ") })),
            h("td", { "data-label": t("col.state") }, badge(s.state), s.force_fallback && s.state !== "forced" ? h("span", { class: "note", text: t("state.forced") }) : null),
            h("td", { class: "n", "data-label": t("col.origins") , text: s.origins ? t("origins.up", { up: s.origins_up, n: s.origins }) : "—" }),
            h("td", { class: "n", "data-label": t("col.origin"), text: num(s.answers.origin) }),
            h("td", { class: "n", "data-label": t("col.stale"), text: num(s.answers.stale) }),
            h("td", { class: "n", "data-label": t("col.outage"), text: num(s.answers.outage) }),
            h("td", { class: "n", "data-label": t("col.maintpage"), text: num(s.answers.maintenance) }),
            h("td", { "data-label": t("col.maintenance"), text: maintSummary(s.maintenance) }));
          body.append(tr);
        });
        table.append(body);
        box.append(h("div", { class: "table-wrap" }, table));
      }
      box.append(pager(ov.page, ov.pages, function (p) { return sitesHash(q, st, p); }));
      // The first rows are on screen once the frame after this one is
      // painted: the mark the browser test measures.
      requestAnimationFrame(function () { setTimeout(function () { performance.mark("awning-rows-painted"); }, 0); });
    });
  }

  // bulkOf remembers sites chosen for maintenance, with each one's
  // languages: a message goes to each site in the languages it shows.
  function bulkOf(rows, label) {
    var all = {}, langs = {};
    rows.forEach(function (r) {
      langs[r.name] = r.languages || [];
      langs[r.name].forEach(function (l) { all[l] = true; });
    });
    return { names: rows.map(function (r) { return r.name; }), langs: langs, languages: Object.keys(all).sort(), label: label };
  }

  // collectAll pages through the overview for every site a search and
  // filter keep: for maintenance on all of them.
  function collectAll(q, st) {
    var rows = [];
    function page(n) {
      var query = new URLSearchParams({ q: q, page: n, per_page: 500 });
      if (st) query.set("state", st);
      return api("GET", "/v1/overview?" + query).then(function (ov) {
        rows = rows.concat(ov.sites);
        return n < ov.pages ? page(n + 1) : rows;
      });
    }
    return page(1);
  }

  function maintSummary(m) {
    if (!m) return "—";
    var mode = t(m.mode === "read-only" ? "maint.mode.readonly" : "maint.mode.full");
    var scope = m.scope === "all" ? " · " + t("maint.scope.all") : "";
    if (!m.active && m.start && new Date(m.start) > new Date()) return t("maint.from", { mode: mode, start: when(m.start) }) + scope;
    if (m.end) return t("maint.until", { mode: mode, end: when(m.end) }) + scope;
    return mode + scope;
  }

  function pager(page, pages, hashOf) {
    var nav = h("nav", { class: "pager", "aria-label": t("pager.label") });
    nav.append(page > 1 ? h("a", { href: hashOf(page - 1), rel: "prev", text: t("pager.prev") }) : h("span", { class: "off", text: t("pager.prev") }));
    nav.append(h("span", { text: t("pager.of", { page: page, pages: pages }) }));
    nav.append(page < pages ? h("a", { href: hashOf(page + 1), rel: "next", text: t("pager.next") }) : h("span", { class: "off", text: t("pager.next") }));
    return nav;
  }

  // ---- one site ----------------------------------------------------------

  function screenSite(name) {
    var base = "/v1/sites/" + encodeURIComponent(name);
    var ops = session.role === "ops";
    var reads = [api("GET", base), api("GET", base + "/page/config"), api("GET", base + "/page"), api("GET", base + "/incidents")];
    if (ops) reads.push(api("GET", base + "/updates"), api("GET", base + "/maintenance"));
    return Promise.all(reads).then(function (r) {
      var site = r[0], conf = r[1], page = r[2], incidents = r[3];
      var box = screen(site.name, { wide: true });
      box.append(h("p", { class: "lede" }, h("a", { href: "#/sites", text: t("site.back") }), " · ", site.hosts.join(", ")));
      // What the pages are shown in now: the merchant's languages and zone,
      // else the config's.
      var eff = Object.assign({}, conf, {
        languages: page.languages && page.languages.length ? page.languages : conf.languages,
        timezone: page.timezone || conf.timezone
      });
      box.append(sectionNow(site, eff));
      if (ops) {
        // Ops come for the switches; the page's branding is the merchant's.
        box.append(sectionMaintenance(site, eff, r[5]));
        box.append(sectionUpdates(site, eff, r[4]));
        box.append(sectionFallback(site));
      }
      box.append(sectionBranding(site, conf, page));
      box.append(sectionIncidents(incidents));
    });
  }

  function section(title, idp) {
    var hid = id(idp || "sec");
    return h("section", { class: "card", "aria-labelledby": hid }, h("h2", { id: hid, text: title }));
  }

  function sectionNow(site, conf) {
    var s = section(t("now.title"), "now");
    var state = site.maintenance && site.maintenance.active ? (site.maintenance.mode === "read-only" ? "read-only" : "maintenance")
      : site.force_fallback ? "forced" : site.open ? "open" : "down";
    var dl = h("dl", { class: "facts" },
      h("dt", { text: t("now.state") }), h("dd", null, badge(state)),
      h("dt", { text: t("now.maintenance") }), h("dd", { text: maintSummary(site.maintenance) }),
      h("dt", { text: t("now.fallback") }), h("dd", { text: t(site.force_fallback ? "yes" : "no") }),
      h("dt", { text: t("now.languages") }), h("dd", { text: conf.languages.map(langName).join(", ") }),
      h("dt", { text: t("now.timezone") }), h("dd", { text: conf.timezone || "UTC" }));
    s.append(dl);
    if (site.origins && site.origins.length) {
      var table = h("table", { class: "plain" }, h("caption", { text: t("now.origins") }),
        h("thead", null, h("tr", null, h("th", { scope: "col", text: t("col.url") }), h("th", { scope: "col", text: t("col.state") }), h("th", { scope: "col", text: t("col.since") }), h("th", { scope: "col", text: t("col.reason") }))));
      var body = h("tbody");
      site.origins.forEach(function (o) {
        body.append(h("tr", null, h("td", { "data-label": t("col.url"), text: o.url }), h("td", { "data-label": t("col.state") }, badge(o.state === "up" ? "open" : o.state === "down" ? "down" : "degraded")),
          h("td", { "data-label": t("col.since"), text: when(o.since) }), h("td", { "data-label": t("col.reason"), text: o.reason || "—" })));
      });
      table.append(body);
      s.append(h("div", { class: "table-wrap" }, table));
    }
    return s;
  }

  // The branding form: what the merchant would save, previewed through the
  // API's draft before it is saved.
  function sectionBranding(site, conf, page) {
    var s = section(t("brand.title"), "brand");
    var base = "/v1/sites/" + encodeURIComponent(site.name);
    // The API answers the page as shoppers see it and names the fields the
    // merchant set in "overrides"; the form holds those alone, the rest
    // shows the configuration's value greyed.
    function own(k) {
      return !page.overrides || page.overrides.indexOf(k) >= 0 ? page[k] : undefined;
    }
    s.append(h("p", { class: "help", text: t("brand.help") }));
    var err = h("p", { class: "error", role: "alert", hidden: true });
    var fields = {};
    function field(key, label, value, placeholder, type, help) {
      var fid = id("f-" + key);
      var hid = help ? fid + "-help" : null;
      var input = h("input", { id: fid, name: key, type: type || "text", value: value || "", placeholder: placeholder || null, "aria-describedby": hid, autocomplete: "off" });
      fields[key] = input;
      return h("div", { class: "field" }, h("label", { for: fid, text: label }), input, help ? h("p", { id: hid, class: "help", text: help }) : null);
    }
    var form = h("form", { class: "brand-form", onsubmit: function (ev) { ev.preventDefault(); save(); } });
    form.append(field("brand", t("brand.name"), own("brand"), conf.brand || site.name));

    // Colour: a picker and the same value as text, kept in step.
    var colorId = id("f-color");
    var picker = h("input", { id: colorId + "-pick", type: "color", value: page.color || conf.color || "#b5651d", "aria-label": t("brand.color.pick") });
    var colorText = h("input", { id: colorId, name: "color", type: "text", value: own("color") || "", placeholder: conf.color || "", pattern: "#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})", "aria-describedby": colorId + "-check", autocomplete: "off", spellcheck: "false" });
    fields.color = colorText;
    picker.addEventListener("input", function () { colorText.value = picker.value; changed(); });
    colorText.addEventListener("input", function () { if (/^#[0-9a-fA-F]{6}$/.test(colorText.value)) picker.value = colorText.value; });
    var check = h("div", { id: colorId + "-check", class: "contrast", "aria-live": "polite" });
    form.append(h("div", { class: "field" }, h("label", { for: colorId, text: t("brand.color") }), h("div", { class: "color-row" }, picker, colorText), check));

    // Logo: dropped or chosen, previewed, saved with the rest.
    var logo = null; // {blob, b64, url}
    var logoId = id("f-logo");
    var logoImg = h("img", { alt: "", class: "logo-thumb", hidden: true });
    var logoState = h("span", { class: "help", id: logoId + "-state", text: own("logo") ? t("brand.logo.set") : conf.logo ? t("brand.logo.config") : t("brand.logo.none") });
    var fileInput = h("input", { id: logoId, type: "file", accept: "image/png,image/jpeg,image/webp", class: "visually-hidden", "aria-describedby": logoId + "-state " + logoId + "-help" });
    var drop = h("label", { for: logoId, class: "drop" }, h("span", { class: "drop-text", text: t("brand.logo.drop") }), fileInput);
    function takeFile(f) {
      if (!f) return;
      if (f.size > 200 * 1024) { err.textContent = t("brand.logo.big"); err.hidden = false; return; }
      var rd = new FileReader();
      rd.onload = function () {
        var url = rd.result;
        logo = { blob: f, b64: url.slice(url.indexOf(",") + 1) };
        logoImg.src = url;
        logoImg.hidden = false;
        logoState.textContent = t("brand.logo.new", { name: f.name });
        changed();
      };
      rd.readAsDataURL(f);
    }
    fileInput.addEventListener("change", function () { takeFile(fileInput.files[0]); });
    drop.addEventListener("dragover", function (ev) { ev.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", function () { drop.classList.remove("over"); });
    drop.addEventListener("drop", function (ev) {
      ev.preventDefault();
      drop.classList.remove("over");
      if (ev.dataTransfer && ev.dataTransfer.files.length) takeFile(ev.dataTransfer.files[0]);
    });
    form.append(h("div", { class: "field" }, h("span", { class: "label", id: logoId + "-label", text: t("brand.logo") }), drop,
      h("div", { class: "logo-row" }, logoImg, logoState), h("p", { id: logoId + "-help", class: "help", text: t("brand.logo.help") })));

    form.append(field("contact", t("brand.contact"), own("contact"), conf.contact, "text", t("brand.contact.help")));
    form.append(field("status_url", t("brand.status"), own("status_url"), conf.status_url, "url", t("brand.status.help")));

    // Languages and time zone: the config's unless the merchant picks
    // others; the texts below follow the languages picked.
    var langs = (page.languages && page.languages.length ? page.languages : conf.languages).slice();
    var langFs = h("fieldset", { class: "inline langs-pick" }, h("legend", { text: t("brand.languages") }));
    var mainSel = h("select", { id: id("f-main") });
    function drawMain() {
      mainSel.replaceChildren();
      langs.forEach(function (l) { mainSel.append(h("option", { value: l, text: langName(l) })); });
      mainSel.value = langs[0];
    }
    CFG.page_languages.forEach(function (l) {
      var cid = id("f-lang");
      langFs.append(h("span", { class: "radio" }, h("input", { type: "checkbox", id: cid, value: l, checked: langs.indexOf(l) >= 0, onchange: function (ev) {
        var i = langs.indexOf(l);
        if (ev.target.checked && i < 0) langs.push(l);
        if (!ev.target.checked && i >= 0) {
          if (langs.length === 1) { ev.target.checked = true; return; }
          langs.splice(i, 1);
        }
        drawMain();
        drawTexts();
      } }), h("label", { for: cid, lang: l, text: langName(l) })));
    });
    mainSel.addEventListener("change", function () {
      langs.splice(langs.indexOf(mainSel.value), 1);
      langs.unshift(mainSel.value);
      drawTexts();
      changed();
    });
    drawMain();
    var zones = h("datalist", { id: id("zones") });
    if (Intl.supportedValuesOf) Intl.supportedValuesOf("timeZone").forEach(function (z) { zones.append(h("option", { value: z })); });
    var tzId = id("f-tz");
    fields.timezone = h("input", { id: tzId, name: "timezone", value: own("timezone") || "", placeholder: conf.timezone || "UTC", list: zones.id, autocomplete: "off", "aria-describedby": tzId + "-h" });
    form.append(langFs, h("div", { class: "field" }, h("label", { for: mainSel.id, text: t("brand.main") }), mainSel),
      h("div", { class: "field" }, h("label", { for: tzId, text: t("brand.timezone") }), fields.timezone, zones, h("p", { id: tzId + "-h", class: "help", text: t("brand.timezone.help") })));

    var msgs = {}, lines = {};
    var kept = { m: Object.assign({}, own("message")), r: Object.assign({}, own("reassurance")) };
    var textBox = h("div", { class: "lang-texts" });
    function drawTexts() {
      // Keep what was typed in a language that is dropped and picked again.
      Object.keys(msgs).forEach(function (l) { kept.m[l] = msgs[l].value; kept.r[l] = lines[l].value.split("\n"); });
      msgs = {};
      lines = {};
      textBox.replaceChildren();
      langs.forEach(function (l) {
        var mid = id("f-msg"), rid = id("f-re");
        msgs[l] = h("textarea", { id: mid, lang: l, rows: 3, maxlength: 600, placeholder: (conf.message && conf.message[l]) || t("brand.message.default") });
        msgs[l].value = kept.m[l] || "";
        lines[l] = h("textarea", { id: rid, lang: l, rows: 3, placeholder: ((conf.reassurance && conf.reassurance[l]) || []).join("\n"), "aria-describedby": rid + "-help" });
        lines[l].value = (kept.r[l] || []).join("\n");
        textBox.append(h("fieldset", { class: "lang" }, h("legend", { text: langName(l) }),
          h("div", { class: "field" }, h("label", { for: mid, text: t("brand.message", { lang: langName(l) }) }), msgs[l]),
          h("div", { class: "field" }, h("label", { for: rid, text: t("brand.reassurance", { lang: langName(l) }) }), lines[l], h("p", { id: rid + "-help", class: "help", text: t("brand.reassurance.help") }))));
      });
      // The preview's languages follow.
      langSel.replaceChildren();
      langs.forEach(function (l) { langSel.append(h("option", { value: l, text: langName(l) })); });
      if (langs.indexOf(pv.lang) < 0) pv.lang = langs[0];
      langSel.value = pv.lang;
    }
    form.append(textBox);

    var resetBox = h("div", { class: "confirm", hidden: true, role: "group", "aria-label": t("brand.reset.confirm") },
      h("span", { text: t("brand.reset.confirm") }),
      h("button", { type: "button", class: "danger", onclick: function () {
        api("DELETE", base + "/page").then(function () { announce(t("brand.reset.done")); route(); }, showErr);
      }, text: t("brand.reset.yes") }),
      h("button", { type: "button", onclick: function () { resetBox.hidden = true; }, text: t("cancel") }));
    form.append(err, h("div", { class: "actions" },
      h("button", { type: "submit", class: "primary", text: t("brand.save") }),
      h("button", { type: "button", onclick: function () { preview(true); }, text: t("brand.preview") }),
      h("button", { type: "button", class: "quiet", onclick: function () { resetBox.hidden = false; resetBox.querySelector("button").focus(); }, text: t("brand.reset") })),
      resetBox);

    function showErr(e) { err.textContent = e.message; err.hidden = false; }

    function branding(withLogo) {
      var b = {};
      ["brand", "color", "contact", "status_url", "timezone"].forEach(function (k) { var v = fields[k].value.trim(); if (v) b[k] = v; });
      if (langs.join(",") !== conf.languages.join(",")) b.languages = langs.slice();
      var m = {}, r = {}, anyM = false, anyR = false;
      langs.forEach(function (l) {
        var v = msgs[l].value.trim();
        if (v) { m[l] = v; anyM = true; }
        var ls = lines[l].value.split("\n").map(function (x) { return x.trim(); }).filter(Boolean);
        if (ls.length) { r[l] = ls; anyR = true; }
      });
      if (anyM) b.message = m;
      if (anyR) b.reassurance = r;
      if (withLogo && logo) b.logo = logo.b64;
      return b;
    }

    // Preview: the page as shoppers would get it, in a sandboxed frame.
    var pv = { mode: "outage", lang: langs[0], width: "desktop", n: 0 };
    var frame = h("iframe", { sandbox: "", class: "preview-frame desktop", title: t("pv.title") });
    var frameBox = h("div", { class: "preview-box desktop" }, frame);
    // Which load the frame shows, for whoever waits for it (tests).
    frame.addEventListener("load", function () { frame.dataset.shown = String(pv.n); });
    function radios(name, legend, opts, cur, onchange) {
      var fs = h("fieldset", { class: "inline" }, h("legend", { text: legend }));
      opts.forEach(function (o) {
        var rid = id("r-" + name);
        fs.append(h("span", { class: "radio" }, h("input", { type: "radio", id: rid, name: name + uid, value: o[0], checked: o[0] === cur, onchange: function () { onchange(o[0]); } }), h("label", { for: rid, text: o[1] })));
      });
      return fs;
    }
    var langSel = h("select", { id: id("pv-lang"), onchange: function () { pv.lang = langSel.value; load(); } });
    drawTexts();
    var controls = h("div", { class: "preview-controls" },
      radios("mode", t("pv.page"), [["outage", t("pv.outage")], ["maintenance", t("pv.maintenance")]], pv.mode, function (v) { pv.mode = v; load(); }),
      h("div", { class: "field inline" }, h("label", { for: langSel.id, text: t("pv.lang") }), langSel),
      radios("width", t("pv.width"), [["desktop", t("pv.desktop")], ["phone", t("pv.phone")]], pv.width, function (v) {
        pv.width = v;
        frameBox.className = "preview-box " + v;
        frame.className = "preview-frame " + v;
        load();
      }));
    var pvSection = h("div", { class: "preview" }, h("h3", { text: t("pv.title") }), controls, frameBox);

    function load() {
      pv.n++;
      frame.title = t("pv.frame", { page: t(pv.mode === "outage" ? "pv.outage" : "pv.maintenance"), lang: langName(pv.lang), width: t(pv.width === "phone" ? "pv.phone" : "pv.desktop") });
      frame.src = base + "/page/preview?draft=1&mode=" + pv.mode + "&lang=" + encodeURIComponent(pv.lang) + "&v=" + pv.n;
    }

    function showPalette(p) {
      check.replaceChildren();
      if (!p) return;
      function sw(color) { var e = h("span", { class: "swatch", "aria-hidden": "true" }); e.style.backgroundColor = color; return e; }
      var okText = function (r) { return r >= 4.5 ? t("contrast.ok", { r: r }) : t("contrast.low", { r: r }); };
      check.append(
        h("p", null, sw(p.brand), t("contrast.brand", { color: p.brand }) + " " + okText(p.brand_on_white)),
        h("p", null, sw(p.accent), t("contrast.accent", { color: p.accent }) + " " + okText(p.accent_contrast)),
        h("p", null, sw(p.button), t("contrast.button", { color: p.button, on: p.on_button }) + " " + okText(p.button_contrast)));
    }

    var pending = null;
    function changed() {
      clearTimeout(pending);
      pending = setTimeout(function () { preview(false); }, 400);
      timers.push(pending);
    }
    function preview(say) {
      return api("PUT", base + "/page/draft", branding(true)).then(function (d) {
        err.hidden = true;
        showPalette(d.palette);
        load();
        if (say) announce(t("pv.updated"));
      }, showErr);
    }
    function save() {
      err.hidden = true;
      var b = branding(false);
      api("PUT", base + "/page", b).then(function () {
        return logo ? api("PUT", base + "/page/logo", logo.blob) : null;
      }).then(function () {
        logo = null;
        announce(t("brand.saved"));
        s.querySelector(".saved").hidden = false;
        return preview(false);
      }, showErr);
    }
    form.addEventListener("input", function (ev) { if (ev.target !== fileInput) changed(); });
    s.append(h("div", { class: "brand-grid" }, form, pvSection), h("p", { class: "saved ok", role: "status", hidden: true, text: t("brand.saved") }));
    preview(false);
    return s;
  }

  // Maintenance for one site, many or all: the same form.
  function maintenanceForm(languages, current, onPut, onDelete, idp) {
    var f = h("form", { class: "maint-form" });
    var err = h("p", { class: "error", role: "alert", hidden: true });
    var mode = (current && current.mode) || "full";
    var modeFs = h("fieldset", { class: "inline" }, h("legend", { text: t("maint.mode") }));
    [["full", t("maint.mode.full"), t("maint.mode.full.help")], ["read-only", t("maint.mode.readonly"), t("maint.mode.readonly.help")]].forEach(function (o) {
      var rid = id(idp + "-mode");
      modeFs.append(h("span", { class: "radio" }, h("input", { type: "radio", id: rid, name: idp + "-mode", value: o[0], checked: mode === o[0], "aria-describedby": rid + "-h" }),
        h("label", { for: rid, text: o[1] }), h("span", { id: rid + "-h", class: "help", text: o[2] })));
    });
    f.append(modeFs);
    var msgs = {};
    languages.forEach(function (l) {
      var mid = id(idp + "-msg");
      msgs[l] = h("textarea", { id: mid, lang: l, rows: 2, maxlength: 600 });
      msgs[l].value = (current && current.message && current.message[l]) || "";
      f.append(h("div", { class: "field" }, h("label", { for: mid, text: t("maint.message", { lang: langName(l) }) }), msgs[l]));
    });
    function dt(key, label, value) {
      var did = id(idp + "-" + key);
      var input = h("input", { id: did, type: "datetime-local", "aria-describedby": did + "-h" });
      if (value) input.value = localInput(value);
      return [input, h("div", { class: "field" }, h("label", { for: did, text: label }), input, h("p", { id: did + "-h", class: "help", text: t("maint." + key + ".help") }))];
    }
    var start = dt("start", t("maint.start"), current && current.start);
    var end = dt("end", t("maint.end"), current && current.end);
    f.append(h("div", { class: "two" }, start[1], end[1]));
    var active = current && current.enabled;
    f.append(err, h("div", { class: "actions" },
      h("button", { type: "submit", class: "primary", text: t(active ? "maint.change" : "maint.on") }),
      active ? h("button", { type: "button", class: "danger", onclick: function () {
        err.hidden = true;
        onDelete().then(null, function (e) { err.textContent = e.message; err.hidden = false; });
      }, text: t("maint.off") }) : null));
    f.addEventListener("submit", function (ev) {
      ev.preventDefault();
      err.hidden = true;
      var body = { enabled: true, mode: f.querySelector("input[type=radio]:checked").value };
      var m = {}, any = false;
      languages.forEach(function (l) { var v = msgs[l].value.trim(); if (v) { m[l] = v; any = true; } });
      if (any) body.message = m;
      if (start[0].value) body.start = new Date(start[0].value).toISOString();
      if (end[0].value) body.end = new Date(end[0].value).toISOString();
      onPut(body).then(null, function (e) { err.textContent = e.message; err.hidden = false; });
    });
    return f;
  }

  function localInput(iso) {
    var d = new Date(iso);
    var pad = function (n) { return String(n).padStart(2, "0"); };
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  function sectionMaintenance(site, conf, m) {
    var s = section(t("maint.title"), "maint");
    var base = "/v1/sites/" + encodeURIComponent(site.name) + "/maintenance";
    s.append(h("p", { class: "status-line", text: m && m.enabled ? maintSummary(m) : t("maint.none") }));
    if (site.maintenance && site.maintenance.scope === "all") s.append(h("p", { class: "help", text: t("maint.global.note") }));
    s.append(maintenanceForm(conf.languages, m && m.enabled ? m : null,
      function (body) { return api("PUT", base, body).then(function () { announce(t("maint.done.on", { site: site.name })); route(); }); },
      function () { return api("DELETE", base).then(function () { announce(t("maint.done.off", { site: site.name })); route(); }); }, "m"));
    return s;
  }

  function updatesBlock(list, languages, basePath, scopeLabel) {
    var box = h("div", { class: "updates" });
    if (!list.length) box.append(h("p", { class: "empty", text: t("upd.none") }));
    else {
      var ul = h("ul", { class: "update-list" });
      list.forEach(function (u) {
        var texts = Object.keys(u.message).sort().map(function (l) { return h("p", { lang: l }, h("span", { class: "tag", text: l }), " " + u.message[l]); });
        ul.append(h("li", null, h("time", { datetime: u.time, text: when(u.time) }), texts,
          h("button", { type: "button", class: "danger small", "aria-label": t("upd.retract.label", { time: when(u.time) }), onclick: function () {
            api("DELETE", basePath + "/" + encodeURIComponent(u.id)).then(function () { announce(t("upd.retracted")); route(); }, function (e) { announce(e.message); });
          }, text: t("upd.retract") })));
      });
      box.append(ul);
    }
    var err = h("p", { class: "error", role: "alert", hidden: true });
    var msgs = {};
    var f = h("form", { class: "update-form", onsubmit: function (ev) {
      ev.preventDefault();
      err.hidden = true;
      var m = {}, any = false;
      languages.forEach(function (l) { var v = msgs[l].value.trim(); if (v) { m[l] = v; any = true; } });
      if (!any) { err.textContent = t("upd.empty"); err.hidden = false; return; }
      api("POST", basePath, { message: m }).then(function () { announce(t("upd.posted")); route(); }, function (e) { err.textContent = e.message; err.hidden = false; });
    } }, h("h3", { text: t("upd.new", { scope: scopeLabel }) }));
    languages.forEach(function (l) {
      var uidl = id("u-msg");
      msgs[l] = h("textarea", { id: uidl, lang: l, rows: 2, maxlength: 600 });
      f.append(h("div", { class: "field" }, h("label", { for: uidl, text: t("upd.message", { lang: langName(l) }) }), msgs[l]));
    });
    f.append(err, h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", text: t("upd.post") })));
    box.append(f);
    return box;
  }

  function sectionUpdates(site, conf, list) {
    var s = section(t("upd.title"), "upd");
    s.append(updatesBlock(list, conf.languages, "/v1/sites/" + encodeURIComponent(site.name) + "/updates", site.name));
    return s;
  }

  function sectionFallback(site) {
    var s = section(t("fb.title"), "fb");
    var base = "/v1/sites/" + encodeURIComponent(site.name) + "/fallback";
    s.append(h("p", { class: "help", text: t("fb.help") }),
      h("p", { class: "status-line", text: t(site.force_fallback ? "fb.on" : "fb.off") }),
      h("button", { type: "button", class: site.force_fallback ? "primary" : "danger", onclick: function () {
        api(site.force_fallback ? "DELETE" : "PUT", base).then(function () { announce(t(site.force_fallback ? "fb.released" : "fb.forced")); route(); }, function (e) { announce(e.message); });
      }, text: t(site.force_fallback ? "fb.release" : "fb.force") }));
    return s;
  }

  function sectionIncidents(list) {
    var s = section(t("inc.title"), "inc");
    if (!list.length) { s.append(h("p", { class: "empty", text: t("inc.none") })); return s; }
    var ul = h("ul", { class: "incidents" });
    list.forEach(function (i) {
      ul.append(h("li", null, h("time", { datetime: i.time, text: when(i.time) }), " ",
        badge(i.state === "up" ? "open" : i.state === "down" ? "down" : "degraded"), " ",
        t("inc.line", { origin: i.origin, previous: t("origin." + i.previous) }), i.reason ? " — " + i.reason : "",
        i.site_open ? null : h("strong", { text: " " + t("inc.closed") })));
    });
    s.append(ul);
    return s;
  }

  // ---- ops screens ---------------------------------------------------------

  function screenMaintenance() {
    return api("GET", "/v1/maintenance").then(function (m) {
      var box = screen(t("maint.screen"));
      var all = section(t("maint.all"), "mall");
      all.append(h("p", { class: "help", text: t("maint.all.help") }),
        h("p", { class: "status-line", text: m.enabled ? maintSummary(m) : t("maint.none") }),
        maintenanceForm(CFG.page_languages, m.enabled ? m : null,
          function (body) { return api("PUT", "/v1/maintenance", body).then(function () { announce(t("maint.done.all.on")); route(); }); },
          function () { return api("DELETE", "/v1/maintenance").then(function () { announce(t("maint.done.all.off")); route(); }); }, "ma"));
      if (bulk && bulk.names.length) {
        var many = section(bulk.label, "mmany");
        var progress = h("p", { class: "status-line", role: "status", text: t("bulk.sites", { list: bulk.names.slice(0, 8).join(", ") + (bulk.names.length > 8 ? " …" : "") }) });
        var sites = bulk.names.slice();
        many.append(progress, maintenanceForm(bulk.languages, null,
          function (body) { return eachSite(sites, progress, "PUT", body); },
          function () { return eachSite(sites, progress, "DELETE"); }, "mb"),
        h("button", { type: "button", class: "danger", onclick: function () { eachSite(sites, progress, "DELETE"); }, text: t("bulk.off") }),
        h("button", { type: "button", class: "quiet", onclick: function () { bulk = null; route(); }, text: t("bulk.clear") }));
        box.append(many);
      }
      box.append(all);
    });
  }

  // eachSite changes the maintenance of many sites, four at a time, each
  // with the message in its own languages, and says how far it got.
  function eachSite(names, progress, method, body) {
    var done = 0, failed = [], i = 0;
    var langs = (bulk && bulk.langs) || {};
    function one() {
      if (i >= names.length) return Promise.resolve();
      var name = names[i++];
      var b = body;
      if (body && body.message) {
        b = Object.assign({}, body, { message: {} });
        var ls = langs[name] || Object.keys(body.message);
        ls.forEach(function (l) { if (body.message[l]) b.message[l] = body.message[l]; });
      }
      return api(method, "/v1/sites/" + encodeURIComponent(name) + "/maintenance", b).then(function () {
        done++;
      }, function (e) {
        failed.push(name + ": " + e.message);
      }).then(function () {
        progress.textContent = t("bulk.progress", { done: done, n: names.length });
        return one();
      });
    }
    return Promise.all([one(), one(), one(), one()]).then(function () {
      progress.textContent = failed.length ? t("bulk.failed", { done: done, n: names.length, list: failed.join("; ") }) : t("bulk.done", { done: done });
      announce(progress.textContent);
    });
  }

  function screenUpdates() {
    return api("GET", "/v1/updates").then(function (list) {
      var box = screen(t("upd.screen"));
      var s = section(t("upd.all"), "uall");
      s.append(h("p", { class: "help", text: t("upd.all.help") }), updatesBlock(list, CFG.page_languages, "/v1/updates", t("upd.everyone")));
      box.append(s);
    });
  }

  function screenAudit(params) {
    var n = Math.min(10000, Math.max(100, +params.get("n") || 100));
    return api("GET", "/v1/audit?n=" + n).then(function (log) {
      var box = screen(t("audit.title"), { wide: true });
      var table = h("table", { class: "plain" }, h("caption", { text: t("audit.caption", { n: log.length }) }));
      var head = h("tr");
      ["audit.time", "audit.who", "audit.action", "audit.scope", "audit.detail", "audit.from"].forEach(function (k) { head.append(h("th", { scope: "col", text: t(k) })); });
      table.append(h("thead", null, head));
      var body = h("tbody");
      log.forEach(function (e) {
        body.append(h("tr", null, h("td", { "data-label": t("audit.time") }, h("time", { datetime: e.time, text: when(e.time) })), h("td", { "data-label": t("audit.who"), text: e.who }),
          h("td", { "data-label": t("audit.action"), text: e.action }), h("td", { "data-label": t("audit.scope"), text: e.scope === "*" ? t("maint.scope.all") : e.scope }),
          h("td", { "data-label": t("audit.detail"), text: e.detail || "" }), h("td", { "data-label": t("audit.from"), text: e.from })));
      });
      table.append(body);
      box.append(h("div", { class: "table-wrap" }, table));
      if (log.length >= n && n < 10000) box.append(h("p", null, h("a", { href: "#/audit?n=" + (n + 100), text: t("audit.more") })));
    });
  }

  function screenNodes() {
    return api("GET", "/v1/nodes").then(function (r) {
      var box = screen(t("nodes.title"), { wide: true });
      box.append(h("p", { class: "lede", text: t(r.shared ? "nodes.shared" : "nodes.alone") }));
      if (r.error) box.append(h("p", { class: "error", role: "alert", text: r.error }));
      var table = h("table", { class: "plain" }, h("caption", { text: t("nodes.caption", { n: r.nodes.length }) }));
      var head = h("tr");
      ["nodes.id", "nodes.alive", "nodes.redis", "nodes.version", "nodes.state", "nodes.sites", "nodes.seen", "nodes.started"].forEach(function (k) { head.append(h("th", { scope: "col", text: t(k) })); });
      table.append(h("thead", null, head));
      var body = h("tbody");
      r.nodes.forEach(function (n) {
        body.append(h("tr", null,
          h("th", { scope: "row", "data-label": t("nodes.id") }, n.id, n.self ? h("span", { class: "note", text: t("nodes.self") }) : null),
          h("td", { "data-label": t("nodes.alive") }, h("span", { class: "badge " + (n.alive ? "s-open" : "s-down"), text: t(n.alive ? "nodes.up" : "nodes.lost") })),
          h("td", { "data-label": t("nodes.redis"), text: t(n.redis ? "yes" : "no") }),
          h("td", { "data-label": t("nodes.version"), text: n.version || "—" }),
          h("td", { class: "n", "data-label": t("nodes.state"), text: num(n.state_version) }),
          h("td", { class: "n", "data-label": t("nodes.sites"), text: num(n.sites) }),
          h("td", { "data-label": t("nodes.seen"), text: when(n.seen) }),
          h("td", { "data-label": t("nodes.started"), text: when(n.started) })));
      });
      table.append(body);
      box.append(h("div", { class: "table-wrap" }, table));
    });
  }

  // Tokens: ops issue merchant tokens through POST /v1/tokens; the API
  // shows a new token once, and so does the console.
  function screenTokens() {
    return api("GET", "/v1/tokens").then(function (r) { return drawTokens(Array.isArray(r) ? r : (r.tokens || []), true); },
      function (e) { if (e.status === 404 || e.status === 405) return drawTokens([], false); throw e; });
  }

  function drawTokens(list, available) {
    var box = screen(t("tok.title"), { wide: true });
    if (!available) {
      box.append(h("p", { class: "note-box", role: "note", text: t("tok.unavailable") }));
      return;
    }
    var shown = h("div", { class: "once", hidden: true, role: "region", "aria-label": t("tok.once") });
    var err = h("p", { class: "error", role: "alert", hidden: true });
    var nameId = id("tok-name"), sitesId = id("tok-sites");
    var nameIn = h("input", { id: nameId, required: true, autocomplete: "off", pattern: "[A-Za-z0-9._\\-]{1,64}", "aria-describedby": nameId + "-h" });
    var sitesIn = h("input", { id: sitesId, required: true, autocomplete: "off", "aria-describedby": sitesId + "-h" });
    var form = h("form", { class: "card narrow", onsubmit: function (ev) {
      ev.preventDefault();
      err.hidden = true;
      var sites = sitesIn.value.split(",").map(function (x) { return x.trim(); }).filter(Boolean);
      api("POST", "/v1/tokens", { name: nameIn.value.trim(), sites: sites }).then(function (tk) {
        showOnce(shown, tk);
        nameIn.value = "";
        sitesIn.value = "";
      }, function (e) { err.textContent = e.message; err.hidden = false; });
    } }, h("h2", { text: t("tok.new") }),
      h("div", { class: "field" }, h("label", { for: nameId, text: t("tok.name") }), nameIn, h("p", { id: nameId + "-h", class: "help", text: t("tok.name.help") })),
      h("div", { class: "field" }, h("label", { for: sitesId, text: t("tok.sites") }), sitesIn, h("p", { id: sitesId + "-h", class: "help", text: t("tok.sites.help") })),
      err, h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", text: t("tok.create") })));
    box.append(shown, form);
    var table = h("table", { class: "plain" }, h("caption", { text: t("tok.caption", { n: list.length }) }),
      h("thead", null, h("tr", null, h("th", { scope: "col", text: t("tok.name") }), h("th", { scope: "col", text: t("tok.sites") }), h("th", { scope: "col", text: t("tok.actions") }))));
    var body = h("tbody");
    list.forEach(function (tk) {
      var sites = (tk.sites || []).join(", ");
      body.append(h("tr", null, h("th", { scope: "row", "data-label": t("tok.name"), text: tk.name }), h("td", { "data-label": t("tok.sites"), text: sites === "*" ? t("tok.all") : sites }),
        h("td", { "data-label": t("tok.actions") }, tk.source === "config" ? h("span", { class: "help", text: t("tok.inconfig") }) :
          h("button", { type: "button", class: "danger small", "aria-label": t("tok.revoke.label", { name: tk.name }), onclick: function () {
            api("DELETE", "/v1/tokens/" + encodeURIComponent(tk.name)).then(function () { announce(t("tok.revoked", { name: tk.name })); route(); }, function (e) { announce(e.message); });
          }, text: t("tok.revoke") }))));
    });
    table.append(body);
    box.append(h("div", { class: "table-wrap" }, table));
  }

  function showOnce(box, tk) {
    box.replaceChildren();
    var tokId = id("once");
    var out = h("input", { id: tokId, readonly: true, value: tk.token, class: "mono", "aria-describedby": tokId + "-h" });
    box.append(h("h2", { text: t("tok.once.title", { name: tk.name }) }),
      h("p", { id: tokId + "-h", class: "warn", text: t("tok.once") }),
      h("label", { for: tokId, text: t("tok.token") }), out,
      h("div", { class: "actions" }, h("button", { type: "button", onclick: function () {
        out.select();
        if (navigator.clipboard) navigator.clipboard.writeText(tk.token).then(function () { announce(t("tok.copied")); }, function () {});
      }, text: t("tok.copy") })));
    // A sign-in link for the merchant, made with their own token.
    var linkP = h("p", { class: "help" });
    box.append(linkP);
    api("POST", "/v1/session/link", undefined, { bearer: tk.token }).then(function (l) {
      var url = location.origin + l.path;
      linkP.append(t("tok.link") + " ", h("a", { href: url, class: "mono", text: url }));
    }, function () {});
    box.hidden = false;
    out.focus();
    out.select();
  }

  // ---- start ---------------------------------------------------------------

  function start() {
    var m = location.hash.match(/^#code=([A-Za-z0-9_-]+)$/);
    var first;
    if (m) {
      // A one-time sign-in link: take it out of the address bar and
      // history, then exchange it.
      history.replaceState(null, "", location.pathname + location.search + "#/sites");
      first = api("POST", "/v1/session", { code: m[1] }).then(function (s) { session = s; }, function (e) {
        session = null;
        showSignIn(e.message);
        return "shown";
      });
    } else {
      first = api("GET", "/v1/session").then(function (s) { session = s; });
    }
    first.then(function (shown) {
      window.addEventListener("hashchange", route);
      if (shown !== "shown") route();
    }, function (e) { showSignIn(e.message); });
  }

  start();
})();
