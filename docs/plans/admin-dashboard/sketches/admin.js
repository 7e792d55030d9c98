// Sketch of crates/web/assets/admin.js: the little the pages need beyond htmx. Under the CSP
// (no inline script, no eval): behaviour is attached from data-* attributes.
(function () {
  "use strict";

  // Router wizard, step 3: the existing SSE endpoint sends JSON ConfigEvents
  // {step, status: "started"|"ok"|"failed"|"done", detail}; one line each, as text.
  function configureLog(el) {
    var list = el.querySelector("ol"), src = new EventSource(el.dataset.events);
    function line(e) {
      var ev = JSON.parse(e.data), li = document.createElement("li");
      li.className = "log-" + ev.status;
      li.textContent = ev.step + ": " + ev.status + (ev.detail ? " - " + ev.detail : "");
      list.appendChild(li);
      if (ev.status === "done") { src.close(); el.dispatchEvent(new Event("configure-done", { bubbles: true })); }
    }
    ["started", "ok", "failed", "done"].forEach(function (k) { src.addEventListener(k, line); });
    src.onerror = function () { if (src.readyState === EventSource.CLOSED) el.classList.add("log-lost"); };
  }

  // Step 2: copy button (clipboard API only in secure contexts: http on a LAN address falls back).
  function copyButton(btn) {
    btn.addEventListener("click", function () {
      var t = document.getElementById(btn.dataset.copy);
      if (navigator.clipboard && window.isSecureContext) { navigator.clipboard.writeText(t.value || t.textContent); }
      else { t.select(); document.execCommand("copy"); }
      btn.textContent = "Copied";
    });
  }

  // Step 2: "expires in 59:12" from data-expires-at (RFC 3339).
  function countdown(el) {
    var end = Date.parse(el.dataset.expiresAt);
    (function tick() {
      var s = Math.max(0, Math.round((end - Date.now()) / 1000));
      el.textContent = s ? "expires in " + Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0") : "expired";
      if (s) setTimeout(tick, 1000);
    })();
  }

  // Dashboard charts: series from <script type="application/json" id="charts"> (not executed).
  function charts() {
    var data = document.getElementById("charts");
    if (!data || !window.uPlot) return;
    var c = JSON.parse(data.textContent);
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var spec = c[el.dataset.chart]; // {x: [...unix s], series: [{label, values: [...]}], stacked}
      var opts = { width: el.clientWidth, height: 220,
                   series: [{}].concat(spec.series.map(function (s) { return { label: s.label }; })) };
      new uPlot(opts, [spec.x].concat(spec.series.map(function (s) { return s.values; })), el);
    });
  }

  function once(root, sel, fn) {
    root.querySelectorAll(sel).forEach(function (el) { if (!el.dataset.bound) { el.dataset.bound = "1"; fn(el); } });
  }
  function init(root) {
    once(root, "[data-events]", configureLog);
    once(root, "[data-copy]", copyButton);
    once(root, "[data-expires-at]", countdown);
  }
  document.addEventListener("DOMContentLoaded", function () { init(document); charts(); });
  // htmx fires htmx:load for the body at start and for every swapped-in fragment.
  document.addEventListener("htmx:load", function (e) { init(e.detail.elt); });
})();
