// BroadNet admin: the little the pages need beyond htmx. The CSP forbids inline
// scripts and eval, so behaviour is attached here from data-* attributes, on load
// and on every fragment htmx swaps in. Text from outside (a router's messages) is
// only ever set with textContent.
(function () {
  "use strict";

  // Router wizard, step 3: the configuration log from the API's event stream
  // (cookie-authenticated GET). Events are JSON {step, status: started|ok|failed|done,
  // detail}; each becomes one line.
  function configureLog(el) {
    var list = el.querySelector("ol");
    var note = el.querySelector(".log-note");
    var src = new EventSource(el.dataset.events);
    var seen = 0;
    var done = false;
    function say(text) {
      if (note) { note.textContent = text; note.hidden = false; }
    }
    function line(e) {
      var ev;
      try { ev = JSON.parse(e.data); } catch (err) { return; }
      seen += 1;
      var li = document.createElement("li");
      li.className = "log-" + ev.status;
      var tag = document.createElement("span");
      tag.className = "log-tag";
      tag.textContent = ev.status;
      var step = document.createElement("strong");
      step.textContent = ev.step;
      li.appendChild(tag);
      li.appendChild(step);
      if (ev.detail) { li.appendChild(document.createTextNode(" " + ev.detail)); }
      list.appendChild(li);
      if (ev.status === "done") {
        done = true;
        src.close();
      }
    }
    ["started", "ok", "failed", "done"].forEach(function (k) { src.addEventListener(k, line); });
    // The stream ends after "done". Ending before it means no run is known on this
    // server (the log lives in the memory of the node that ran it) or the
    // connection broke: say so rather than reconnect for ever.
    src.onerror = function () {
      if (done) return;
      src.close();
      say(seen === 0
        ? "No configuration log on this server yet: Re-run to see one."
        : "The log stream was interrupted; reload the page to see the rest.");
    };
  }

  // Step 2: the Copy button. The clipboard API exists only in secure contexts
  // (https or localhost); on a plain-http LAN address select the text and copy.
  function copyButton(btn) {
    btn.addEventListener("click", function () {
      var target = document.getElementById(btn.dataset.copy);
      if (!target) return;
      var text = target.textContent;
      function fallback() {
        var range = document.createRange();
        range.selectNodeContents(target);
        var sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        var ok = false;
        try { ok = document.execCommand("copy"); } catch (err) { ok = false; }
        done(ok ? "Copied" : "Selected: press Ctrl+C");
      }
      function done(label) {
        btn.textContent = label;
        setTimeout(function () { btn.textContent = "Copy"; }, 2500);
      }
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { done("Copied"); }, fallback);
      } else {
        fallback();
      }
    });
  }

  // Step 2: "59:12 left" until data-expires-at, counted from the server's clock
  // (data-now) so a PC whose clock is off still shows the token's real time.
  function countdown(el) {
    var left = Date.parse(el.dataset.expiresAt) - Date.parse(el.dataset.now || new Date().toISOString());
    var start = Date.now();
    (function tick() {
      var s = Math.max(0, Math.round((left - (Date.now() - start)) / 1000));
      el.textContent = s > 0
        ? Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0") + " left"
        : "expired: generate a fresh command";
      if (s > 0 && el.isConnected) setTimeout(tick, 1000);
    })();
  }

  function once(root, sel, fn) {
    var all = Array.prototype.slice.call(root.querySelectorAll(sel));
    if (root.matches && root.matches(sel)) all.unshift(root);
    all.forEach(function (el) {
      if (!el.dataset.bound) { el.dataset.bound = "1"; fn(el); }
    });
  }

  function init(root) {
    once(root, "[data-events]", configureLog);
    once(root, "[data-copy]", copyButton);
    once(root, "[data-expires-at]", countdown);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { init(document); });
  } else {
    init(document);
  }
  // htmx fires htmx:load for every fragment it swaps in.
  document.addEventListener("htmx:load", function (e) { init(e.detail.elt); });
})();
