// The dashboard's charts, drawn with uPlot from the JSON in #charts-data (no inline
// script: the CSP is default-src 'self'). Each chart says so when it has no data.
(function () {
  "use strict";
  var COLORS = { "M-Pesa STK": "#16a34a", "Paybill": "#0891b2", "Airtel Money": "#dc2626", "Cash": "#d97706", "Vouchers": "#7c3aed" };
  var charts = [];

  function size(node) {
    var w = Math.max(260, node.clientWidth);
    return { width: w, height: w < 500 ? 200 : 240 };
  }

  function empty(node) {
    var p = document.createElement("p");
    p.className = "chart-empty";
    p.textContent = node.getAttribute("data-empty") || "No data yet.";
    node.appendChild(p);
  }

  function labelAxis(labels, short) {
    return {
      values: function (u, splits) {
        return splits.map(function (i) { var l = labels[Math.round(i)]; return l === undefined ? "" : short(l); });
      }
    };
  }

  function bars() { return uPlot.paths.bars({ size: [0.7, 40] }); }

  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  // "2026-11-27" -> "27 Nov"; "2026-01" -> "Jan 26", other months "Feb".
  function dayLabel(l) { return +l.slice(8, 10) + " " + MONTHS[+l.slice(5, 7) - 1]; }
  function monthLabel(l) { var m = +l.slice(5, 7); return MONTHS[m - 1] + (m === 1 ? " " + l.slice(2, 4) : ""); }
  // A bar of zero is no bar (not a flat line along the axis).
  function gaps(v) { return v.map(function (n) { return n === 0 ? null : n; }); }

  function revenue(node, d) {
    if (!d.revenue.length) return empty(node);
    var x = d.days.map(function (_, i) { return i; });
    // Stacked: each series is drawn as the running total, the biggest first, so
    // the smaller totals paint over it; the legend shows each channel's own value.
    var totals = [], run = x.map(function () { return 0; });
    d.revenue.forEach(function (s) {
      run = run.map(function (v, i) { return v + s.values[i]; });
      totals.push(run.slice());
    });
    var order = d.revenue.map(function (_, i) { return i; }).reverse();
    var series = [{ label: "Day", value: function (u, i) { return i == null ? "" : d.days[i]; } }];
    var data = [x];
    order.forEach(function (k) {
      var s = d.revenue[k], c = COLORS[s.label] || "#64748b";
      series.push({
        label: s.label, stroke: c, fill: c, paths: bars(), points: { show: false },
        value: function (u, v, si, i) { return i == null ? "" : s.values[i].toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 }); }
      });
      data.push(gaps(totals[k]));
    });
    var o = size(node);
    o.series = series;
    o.scales = { x: { time: false, range: [-0.5, x.length - 0.5] } };
    o.axes = [labelAxis(d.days, dayLabel), { size: 60 }];
    charts.push([node, new uPlot(o, data, node)]);
  }

  function sessions(node, d) {
    if (!d.sessions.some(function (n) { return n > 0; })) return empty(node);
    var o = size(node);
    o.series = [{}, { label: "Sessions", stroke: "#1d4ed8", fill: "rgba(29,78,216,.08)", width: 2 }];
    o.axes = [{}, { size: 50 }];
    charts.push([node, new uPlot(o, [d.hours, d.sessions], node)]);
  }

  function customers(node, d) {
    if (!d.new_customers.some(function (n) { return n > 0; })) return empty(node);
    var x = d.months.map(function (_, i) { return i; });
    var o = size(node);
    o.series = [
      { label: "Month", value: function (u, i) { return i == null ? "" : d.months[i]; } },
      { label: "New customers", stroke: "#0f766e", fill: "#14b8a6", paths: bars(), points: { show: false } }
    ];
    o.scales = { x: { time: false, range: [-0.5, x.length - 0.5] } };
    o.axes = [labelAxis(d.months, monthLabel), { size: 50 }];
    charts.push([node, new uPlot(o, [x, gaps(d.new_customers)], node)]);
  }

  function draw() {
    var el = document.getElementById("charts-data");
    if (!el || typeof uPlot === "undefined") return;
    var d = JSON.parse(el.textContent);
    [["chart-revenue", revenue], ["chart-sessions", sessions], ["chart-customers", customers]].forEach(function (c) {
      var node = document.getElementById(c[0]);
      if (node) c[1](node, d);
    });
    var pending;
    window.addEventListener("resize", function () {
      clearTimeout(pending);
      pending = setTimeout(function () {
        charts.forEach(function (c) { c[1].setSize(size(c[0])); });
      }, 150);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
