// The dashboard's script: keeps the server-rendered view live from the event feed, follows
// a service's log, and runs the actions through the engine API (token in an Authorization
// header; destructive ones confirmed first).
(function () {
  "use strict";
  var params = new URLSearchParams(location.search);
  var token = params.get("token") || "";
  var env = params.get("env") || "";
  var view = document.getElementById("view");
  var live = document.getElementById("live");
  var timer = null, inflight = false, again = false;

  function $(id) { return document.getElementById(id); }
  function q(path) { return path + (path.indexOf("?") < 0 ? "?" : "&") + "token=" + encodeURIComponent(token); }
  function setLive(ok, text) {
    live.textContent = text;
    live.className = "live " + (ok ? "ok" : "bad");
  }
  function meta() {
    var m = $("meta");
    try { return m ? JSON.parse(m.textContent) : {}; } catch (e) { return {}; }
  }

  // After each swap: local times, authorised links, and the log tails that were open.
  function decorate(open) {
    view.querySelectorAll("time[data-ms]").forEach(function (t) {
      t.textContent = new Date(Number(t.dataset.ms)).toLocaleTimeString();
    });
    view.querySelectorAll("a[data-href]").forEach(function (a) { a.href = q(a.dataset.href); });
    view.querySelectorAll("details[data-key]").forEach(function (d) {
      if (open[d.dataset.key]) d.open = true;
    });
  }

  function refresh() {
    if (inflight) { again = true; return; }
    inflight = true;
    var u = "/ui/view" + (env ? "?env=" + encodeURIComponent(env) : "");
    fetch(q(u), { cache: "no-store" })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.text();
      })
      .then(function (html) {
        var open = {};
        view.querySelectorAll("details[open][data-key]").forEach(function (d) { open[d.dataset.key] = true; });
        view.innerHTML = html;
        decorate(open);
        view.dataset.updated = String(Date.now());
      })
      .catch(function (e) { setLive(false, "update failed: " + e.message); })
      .then(function () {
        inflight = false;
        if (again) { again = false; refresh(); }
      });
  }

  function soon() {
    if (timer === null) timer = setTimeout(function () { timer = null; refresh(); }, 50);
  }

  // ---- the log of a service, followed live
  var logFeed = null;
  function openLog(service) {
    var m = meta();
    if (!m.env) return;
    if (logFeed) logFeed.close();
    var pre = $("logtext");
    pre.textContent = "";
    $("logname").textContent = service + " in " + m.env.name;
    $("logs").hidden = false;
    $("logs").dataset.service = service;
    document.querySelector("main").classList.remove("nolog");
    logFeed = new EventSource(q("/ui/logs?env=" + encodeURIComponent(m.env.id) + "&service=" + encodeURIComponent(service)));
    function add(ev, reset) {
      var text = JSON.parse(ev.data);
      if (reset) pre.textContent = "";
      pre.textContent += text;
      if (pre.textContent.length > 200000) pre.textContent = pre.textContent.slice(-150000);
      if ($("logfollow").checked) pre.scrollTop = pre.scrollHeight;
    }
    logFeed.addEventListener("log", function (ev) { add(ev, false); });
    logFeed.addEventListener("reset", function (ev) { add(ev, true); });
  }
  $("logclose").addEventListener("click", function () {
    if (logFeed) { logFeed.close(); logFeed = null; }
    $("logs").hidden = true;
    document.querySelector("main").classList.add("nolog");
  });

  // ---- actions
  function api(method, path, body) {
    var init = { method: method, headers: { "Authorization": "Bearer " + token } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (r) {
      return r.text().then(function (t) {
        var v = null;
        try { v = t ? JSON.parse(t) : null; } catch (e) { v = null; }
        if (!r.ok) throw new Error((v && v.message) || t || ("HTTP " + r.status));
        return v;
      });
    });
  }

  function toast(text, bad) {
    var t = $("toast");
    t.textContent = text;
    t.className = "toast " + (bad ? "bad" : "ok");
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { t.hidden = true; }, bad ? 8000 : 4000);
  }

  function field(label, html) { return "<label>" + label + html + "</label>"; }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function options(list, chosen) {
    return list.map(function (o) {
      var v = typeof o === "string" ? o : o.value, l = typeof o === "string" ? o : o.label;
      return "<option value=\"" + esc(v) + "\"" + (v === chosen ? " selected" : "") + ">" + esc(l) + "</option>";
    }).join("");
  }

  // Each action: its dialog (title, fields, whether it destroys something) and its call.
  var actions = {
    branch: function (m, from) {
      var cps = (m.checkpoints || []).map(function (c) { return { value: c.id, label: c.name + " (" + c.id.slice(0, 8) + ")" }; });
      var chosen = from || (m.env && m.env.parent) || (cps[0] && cps[0].value);
      return {
        title: "Create a branch",
        body: field("Name", "<input name=\"alias\" placeholder=\"(generated)\" autocomplete=\"off\">") +
          field("From checkpoint", "<select name=\"from\">" + options(cps, chosen) + "</select>"),
        ok: "Create branch",
        run: function (f) {
          var body = { from: f.from.value };
          if (f.alias.value.trim()) body.alias = f.alias.value.trim();
          return api("POST", "/api/branches", body).then(function (v) { return "branch " + ((v && (v.name || v.alias)) || body.alias || "") + " created"; });
        }
      };
    },
    commit: function (m) {
      return {
        title: "Commit " + m.env.name + " under a tag",
        body: field("Tag", "<input name=\"tag\" required autocomplete=\"off\" pattern=\"[A-Za-z0-9._\\-]+\">") +
          field("Message", "<input name=\"message\" autocomplete=\"off\">"),
        ok: "Commit",
        run: function (f) {
          var body = { tag: f.tag.value.trim(), env: m.env.id };
          if (f.message.value.trim()) body.message = f.message.value.trim();
          return api("POST", "/api/commit", body).then(function () { return "committed " + m.env.name + " as " + body.tag; });
        }
      };
    },
    checkout: function (m) {
      return {
        title: "Check out " + m.env.name,
        body: "<p>Make <b>" + esc(m.env.name) + "</b> HEAD: the CLI's commands act on it from now on.</p>",
        ok: "Check out",
        run: function () {
          return api("POST", "/api/checkout", { name: m.env.id }).then(function () { return m.env.name + " is HEAD"; });
        }
      };
    },
    delete: function (m) {
      return {
        title: "Delete " + m.env.name + "?",
        danger: true,
        body: "<p>Stops every service of <b>" + esc(m.env.name) + "</b> and deletes its data." +
          (m.env.head ? " It is <b>HEAD</b>." : "") + " Its checkpoints stay.</p>",
        ok: "Delete",
        run: function () {
          return api("DELETE", "/api/branches/" + encodeURIComponent(m.env.id) + (m.env.head ? "?force=true" : ""))
            .then(function () { env = ""; return m.env.name + " deleted"; });
        }
      };
    },
    test: function (m) {
      var suites = [{ value: "", label: "all suites" }].concat(m.suites || []);
      return {
        title: "Run tests",
        body: field("Suite", "<select name=\"suite\">" + options(suites, "") + "</select>") +
          "<p class=\"dim\">Each branch runs on its own fork; results appear below as branches finish.</p>",
        ok: "Run",
        run: function (f) {
          var body = { suites: f.suite.value ? [f.suite.value] : [], parallel: true };
          return api("POST", "/ui/test", body).then(function () { return "test run started"; });
        }
      };
    },
    inject: function (m) {
      var kinds = [
        { value: "pause", label: "pause (freeze its processes)" },
        { value: "kill", label: "kill (stop it)" },
        { value: "network-delay", label: "network delay 500 ms" },
        { value: "network-loss", label: "network loss 30 %" },
        { value: "network-isolate", label: "network isolate" }
      ];
      return {
        title: "Inject a fault into " + m.env.name,
        danger: true,
        body: field("Service", "<select name=\"service\">" + options(m.env.services || [], "") + "</select>") +
          field("Fault", "<select name=\"action\">" + options(kinds, "pause") + "</select>") +
          field("Ends after", "<input name=\"duration\" placeholder=\"(until recovered), e.g. 30s\" autocomplete=\"off\">") +
          "<p class=\"dim\">A <code>pre-chaos</code> checkpoint is taken first.</p>",
        ok: "Inject",
        run: function (f) {
          var body = { service: f.service.value, action: f.action.value };
          if (body.action === "network-delay") body.latency = "500ms";
          if (body.action === "network-loss") body.loss = 30;
          if (f.duration.value.trim()) body.duration = f.duration.value.trim();
          return api("POST", "/api/chaos/inject", body).then(function () { return body.action + " injected into " + body.service; });
        }
      };
    },
    recover: function (m) {
      return {
        title: "Recover " + m.env.name,
        body: "<p>End every fault and restart what they stopped.</p>",
        ok: "Recover",
        run: function () { return api("POST", "/api/chaos/recover", {}).then(function () { return "recovered"; }); }
      };
    }
  };

  var dialog = $("dialog"), current = null;
  function openAction(name, arg) {
    var m = meta();
    if (!actions[name] || (!m.env && name !== "branch")) return;
    current = actions[name](m, arg);
    $("dialogtitle").textContent = current.title;
    $("dialogbody").innerHTML = current.body;
    $("dialogerror").textContent = "";
    var ok = $("dialogok");
    ok.textContent = current.ok;
    ok.className = current.danger ? "danger" : "primary";
    ok.disabled = false;
    dialog.dataset.action = name;
    dialog.showModal();
  }
  $("dialogcancel").addEventListener("click", function () { dialog.close(); });
  $("dialogform").addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (!current) return;
    var ok = $("dialogok");
    ok.disabled = true;
    ok.textContent = "Working…";
    $("dialogerror").textContent = "";
    current.run($("dialogform").elements).then(function (msg) {
      dialog.close();
      toast(msg, false);
      soon();
    }, function (e) {
      ok.disabled = false;
      ok.textContent = current.ok;
      $("dialogerror").textContent = e.message;
    });
  });

  view.addEventListener("click", function (ev) {
    var b = ev.target.closest("[data-action]");
    if (b) {
      if (b.dataset.action === "logs") openLog(b.dataset.service);
      else openAction(b.dataset.action);
      return;
    }
    var cp = ev.target.closest("[data-checkpoint]");
    if (cp) { openAction("branch", cp.getAttribute("data-checkpoint")); return; }
    var node = ev.target.closest("[data-env]");
    if (!node) return;
    env = node.getAttribute("data-env");
    var u = new URL(location.href);
    u.searchParams.set("env", env);
    history.replaceState(null, "", u);
    refresh();
  });

  decorate({});
  var feed = new EventSource(q("/api/events"));
  ["operation", "progress", "service"].forEach(function (kind) {
    feed.addEventListener(kind, soon);
  });
  feed.onopen = function () { setLive(true, "live"); soon(); };
  feed.onerror = function () { setLive(false, "reconnecting…"); };
})();
