/*
 * MD5 (RFC 1321) for the hotspot login page: hexMD5(s) hashes one byte per character (the low 8 bits
 * of each char code), as RouterOS's md5.js does, so '\371' + password + '\357...' hashes the CHAP
 * ident, the password and the challenge octets. Keep passwords ASCII.
 */
function md5_add(x, y) {
  var l = (x & 0xffff) + (y & 0xffff);
  return (((x >> 16) + (y >> 16) + (l >> 16)) << 16) | (l & 0xffff);
}
function md5_rol(n, c) { return (n << c) | (n >>> (32 - c)); }
function md5_op(q, a, b, x, s, t) { return md5_add(md5_rol(md5_add(md5_add(a, q), md5_add(x, t)), s), b); }
function md5_f(a, b, c, d, x, s, t) { return md5_op((b & c) | (~b & d), a, b, x, s, t); }
function md5_g(a, b, c, d, x, s, t) { return md5_op((b & d) | (c & ~d), a, b, x, s, t); }
function md5_h(a, b, c, d, x, s, t) { return md5_op(b ^ c ^ d, a, b, x, s, t); }
function md5_i(a, b, c, d, x, s, t) { return md5_op(c ^ (b | ~d), a, b, x, s, t); }
var md5_S = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
var md5_T = [];
for (var md5_k = 0; md5_k < 64; md5_k++) {
  md5_T[md5_k] = Math.floor(Math.abs(Math.sin(md5_k + 1)) * 4294967296) | 0;
}
function md5_words(s) {
  var n = s.length, w = [], i;
  for (i = 0; i < ((n + 8) >> 6) * 16 + 16; i++) w[i] = 0;
  for (i = 0; i < n; i++) w[i >> 2] |= (s.charCodeAt(i) & 0xff) << ((i % 4) * 8);
  w[n >> 2] |= 0x80 << ((n % 4) * 8);
  w[(((n + 8) >> 6) + 1) * 16 - 2] = n * 8;
  return w;
}
function md5_blocks(w) {
  var a = 1732584193, b = -271733879, c = -1732584194, d = 271733878;
  var fns = [md5_f, md5_g, md5_h, md5_i];
  for (var i = 0; i < w.length; i += 16) {
    var oa = a, ob = b, oc = c, od = d;
    for (var j = 0; j < 64; j++) {
      var round = j >> 4, k;
      if (round === 0) k = j;
      else if (round === 1) k = (5 * j + 1) % 16;
      else if (round === 2) k = (3 * j + 5) % 16;
      else k = (7 * j) % 16;
      var t = fns[round](a, b, c, d, w[i + k], md5_S[round * 4 + (j % 4)], md5_T[j]);
      a = d; d = c; c = b; b = t;
    }
    a = md5_add(a, oa); b = md5_add(b, ob); c = md5_add(c, oc); d = md5_add(d, od);
  }
  return [a, b, c, d];
}
function hexMD5(s) {
  var h = md5_blocks(md5_words(String(s))), hex = '0123456789abcdef', out = '';
  for (var i = 0; i < 16; i++) {
    var byte = (h[i >> 2] >> ((i % 4) * 8)) & 0xff;
    out += hex.charAt(byte >> 4) + hex.charAt(byte & 0xf);
  }
  return out;
}
