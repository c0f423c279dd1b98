// Supervisor live view: redraw from the JSON snapshot, then poll it every few seconds.
(function () {
  "use strict";
  var root = document.getElementById("live");
  if (!root) { return; }
  var text = JSON.parse(document.getElementById("live-text").textContent);

  function pct(v) { return v === null || v === undefined ? "—" : (100 * v).toFixed(1) + "%"; }
  function el(tag, content, cls) {
    var node = document.createElement(tag);
    if (content !== undefined && content !== null) { node.textContent = String(content); }
    if (cls) { node.className = cls; }
    return node;
  }
  var NUMERIC = /^[-+]?[\d.,]+%?$|^—$|^\d+ \/ \d+$/;
  function row(cells) {
    var tr = el("tr");
    cells.forEach(function (c) {
      tr.appendChild(typeof c === "object" ? c : el("td", c, NUMERIC.test(String(c)) ? "num" : ""));
    });
    return tr;
  }
  function fill(id, rows) {
    var body = document.getElementById(id);
    body.replaceChildren.apply(body, rows);
  }
  function set(id, value) { document.getElementById(id).textContent = value; }

  function bar(t) {
    var wrap = el("div", null, "bar-row" + (t.filled ? " filled" : ""));
    wrap.setAttribute("data-code", t.code);
    wrap.appendChild(el("span", t.name, "bar-label"));
    var track = el("span", null, "bar-track");
    var inner = el("span", null, "bar-fill");
    inner.style.width = Math.min(100, 100 * t.ratio).toFixed(1) + "%";
    track.appendChild(inner);
    wrap.appendChild(track);
    wrap.appendChild(el("span", t.completes + " / " + t.quota, "bar-value"));
    return wrap;
  }

  function listenForm(action) {
    var cell = el("td");
    var form = el("form");
    form.method = "post";
    form.action = action;
    var token = el("input");
    token.type = "hidden";
    token.name = "csrf_token";
    token.value = root.getAttribute("data-csrf");
    form.appendChild(token);
    var button = el("button", text.listen);
    button.type = "submit";
    form.appendChild(button);
    cell.appendChild(form);
    return cell;
  }

  function draw(d) {
    set("updated", d.at);
    set("lines", d.dialer.lines_in_use + " / " + d.dialer.lines);
    set("staff-calls", d.dialer.staff_calls);
    set("due", d.dialer.due);
    set("window", d.dialer.window_open ? text.open : text.closed);
    set("follow-up", d.dialer.follow_up);
    var done = d.townships.reduce(function (s, t) { return s + t.completes; }, 0);
    var quota = d.townships.reduce(function (s, t) { return s + t.quota; }, 0);
    set("completes", done + " / " + quota);
    var bars = document.getElementById("quota-bars");
    bars.replaceChildren.apply(bars, d.townships.map(bar));
    fill("rates", d.rates.map(function (r) {
      return row([r.stratum === "ALL" ? text.county : r.name, pct(r.RR1), pct(r.RR3), pct(r.COOP1), pct(r.REF1), pct(r.CON1)]);
    }));
    fill("dispositions", d.dispositions.map(function (r) { return row([r.code, r.label, r.today, r.final]); }));
    fill("interviewers", d.interviewers.length ? d.interviewers.map(function (r) {
      return row([r.name, r.calls, r.completes, r.on_call ? text.on_call : text.idle]);
    }) : [row([text.none, "", "", ""])]);
    set("tasks", Object.keys(d.tasks).map(function (k) { return (text.kinds[k] || k) + " " + d.tasks[k]; }).join(" · ") || text.none);
    fill("live-staff-calls", d.live_staff_calls.length ? d.live_staff_calls.map(function (c) {
      return row([c.staff, c.township, c.state, c.since, c.listen ? listenForm(c.listen) : el("td")]);
    }) : [row([text.none, "", "", "", ""])]);
    fill("questions", d.questions.map(function (q) {
      return row([el("td", q.id, "mono"), q.label, q.reached, pct(q.breakoff_rate), pct(q.reprompt_rate), pct(q.timeout_rate)]);
    }));
  }

  draw(JSON.parse(document.getElementById("live-initial").textContent));
  var url = root.getAttribute("data-url");
  var every = 1000 * Number(root.getAttribute("data-poll") || 3);
  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(draw)
      .catch(function () { /* keep the last picture; try again next time */ })
      .then(function () { window.setTimeout(poll, every); });
  }
  window.setTimeout(poll, every);
})();
