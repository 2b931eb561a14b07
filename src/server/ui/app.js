/* The divan console: a small hand-written single-page app over divan-server's REST API.
 * Every action is a REST call made with the signed-in user's credentials, so the server's
 * role checks decide what works; the page only shows what the server answers. */
"use strict";

(function () {
  // ---- small helpers ----------------------------------------------------------------------

  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "text") el.textContent = v;
      else if (v === true) el.setAttribute(k, "");
      else el.setAttribute(k, String(v));
    }
    for (const kid of kids.flat()) {
      if (kid === null || kid === undefined || kid === false) continue;
      el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return el;
  }

  const $ = (sel, root) => (root || document).querySelector(sel);
  // Replace el's children, leaving out the null/false of conditional parts.
  const put = (el, ...kids) => el.replaceChildren(...kids.flat().filter((k) => k !== null && k !== undefined && k !== false));
  const main = () => $("#main");
  const enc = encodeURIComponent;

  function bytes(n) {
    if (!Number.isFinite(n)) return "-";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + " " + units[i];
  }

  function say(msg, kind) {
    const s = $("#status");
    s.textContent = msg || "";
    s.className = "status" + (kind ? " " + kind : "");
  }

  // ---- the REST API -----------------------------------------------------------------------

  const auth = {
    get token() { return sessionStorage.getItem("divan.auth"); },
    get user() { return sessionStorage.getItem("divan.user"); },
    set(user, password) {
      const raw = new TextEncoder().encode(user + ":" + password);
      let bin = "";
      raw.forEach((b) => { bin += String.fromCharCode(b); });
      sessionStorage.setItem("divan.auth", btoa(bin));
      sessionStorage.setItem("divan.user", user);
    },
    clear() {
      sessionStorage.removeItem("divan.auth");
      sessionStorage.removeItem("divan.user");
    },
  };

  // {status, ok, data (parsed JSON or null), text}
  async function api(method, path, opts) {
    opts = opts || {};
    const headers = { "ns-server-ui": "yes", "Accept": "application/json" };
    const token = opts.token || auth.token;
    if (token) headers["Authorization"] = "Basic " + token;
    let body;
    if (opts.form) {
      const p = new URLSearchParams();
      for (const [k, v] of Object.entries(opts.form)) if (v !== undefined && v !== null) p.append(k, v);
      body = p.toString();
      headers["Content-Type"] = "application/x-www-form-urlencoded";
    } else if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers["Content-Type"] = "application/json";
    }
    let res;
    try {
      res = await fetch(path, { method, headers, body, cache: "no-store" });
    } catch (e) {
      return { status: 0, ok: false, data: null, text: "The server cannot be reached (" + e.message + ")." };
    }
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    if (res.status === 401 && !opts.token) {
      auth.clear();
      showLogin("Your session ended: sign in again.");
    }
    return { status: res.status, ok: res.ok, data, text };
  }

  // The server's message for a failed call, in its own words.
  function problem(r) {
    const d = r.data;
    if (r.status === 403 && d && d.message) {
      return "Not allowed for your roles. " + d.message + ": " + (d.permissions || []).join(", ");
    }
    if (typeof d === "string") return d;
    if (d && d.errors && typeof d.errors === "object" && !Array.isArray(d.errors)) {
      return Object.entries(d.errors).map(([k, v]) => (k === "_" ? v : k + ": " + v)).join("; ");
    }
    if (d && Array.isArray(d.errors)) {
      return d.errors.map((e) => (typeof e === "string" ? e : (e.code ? e.code + " " : "") + (e.msg || JSON.stringify(e)))).join("; ");
    }
    if (Array.isArray(d)) return d.join("; ");
    return (r.text || "").trim() || "The server answered " + r.status + ".";
  }

  // Put the validation messages {"errors":{field:msg}} beside the form's fields; the rest goes
  // to the form's own message line. Returns true if anything was shown.
  function showErrors(form, r) {
    form.querySelectorAll(".field-error").forEach((e) => { e.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
    const msg = form.querySelector(".form-msg");
    if (msg) { msg.textContent = ""; msg.className = "form-msg"; }
    if (!r || r.ok) return false;
    const errs = r.data && r.data.errors && typeof r.data.errors === "object" && !Array.isArray(r.data.errors) ? r.data.errors : null;
    const rest = [];
    if (errs) {
      for (const [field, text] of Object.entries(errs)) {
        const slot = form.querySelector('.field-error[data-for="' + CSS.escape(field) + '"]');
        const input = form.querySelector('[name="' + CSS.escape(field) + '"]');
        if (slot) {
          slot.textContent = text;
          if (input) input.setAttribute("aria-invalid", "true");
        } else {
          rest.push(field === "_" ? text : field + ": " + text);
        }
      }
    } else {
      rest.push(problem(r));
    }
    if (msg && rest.length) { msg.textContent = rest.join("; "); msg.className = "form-msg error"; }
    const first = form.querySelector("[aria-invalid]");
    if (first) first.focus();
    return true;
  }

  function field(label, name, attrs, help) {
    const id = "f-" + name + "-" + Math.random().toString(36).slice(2, 7);
    const a = Object.assign({}, attrs || {});
    const tag = a.tag || "input", options = a.options || [], value = a.value;
    delete a.tag;
    delete a.options;
    let input;
    if (tag === "select") {
      delete a.value;
      input = h("select", Object.assign({ id, name }, a), options.map((o) => h("option", { value: o, selected: o === value }, o)));
    } else if (tag === "textarea") {
      delete a.value;
      input = h("textarea", Object.assign({ id, name }, a));
      if (value !== undefined) input.value = value;
    } else {
      input = h("input", Object.assign({ id, name, type: "text" }, a));
    }
    if (help) input.setAttribute("aria-describedby", id + "-help");
    return h("div", { class: "field" },
      h("label", { for: id }, label),
      input,
      help ? h("small", { class: "help", id: id + "-help" }, help) : null,
      h("p", { class: "field-error", "data-for": name, "aria-live": "polite" }));
  }

  // A button that asks once more before doing something that cannot be undone.
  function dangerButton(label, action) {
    const b = h("button", { type: "button", class: "danger" }, label);
    let armed = false;
    b.addEventListener("click", async () => {
      if (!armed) {
        armed = true;
        b.textContent = "Confirm: " + label.toLowerCase();
        b.classList.add("armed");
        return;
      }
      b.disabled = true;
      try { await action(); } finally { b.disabled = false; }
    });
    b.addEventListener("blur", () => {
      armed = false;
      b.textContent = label;
      b.classList.remove("armed");
    });
    return b;
  }

  function table(head, rows, cls) {
    return h("div", { class: "table-wrap" },
      h("table", { class: cls || "" },
        h("thead", {}, h("tr", {}, head.map((x) => h("th", { scope: "col" }, x)))),
        h("tbody", {}, rows)));
  }

  function section(title, ...kids) {
    return h("section", { class: "card" }, h("h2", {}, title), kids);
  }

  function setView(title, ...kids) {
    stopTimers();
    const m = main();
    put(m, h("h1", {}, title), ...kids);
    document.title = title + " · divan console";
  }

  let timers = [];
  function every(ms, fn) { timers.push(setInterval(fn, ms)); }
  function stopTimers() { timers.forEach(clearInterval); timers = []; }

  // #/section/a/b?x=1 -> {section, parts, params}
  function route() {
    const raw = location.hash.replace(/^#\/?/, "");
    const [path, query] = raw.split("?");
    const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
    return { section: parts[0] || "overview", parts: parts.slice(1), params: new URLSearchParams(query || "") };
  }

  // Navigation the page itself makes keeps the status line (it tells what was just done);
  // the user's own navigation clears it.
  let keepStatus = false;
  function go(hash) {
    if (location.hash === hash) render();
    else { keepStatus = true; location.hash = hash; }
  }

  // ---- sign in ----------------------------------------------------------------------------

  function showLogin(message) {
    stopTimers();
    $("#nav").hidden = true;
    $("#who").hidden = true;
    const form = h("form", { class: "card login", novalidate: true },
      h("h1", {}, "Sign in to divan"),
      h("p", { class: "muted" }, "The users of this divan-server: the same names and passwords as the SDKs and the REST API use."),
      field("Username", "username", { autocomplete: "username", required: true }),
      field("Password", "password", { type: "password", autocomplete: "current-password", required: true }),
      h("p", { class: "form-msg", role: "alert" }, message || ""),
      h("button", { type: "submit", class: "primary" }, "Sign in"));
    if (message) form.querySelector(".form-msg").className = "form-msg error";
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const user = form.username.value.trim(), pw = form.password.value;
      const probe = new TextEncoder().encode(user + ":" + pw);
      let bin = "";
      probe.forEach((b) => { bin += String.fromCharCode(b); });
      const r = await api("GET", "/whoami", { token: btoa(bin) });
      if (r.status === 401 || !r.ok) {
        const msg = form.querySelector(".form-msg");
        msg.textContent = r.status === 401 ? "Wrong username or password." : problem(r);
        msg.className = "form-msg error";
        form.password.focus();
        return;
      }
      auth.set(user, pw);
      signedIn(r.data);
    });
    put(main(), form);
    document.title = "Sign in · divan console";
    form.username.focus();
  }

  let me = null;
  function signedIn(who) {
    me = who;
    $("#nav").hidden = false;
    $("#who").hidden = false;
    $("#who-name").textContent = who.id + (who.roles && who.roles.length ? " (" + who.roles.map(roleText).join(", ") + ")" : "");
    if (!location.hash || location.hash === "#" || location.hash === "#/") location.hash = "#/overview";
    else render();
  }

  function roleText(r) {
    const params = [r.bucket_name, r.scope_name, r.collection_name].filter((x) => x);
    return r.role + (params.length ? "[" + params.join(":") + "]" : "");
  }

  // ---- overview ---------------------------------------------------------------------------

  async function overview() {
    const chart = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    for (const [k, v] of Object.entries({ class: "chart", id: "ops-chart", viewBox: "0 0 300 80", role: "img", "aria-label": "Mutations per second, last two minutes", preserveAspectRatio: "none" })) chart.setAttribute(k, v);
    const rate = h("strong", { id: "ops-rate" }, "-");
    const node = h("div", {}, "Loading…"), services = h("div"), buckets = h("div");
    setView("Overview",
      h("div", { class: "grid" },
        section("Node", node),
        section("Services", services),
        section("Operations", h("p", {}, "Mutations per second: ", rate), chartWrap(chart))),
      section("Buckets", buckets));

    const [pool, ns] = await Promise.all([api("GET", "/pools/default"), api("GET", "/pools/default/nodeServices")]);
    if (pool.ok && pool.data.nodes && pool.data.nodes[0]) {
      const n = pool.data.nodes[0];
      put(node, h("dl", { class: "meta" },
        h("dt", {}, "Host"), h("dd", {}, n.hostname),
        h("dt", {}, "Version"), h("dd", { id: "version" }, n.version),
        h("dt", {}, "Status"), h("dd", {}, n.status),
        h("dt", {}, "OS"), h("dd", {}, n.os),
        h("dt", {}, "Cluster"), h("dd", {}, pool.data.clusterName || "-"),
        h("dt", {}, "Memory quota"), h("dd", {}, pool.data.memoryQuota ? pool.data.memoryQuota + " MiB" : "-")));
    } else {
      put(node, h("p", { class: "error" }, problem(pool)));
    }
    if (ns.ok && ns.data.nodesExt && ns.data.nodesExt[0]) {
      const s = ns.data.nodesExt[0].services || {};
      const names = { kv: "Data (KV)", mgmt: "REST / console", n1ql: "Query", kvSSL: "Data, TLS", mgmtSSL: "REST, TLS", n1qlSSL: "Query, TLS" };
      put(services, table(["Service", "Port"],
        Object.entries(s).map(([k, v]) => h("tr", {}, h("td", {}, names[k] || k), h("td", {}, String(v))))));
    } else {
      put(services, h("p", { class: "error" }, problem(ns)));
    }

    const series = [];
    let last = null;
    async function poll() {
      const r = await api("GET", "/pools/default/buckets");
      if (!r.ok) { put(buckets, h("p", { class: "error" }, problem(r))); return; }
      put(buckets, table(["Bucket", "Type", "Items", "Memory used", "Disk used", "RAM quota"],
        r.data.map((b) => h("tr", {},
          h("th", { scope: "row" }, h("a", { href: "#/buckets/" + enc(b.name) }, b.name)),
          h("td", {}, b.bucketType === "membase" ? "couchbase" : b.bucketType),
          h("td", { class: "num" }, String(b.basicStats.itemCount)),
          h("td", { class: "num" }, bytes(b.basicStats.memUsed)),
          h("td", { class: "num" }, bytes(b.basicStats.diskUsed)),
          h("td", { class: "num" }, bytes(b.quota.ram))))));
      const now = performance.now();
      const total = r.data.reduce((a, b) => a + (b.basicStats.mutations || 0), 0);
      if (last) {
        const v = Math.max(0, (total - last.total) / ((now - last.t) / 1000));
        series.push(v);
        if (series.length > 60) series.shift();
        rate.textContent = v.toFixed(1);
        draw(chart, series);
      }
      last = { t: now, total };
    }
    await poll();
    every(2000, poll);
  }

  function chartWrap(svg) { return h("div", { class: "chart-wrap" }, svg); }

  function draw(svg, series) {
    const max = Math.max(1, ...series);
    // The newest sample at the right edge; the line grows leftwards as samples come in.
    const off = 60 - series.length;
    const pts = series.map((v, i) => ((off + i) * 300 / 59).toFixed(1) + "," + (78 - v / max * 66).toFixed(1)).join(" ");
    const ns = "http://www.w3.org/2000/svg";
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", pts);
    line.setAttribute("class", "line");
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", "2");
    label.setAttribute("y", "10");
    label.setAttribute("class", "axis");
    label.textContent = "max " + max.toFixed(0) + "/s";
    put(svg, line, label);
  }

  // ---- buckets, scopes, collections --------------------------------------------------------

  async function bucketsView(parts) {
    if (parts[0]) return bucketDetail(parts[0]);
    const list = h("div", {}, "Loading…");
    const form = bucketForm(null, async () => { await load(); });
    setView("Buckets", section("Buckets", list), section("Create a bucket", form));
    async function load() {
      const r = await api("GET", "/pools/default/buckets");
      if (!r.ok) { put(list, h("p", { class: "error" }, problem(r))); return; }
      if (!r.data.length) { put(list, h("p", { class: "muted" }, "No buckets yet.")); return; }
      put(list, table(["Bucket", "Type", "Items", "RAM quota", ""],
        r.data.map((b) => h("tr", {},
          h("th", { scope: "row" }, h("a", { href: "#/buckets/" + enc(b.name) }, b.name)),
          h("td", {}, b.bucketType === "membase" ? "couchbase" : b.bucketType),
          h("td", { class: "num" }, String(b.basicStats.itemCount)),
          h("td", { class: "num" }, bytes(b.quota.ram)),
          h("td", { class: "actions" },
            h("a", { href: "#/buckets/" + enc(b.name), class: "button" }, "Open"),
            h("a", { href: "#/documents?b=" + enc(b.name), class: "button" }, "Documents"))))));
    }
    await load();
  }

  // The create form (b null) or the settings form of bucket b.
  function bucketForm(b, done) {
    const creating = !b;
    const form = h("form", { class: "stack", novalidate: true, "aria-label": creating ? "Create a bucket" : "Bucket settings" },
      creating ? field("Name", "name", { required: true, autocomplete: "off" }) : null,
      creating ? field("Type", "bucketType", { tag: "select", options: ["couchbase", "ephemeral"], value: "couchbase" }) : null,
      field("RAM quota (MiB)", "ramQuota", { type: "number", min: 100, value: b ? Math.round(b.quota.rawRAM / 1048576) : 100 }),
      field("Replicas", "replicaNumber", { type: "number", min: 0, max: 3, value: b ? b.replicaNumber : 0 }),
      field("Max TTL (seconds, 0: none)", "maxTTL", { type: "number", min: 0, value: b ? b.maxTTL : 0 }),
      h("div", { class: "field check" },
        h("label", {}, h("input", { type: "checkbox", name: "flushEnabled", checked: b ? !!(b.controllers && b.controllers.flush) : false }), " Flush enabled")),
      h("p", { class: "form-msg", role: "alert" }),
      h("button", { type: "submit", class: "primary" }, creating ? "Create bucket" : "Save settings"));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const f = {
        ramQuota: form.ramQuota.value,
        replicaNumber: form.replicaNumber.value,
        maxTTL: form.maxTTL.value,
        flushEnabled: form.flushEnabled.checked ? "1" : "0",
      };
      if (creating) { f.name = form.name.value.trim(); f.bucketType = form.bucketType.value; }
      const r = await api("POST", creating ? "/pools/default/buckets" : "/pools/default/buckets/" + enc(b.name), { form: f });
      if (showErrors(form, r)) return;
      say(creating ? "Bucket " + f.name + " created." : "Settings of " + b.name + " saved.", "ok");
      if (creating) form.reset();
      await done();
    });
    return form;
  }

  async function bucketDetail(name) {
    const r = await api("GET", "/pools/default/buckets/" + enc(name));
    if (!r.ok) { setView("Bucket " + name, h("p", { class: "error" }, problem(r))); return; }
    const b = r.data;
    const scopes = h("div", {}, "Loading…");
    const flushBtn = b.controllers && b.controllers.flush ? dangerButton("Flush", async () => {
      const x = await api("POST", "/pools/default/buckets/" + enc(name) + "/controller/doFlush");
      say(x.ok ? "Bucket " + name + " flushed." : problem(x), x.ok ? "ok" : "error");
    }) : null;
    const dropBtn = dangerButton("Drop bucket", async () => {
      const x = await api("DELETE", "/pools/default/buckets/" + enc(name));
      if (x.ok) { say("Bucket " + name + " dropped.", "ok"); go("#/buckets"); } else say(problem(x), "error");
    });
    const scopeForm = h("form", { class: "inline", novalidate: true, "aria-label": "Create a scope" },
      field("New scope", "name", { required: true, autocomplete: "off" }),
      h("button", { type: "submit" }, "Create scope"),
      h("p", { class: "form-msg", role: "alert" }));
    scopeForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const x = await api("POST", "/pools/default/buckets/" + enc(name) + "/scopes", { form: { name: scopeForm.name.value.trim() } });
      if (showErrors(scopeForm, x)) return;
      say("Scope " + scopeForm.name.value.trim() + " created.", "ok");
      scopeForm.reset();
      await loadScopes();
    });
    setView("Bucket " + name,
      h("p", {}, h("a", { href: "#/buckets" }, "← All buckets")),
      h("div", { class: "grid" },
        section("Settings", bucketForm(b, () => bucketDetail(name)), h("div", { class: "actions" }, flushBtn, dropBtn)),
        section("Scopes and collections", scopes, scopeForm)));

    async function loadScopes() {
      const x = await api("GET", "/pools/default/buckets/" + enc(name) + "/scopes");
      if (!x.ok) { put(scopes, h("p", { class: "error" }, problem(x))); return; }
      put(scopes, ...x.data.scopes.map((s) => scopeBlock(s)));
    }
    function scopeBlock(s) {
      const collForm = h("form", { class: "inline", novalidate: true, "aria-label": "Create a collection in " + s.name },
        field("New collection", "name", { required: true, autocomplete: "off" }),
        field("Max TTL (s)", "maxTTL", { type: "number", value: 0, min: -1 }),
        h("button", { type: "submit" }, "Create collection"),
        h("p", { class: "form-msg", role: "alert" }));
      collForm.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const f = { name: collForm.name.value.trim() };
        if (collForm.maxTTL.value && collForm.maxTTL.value !== "0") f.maxTTL = collForm.maxTTL.value;
        const x = await api("POST", "/pools/default/buckets/" + enc(name) + "/scopes/" + enc(s.name) + "/collections", { form: f });
        if (showErrors(collForm, x)) return;
        say("Collection " + s.name + "." + f.name + " created.", "ok");
        await loadScopes();
      });
      return h("div", { class: "scope" },
        h("h3", {}, "Scope ", h("code", {}, s.name),
          s.name !== "_default" ? dangerButton("Drop scope", async () => {
            const x = await api("DELETE", "/pools/default/buckets/" + enc(name) + "/scopes/" + enc(s.name));
            say(x.ok ? "Scope " + s.name + " dropped." : problem(x), x.ok ? "ok" : "error");
            await loadScopes();
          }) : null),
        table(["Collection", "Max TTL", ""], s.collections.map((c) => h("tr", {},
          h("th", { scope: "row" }, c.name),
          h("td", { class: "num" }, String(c.maxTTL || 0)),
          h("td", { class: "actions" },
            h("a", { class: "button", href: "#/documents?b=" + enc(name) + "&s=" + enc(s.name) + "&c=" + enc(c.name) }, "Documents"),
            s.name === "_default" && c.name === "_default" ? null : dangerButton("Drop", async () => {
              const x = await api("DELETE", "/pools/default/buckets/" + enc(name) + "/scopes/" + enc(s.name) + "/collections/" + enc(c.name));
              say(x.ok ? "Collection " + s.name + "." + c.name + " dropped." : problem(x), x.ok ? "ok" : "error");
              await loadScopes();
            }))))),
        collForm);
    }
    await loadScopes();
  }

  // ---- documents --------------------------------------------------------------------------

  const PAGE = 20;

  async function documentsView(params) {
    const b = params.get("b") || "", s = params.get("s") || "_default", c = params.get("c") || "_default";
    const prefix = params.get("prefix") || "", skip = Math.max(0, parseInt(params.get("skip") || "0", 10) || 0);
    const key = params.get("key");
    const state = { b, s, c, prefix, skip };
    const here = (over) => {
      const o = Object.assign({}, state, over);
      const p = new URLSearchParams();
      for (const k of ["b", "s", "c", "prefix", "skip", "key"]) if (o[k] !== undefined && o[k] !== "" && o[k] !== null) p.set(k, o[k]);
      return "#/documents?" + p.toString();
    };

    const pick = h("form", { class: "inline picker", "aria-label": "Collection" });
    const listBox = h("div", { class: "doc-list" });
    const editor = h("div", { class: "doc-editor" });
    setView("Documents", section("Collection", pick), h("div", { class: "split" }, section("Keys", listBox), section("Document", editor)));

    // Bucket, scope and collection choosers.
    const br = await api("GET", "/pools/default/buckets");
    const names = br.ok ? br.data.map((x) => x.name) : [];
    if (!br.ok) pick.append(h("p", { class: "error" }, problem(br)));
    const bucket = b || names[0] || "";
    if (!b && bucket) { go(here({ b: bucket })); return; }
    let scopes = [];
    if (bucket) {
      const sr = await api("GET", "/pools/default/buckets/" + enc(bucket) + "/scopes");
      if (sr.ok) scopes = sr.data.scopes;
    }
    const scope = scopes.find((x) => x.name === s) || scopes[0];
    const colls = scope ? scope.collections.map((x) => x.name) : [];
    const sel = (label, name, options, value, onchange) => {
      const f = field(label, name, { tag: "select", options, value });
      f.querySelector("select").addEventListener("change", onchange);
      return f;
    };
    put(pick, 
      sel("Bucket", "bucket", names, bucket, (e) => go(here({ b: e.target.value, s: "_default", c: "_default", skip: 0, key: null }))),
      sel("Scope", "scope", scopes.map((x) => x.name), scope ? scope.name : "", (e) => go(here({ s: e.target.value, c: "_default", skip: 0, key: null }))),
      sel("Collection", "collection", colls, c, (e) => go(here({ c: e.target.value, skip: 0, key: null }))));
    if (!bucket) { put(listBox, h("p", { class: "muted" }, "There is no bucket to browse.")); return; }

    const base = "/pools/default/buckets/" + enc(bucket) + "/scopes/" + enc(s) + "/collections/" + enc(c) + "/docs";

    // The key list: a prefix filter and pages.
    const filter = h("form", { class: "inline", role: "search", "aria-label": "Filter keys" },
      field("Key prefix", "prefix", { value: prefix, autocomplete: "off", type: "search" }),
      h("button", { type: "submit" }, "Filter"));
    filter.addEventListener("submit", (ev) => { ev.preventDefault(); go(here({ prefix: filter.prefix.value, skip: 0, key: null })); });
    const newBtn = h("button", { type: "button", class: "primary", id: "new-doc" }, "New document");
    newBtn.addEventListener("click", () => openNew());
    put(listBox, filter, newBtn, h("p", {}, "Loading…"));
    const lr = await api("GET", base + "?skip=" + skip + "&limit=" + PAGE + (prefix ? "&prefix=" + enc(prefix) : ""));
    if (!lr.ok) {
      put(listBox, filter, h("p", { class: "error" }, problem(lr)));
    } else {
      const total = lr.data.total_rows, rows = lr.data.rows;
      const pager = h("div", { class: "pager" },
        h("span", { class: "muted", id: "doc-count" }, total ? (skip + 1) + "–" + (skip + rows.length) + " of " + total : "No documents" + (prefix ? " with this prefix" : "") + "."),
        skip > 0 ? h("a", { class: "button", href: here({ skip: Math.max(0, skip - PAGE), key: null }), rel: "prev" }, "Previous") : null,
        skip + rows.length < total ? h("a", { class: "button", href: here({ skip: skip + PAGE, key: null }), rel: "next" }, "Next") : null);
      put(listBox, filter, newBtn,
        h("ul", { class: "keys", "aria-label": "Documents" }, rows.map((row) => h("li", {},
          h("a", { href: here({ key: row.id }), "aria-current": row.id === key ? "true" : null }, row.id)))),
        pager);
    }

    if (key !== null) await openDoc(key);
    else put(editor, h("p", { class: "muted" }, "Choose a document, or create one."));

    function openNew() {
      const form = h("form", { class: "stack", novalidate: true, "aria-label": "New document" },
        field("Key", "key", { required: true, autocomplete: "off" }),
        field("Value (JSON)", "value", { tag: "textarea", rows: 12, spellcheck: "false", class: "code", value: "{\n  \n}" }),
        h("p", { class: "form-msg", role: "alert" }),
        h("button", { type: "submit", class: "primary" }, "Create"));
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const k = form.key.value;
        const v = checkJson(form);
        if (v === null) return;
        if (!k) { showErrors(form, { ok: false, data: { errors: { key: "A document needs a key." } } }); return; }
        const r = await api("POST", base + "/" + enc(k), { form: { value: v, insert: "true" } });
        if (showErrors(form, r)) return;
        say("Document " + k + " created.", "ok");
        go(here({ key: k }));
      });
      put(editor, h("h3", {}, "New document"), form);
      form.key.focus();
    }

    // JSON of the value field, or null with the parser's message shown.
    function checkJson(form) {
      try {
        return JSON.stringify(JSON.parse(form.value.value));
      } catch (e) {
        showErrors(form, { ok: false, data: { errors: { value: "Not valid JSON: " + e.message } } });
        return null;
      }
    }

    // note: a message to show on the form (after a save, which reloads the metadata).
    async function openDoc(k, note) {
      const r = await api("GET", base + "/" + enc(k));
      if (!r.ok) { put(editor, h("p", { class: "error" }, problem(r))); return; }
      const d = r.data;
      let cas = d.meta.cas;
      const isJson = d.meta.type === "json";
      const casOut = h("dd", { id: "doc-cas" }, cas);
      const meta = h("dl", { class: "meta" },
        h("dt", {}, "Key"), h("dd", { id: "doc-key" }, d.meta.id),
        h("dt", {}, "CAS"), casOut,
        h("dt", {}, "Expiry"), h("dd", {}, d.meta.expiration ? new Date(d.meta.expiration * 1000).toISOString() : "never"),
        h("dt", {}, "Flags"), h("dd", {}, "0x" + d.meta.flags.toString(16).padStart(8, "0")),
        h("dt", {}, "Sequence number"), h("dd", {}, String(d.meta.seqno)));
      const form = h("form", { class: "stack", novalidate: true, "aria-label": "Edit " + d.meta.id },
        isJson
          ? field("Value (JSON)", "value", { tag: "textarea", rows: 12, spellcheck: "false", class: "code", value: JSON.stringify(d.json, null, 2) })
          : field("Value (base64: not JSON, shown read-only)", "value", { tag: "textarea", rows: 6, readonly: true, class: "code", value: d.base64 }),
        h("p", { class: "form-msg", role: "alert" }),
        h("div", { class: "actions" },
          isJson ? h("button", { type: "submit", class: "primary", id: "save-doc" }, "Save") : null,
          h("button", { type: "button", id: "reload-doc", onclick: () => openDoc(k) }, "Reload"),
          dangerButton("Delete", async () => {
            const x = await api("DELETE", base + "/" + enc(k) + "?cas=" + enc(cas));
            if (x.ok) { say("Document " + k + " deleted.", "ok"); go(here({ key: null })); } else showErrors(form, x);
          })));
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const v = checkJson(form);
        if (v === null) return;
        const x = await api("POST", base + "/" + enc(k), { form: { value: v, cas } });
        if (x.status === 409) {
          // Keep the user's edit: say what happened and how to go on.
          showErrors(form, { ok: false, data: { errors: { _: "Not saved: " + problem(x) + " Your edit is kept here; Reload shows the current version (and discards the edit)." } } });
          return;
        }
        if (showErrors(form, x)) return;
        say("Document " + k + " saved.", "ok");
        await openDoc(k, "Saved.");
      });
      if (note) {
        const m = form.querySelector(".form-msg");
        m.textContent = note;
        m.className = "form-msg ok";
      }
      put(editor, ...[h("h3", {}, d.meta.id), meta,
        d.xattrs ? h("details", {}, h("summary", {}, "Extended attributes"), h("pre", { class: "code" }, JSON.stringify(d.xattrs, null, 2))) : null,
        form].filter(Boolean));
    }
  }

  // ---- query workbench --------------------------------------------------------------------

  const HISTORY = "divan.queryHistory";

  function history() {
    try { return JSON.parse(localStorage.getItem(HISTORY) || "[]"); } catch (e) { return []; }
  }

  async function queryView() {
    const form = h("form", { class: "stack", "aria-label": "Query editor" },
      field("SQL++ statement", "statement", { tag: "textarea", rows: 6, spellcheck: "false", class: "code", value: sessionStorage.getItem("divan.draft") || "SELECT 1 AS one" }, "Ctrl+Enter runs the statement."),
      field("Query context (bucket.scope, optional)", "context", { autocomplete: "off", placeholder: "default._default" }),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", id: "run-query" }, "Run")));
    const status = h("div", { class: "query-status", role: "status" });
    const out = h("div", { class: "results" });
    const hist = h("ol", { class: "history" });
    let view = "json", last = null;
    const tabs = h("div", { class: "tabs", role: "group", "aria-label": "Show results as" },
      h("button", { type: "button", "aria-pressed": "true", onclick: (e) => setTab("json", e.target) }, "JSON"),
      h("button", { type: "button", "aria-pressed": "false", id: "as-table", onclick: (e) => setTab("table", e.target) }, "Table"));
    setView("Query workbench",
      h("div", { class: "split" }, section("Statement", form), section("History", hist)),
      section("Results", status, tabs, out));
    const ta = form.statement;
    ta.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); form.requestSubmit(); }
    });
    ta.addEventListener("input", () => sessionStorage.setItem("divan.draft", ta.value));
    drawHistory();

    function setTab(v, btn) {
      view = v;
      tabs.querySelectorAll("button").forEach((b) => b.setAttribute("aria-pressed", String(b === btn)));
      show();
    }
    function drawHistory() {
      const hs = history();
      put(hist, ...(hs.length ? hs.map((q) => h("li", {}, h("button", { type: "button", class: "link", onclick: () => { ta.value = q; ta.focus(); } }, q))) : [h("li", { class: "muted" }, "Statements you run appear here.")]));
    }
    function show() {
      if (!last) return;
      const rows = last.results || [];
      if (view === "json" || !rows.length) {
        put(out, h("pre", { class: "code", id: "result-json" }, JSON.stringify(rows, null, 2)));
        return;
      }
      const cols = [];
      for (const r of rows) {
        if (r && typeof r === "object" && !Array.isArray(r)) { for (const k of Object.keys(r)) if (!cols.includes(k)) cols.push(k); }
        else if (!cols.includes("(value)")) cols.push("(value)");
      }
      const cell = (v) => (v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v));
      const plain = (r) => typeof r !== "object" || r === null || Array.isArray(r);
      const rowOf = (r) => h("tr", {}, cols.map((k) => h("td", {}, cell(k === "(value)" && plain(r) ? r : plain(r) ? undefined : r[k]))));
      put(out, table(cols, rows.map(rowOf), "results-table"));
    }
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const statement = ta.value.trim();
      if (!statement) return;
      const body = { statement };
      const ctxv = form.context.value.trim();
      if (ctxv) {
        const [bk, sc] = ctxv.split(".");
        body.query_context = "default:`" + bk + "`" + (sc ? ".`" + sc + "`" : "");
      }
      put(status, h("p", {}, "Running…"));
      const btn = $("#run-query");
      btn.disabled = true;
      const r = await api("POST", "/_p/query/query/service", { json: body });
      btn.disabled = false;
      const hs = history().filter((q) => q !== statement);
      hs.unshift(statement);
      localStorage.setItem(HISTORY, JSON.stringify(hs.slice(0, 50)));
      drawHistory();
      const d = r.data;
      if (!d || typeof d !== "object" || !("status" in d)) {
        last = null;
        put(out, );
        put(status, h("p", { class: "error" }, problem(r)));
        return;
      }
      last = d;
      const m = d.metrics || {};
      put(status, 
        h("p", { class: d.status === "success" ? "ok" : "error", id: "query-outcome" }, "Status: " + d.status),
        h("dl", { class: "meta metrics" },
          ...["elapsedTime", "executionTime", "resultCount", "resultSize", "mutationCount", "errorCount"].filter((k) => k in m)
            .flatMap((k) => [h("dt", {}, k), h("dd", {}, String(m[k]))])),
        d.errors ? h("ul", { class: "errors", id: "query-errors" }, d.errors.map((e) => h("li", {}, h("strong", {}, String(e.code)), " ", e.msg))) : null);
      show();
    });
  }

  // ---- users ------------------------------------------------------------------------------

  async function usersView() {
    const list = h("div", {}, "Loading…"), groups = h("div");
    const form = userForm(null);
    setView("Users", section("Users", list), h("div", { class: "split" }, section("Create a user", form), section("Groups", groups)));

    async function load() {
      const [r, g] = await Promise.all([api("GET", "/settings/rbac/users"), api("GET", "/settings/rbac/groups")]);
      if (!r.ok) put(list, h("p", { class: "error" }, problem(r)));
      else put(list, table(["User", "Name", "Roles", "Groups", ""], r.data.map((u) => h("tr", {},
        h("th", { scope: "row" }, u.id),
        h("td", {}, u.name || ""),
        h("td", {}, u.roles.filter((x) => !x.origins || x.origins.some((o) => o.type === "user")).map(roleText).join(", ")),
        h("td", {}, (u.groups || []).join(", ")),
        h("td", { class: "actions" },
          h("button", { type: "button", onclick: () => edit(u) }, "Edit"),
          dangerButton("Delete", async () => {
            const x = await api("DELETE", "/settings/rbac/users/local/" + enc(u.id));
            say(x.ok ? "User " + u.id + " deleted." : problem(x), x.ok ? "ok" : "error");
            await load();
          }))))));
      if (!g.ok) { put(groups, h("p", { class: "error" }, problem(g))); return; }
      const gform = h("form", { class: "stack", novalidate: true, "aria-label": "Create a group" },
        field("Group", "name", { required: true, autocomplete: "off" }),
        field("Description", "description", {}),
        field("Roles", "roles", { autocomplete: "off" }, "Its members get these roles."),
        h("p", { class: "form-msg", role: "alert" }),
        h("button", { type: "submit" }, "Save group"));
      gform.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const x = await api("PUT", "/settings/rbac/groups/" + enc(gform.name.value.trim()), { form: { description: gform.description.value, roles: gform.roles.value } });
        if (showErrors(gform, x)) return;
        say("Group " + gform.name.value.trim() + " saved.", "ok");
        await load();
      });
      put(groups, 
        g.data.length ? table(["Group", "Roles", ""], g.data.map((x) => h("tr", {},
          h("th", { scope: "row" }, x.id, x.description ? h("small", { class: "muted" }, " " + x.description) : null),
          h("td", {}, x.roles.map(roleText).join(", ")),
          h("td", {}, dangerButton("Delete", async () => {
            const y = await api("DELETE", "/settings/rbac/groups/" + enc(x.id));
            say(y.ok ? "Group " + x.id + " deleted." : problem(y), y.ok ? "ok" : "error");
            await load();
          }))))) : h("p", { class: "muted" }, "No groups."),
        gform);
    }

    function edit(u) {
      const f = userForm(u);
      form.replaceWith(f);
      f.querySelector("input").focus();
    }

    function userForm(u) {
      const own = u ? u.roles.filter((x) => !x.origins || x.origins.some((o) => o.type === "user")).map(roleText).join(", ") : "";
      const f = h("form", { class: "stack", novalidate: true, "aria-label": u ? "Edit user " + u.id : "Create a user", id: "user-form" },
        field("Username", "username", { required: true, autocomplete: "off", value: u ? u.id : "", readonly: !!u }),
        field("Full name", "name", { autocomplete: "off", value: u ? u.name || "" : "" }),
        field("Password", "password", { type: "password", autocomplete: "new-password" }, u ? "Leave empty to keep the password." : "At least 6 characters."),
        field("Roles", "roles", { autocomplete: "off", value: own, list: "role-names" }, "Comma-separated, as admin, data_reader[bucket], data_writer[bucket:scope:collection]."),
        field("Groups", "groups", { autocomplete: "off", value: u ? (u.groups || []).join(",") : "" }),
        h("p", { class: "form-msg", role: "alert" }),
        h("div", { class: "actions" },
          h("button", { type: "submit", class: "primary" }, u ? "Save user" : "Create user"),
          u ? h("button", { type: "button", onclick: () => { f.replaceWith(form); } }, "Cancel") : null));
      f.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const name = f.username.value.trim();
        if (!name) { showErrors(f, { ok: false, data: { errors: { username: "A user needs a name." } } }); return; }
        const body = { name: f.name.value || undefined, roles: f.roles.value, groups: f.groups.value || undefined };
        if (f.password.value) body.password = f.password.value;
        const x = await api("PUT", "/settings/rbac/users/local/" + enc(name), { form: body });
        if (showErrors(f, x)) return;
        say("User " + name + " saved.", "ok");
        if (u) f.replaceWith(form); else f.reset();
        await load();
      });
      return f;
    }

    const roles = await api("GET", "/settings/rbac/roles");
    if (roles.ok) {
      const dl = h("datalist", { id: "role-names" }, roles.data.map((r) => h("option", { value: r.role + (r.bucket_name ? "[" + [r.bucket_name, r.scope_name, r.collection_name].filter(Boolean).join(":") + "]" : "") }, r.name)));
      main().append(dl);
    }
    await load();
  }

  // ---- the router -------------------------------------------------------------------------

  const views = { overview, buckets: bucketsView, documents: (parts, params) => documentsView(params), query: queryView, users: usersView };

  async function render() {
    if (!auth.token) { showLogin(); return; }
    const r = route();
    const view = views[r.section] || overview;
    document.querySelectorAll("#nav a").forEach((a) => {
      if (a.dataset.section === r.section) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    });
    // main says which address it shows once that view has its data (aria-busy meanwhile), so
    // that assistive technology, and the browser tests, know when a screen is ready.
    const hash = location.hash;
    main().setAttribute("aria-busy", "true");
    try {
      await view(r.parts, r.params);
    } catch (e) {
      setView("Something went wrong", h("p", { class: "error" }, String(e && e.message || e)));
    }
    if (location.hash === hash) {
      main().setAttribute("data-view", hash);
      main().removeAttribute("aria-busy");
    }
  }

  window.addEventListener("hashchange", () => {
    if (!keepStatus) say("");
    keepStatus = false;
    render();
    main().focus({ preventScroll: true });
  });
  document.addEventListener("DOMContentLoaded", async () => {
    $("#logout").addEventListener("click", () => { auth.clear(); me = null; showLogin("Signed out."); });
    if (!auth.token) { showLogin(); return; }
    const r = await api("GET", "/whoami");
    if (r.ok) signedIn(r.data);
  });
})();
