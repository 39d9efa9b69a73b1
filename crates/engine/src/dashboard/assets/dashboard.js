// The dashboard's script: keeps the view live from the event feed (re-fetching the
// server-rendered view after events) and selects an environment on a click in the tree.
(function () {
  "use strict";
  var params = new URLSearchParams(location.search);
  var token = params.get("token") || "";
  var env = params.get("env") || "";
  var view = document.getElementById("view");
  var live = document.getElementById("live");
  var timer = null, inflight = false, again = false;

  function setLive(ok, text) {
    live.textContent = text;
    live.className = "live " + (ok ? "ok" : "bad");
  }

  function url(path) {
    var u = path + "?token=" + encodeURIComponent(token);
    return env ? u + "&env=" + encodeURIComponent(env) : u;
  }

  function refresh() {
    if (inflight) { again = true; return; }
    inflight = true;
    fetch(url("/ui/view"), { cache: "no-store" })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.text();
      })
      .then(function (html) {
        view.innerHTML = html;
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

  view.addEventListener("click", function (ev) {
    var node = ev.target.closest("[data-env]");
    if (!node) return;
    env = node.getAttribute("data-env");
    var u = new URL(location.href);
    u.searchParams.set("env", env);
    history.replaceState(null, "", u);
    refresh();
  });

  var feed = new EventSource("/api/events?token=" + encodeURIComponent(token));
  ["operation", "progress", "service"].forEach(function (kind) {
    feed.addEventListener(kind, soon);
  });
  feed.onopen = function () { setLive(true, "live"); soon(); };
  feed.onerror = function () { setLive(false, "reconnecting…"); };
})();
