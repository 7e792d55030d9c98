// The hotspot portal's only script (no libraries): the waiting screen follows its
// order, the countdown ticks, and the router's login form is filled in and sent
// with CHAP (md5 of ident, password and challenge) when the router gave a challenge.
(function () {
  "use strict";

  // MD5 of a string of byte values (one byte per character, as MikroTik's md5.js).
  function md5(s) {
    function add(x, y) { var l = (x & 0xffff) + (y & 0xffff); return (((x >> 16) + (y >> 16) + (l >> 16)) << 16) | (l & 0xffff); }
    function rol(n, c) { return (n << c) | (n >>> (32 - c)); }
    function cmn(q, a, b, x, s, t) { return add(rol(add(add(a, q), add(x, t)), s), b); }
    function ff(a, b, c, d, x, s, t) { return cmn((b & c) | (~b & d), a, b, x, s, t); }
    function gg(a, b, c, d, x, s, t) { return cmn((b & d) | (c & ~d), a, b, x, s, t); }
    function hh(a, b, c, d, x, s, t) { return cmn(b ^ c ^ d, a, b, x, s, t); }
    function ii(a, b, c, d, x, s, t) { return cmn(c ^ (b | ~d), a, b, x, s, t); }
    var n = s.length, words = [], i;
    for (i = 0; i < n; i++) words[i >> 2] |= (s.charCodeAt(i) & 0xff) << ((i % 4) * 8);
    words[n >> 2] |= 0x80 << ((n % 4) * 8);
    var len = (((n + 8) >> 6) + 1) * 16;
    for (i = 0; i < len; i++) words[i] = words[i] | 0;
    words[len - 2] = n * 8;
    var a = 1732584193, b = -271733879, c = -1732584194, d = 271733878;
    var S = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
    var T = [0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
      0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
      0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
      0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
      0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
      0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
      0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
      0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391];
    for (i = 0; i < 64; i++) T[i] = T[i] | 0;
    for (i = 0; i < len; i += 16) {
      var oa = a, ob = b, oc = c, od = d, j, f, g, tmp;
      for (j = 0; j < 64; j++) {
        var r = j >> 4;
        if (r === 0) { f = ff; g = j; }
        else if (r === 1) { f = gg; g = (5 * j + 1) % 16; }
        else if (r === 2) { f = hh; g = (3 * j + 5) % 16; }
        else { f = ii; g = (7 * j) % 16; }
        tmp = f(a, b, c, d, words[i + g], S[r * 4 + (j % 4)], T[j]);
        a = d; d = c; c = b; b = tmp;
      }
      a = add(a, oa); b = add(b, ob); c = add(c, oc); d = add(d, od);
    }
    var out = "", v = [a, b, c, d];
    for (i = 0; i < 16; i++) out += ("0" + ((v[i >> 2] >>> ((i % 4) * 8)) & 0xff).toString(16)).slice(-2);
    return out;
  }
  window.bnMd5 = md5;

  function unhex(h) {
    var s = "";
    for (var i = 0; i + 1 < h.length; i += 2) s += String.fromCharCode(parseInt(h.substr(i, 2), 16));
    return s;
  }

  // <form data-autologin data-chap-id=".." data-chap-challenge=".."> with
  // username and password fields: hash the password for CHAP, then send it.
  function autologin(root) {
    var f = root.querySelector("form[data-autologin]");
    if (!f || f.getAttribute("data-sent")) return;
    f.setAttribute("data-sent", "1");
    var id = f.getAttribute("data-chap-id"), ch = f.getAttribute("data-chap-challenge");
    var pw = f.querySelector("input[name=password]");
    if (id && ch && pw) pw.value = md5(unhex(id) + pw.value + unhex(ch));
    f.submit();
  }

  function countdown(root) {
    var el = root.querySelector("[data-countdown]");
    if (!el) return;
    var left = parseInt(el.getAttribute("data-countdown"), 10) || 0;
    var t = setInterval(function () {
      if (!document.body.contains(el)) { clearInterval(t); return; }
      left = Math.max(0, left - 1);
      el.textContent = left;
      if (left === 0) clearInterval(t);
    }, 1000);
  }

  // <div data-poll="/hotspot/order/<token>/status">: fetched every 2 s and
  // replaced, until the new one no longer asks to be polled.
  function poll(root) {
    var el = root.querySelector("[data-poll]");
    if (!el) return;
    var url = el.getAttribute("data-poll");
    setTimeout(function tick() {
      var x = new XMLHttpRequest();
      x.open("GET", url);
      x.setRequestHeader("X-Portal-Poll", "1");
      x.onload = function () {
        if (x.status !== 200) { setTimeout(tick, 4000); return; }
        var box = document.createElement("div");
        box.innerHTML = x.responseText;
        var next = box.firstElementChild;
        if (!next) { setTimeout(tick, 4000); return; }
        el.parentNode.replaceChild(next, el);
        el = next;
        countdown(next.parentNode);
        autologin(next.parentNode);
        if (next.hasAttribute("data-poll")) setTimeout(tick, 2000);
      };
      x.onerror = function () { setTimeout(tick, 4000); };
      x.send();
    }, 2000);
  }

  function start() {
    document.documentElement.className += " js";
    countdown(document);
    poll(document);
    autologin(document);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
