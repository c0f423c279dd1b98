// CATI console: the call the system placed for the interviewer, polled from call.json. Shows its
// state and time, swaps "Call" for "Hang up" while it is live, and goes back to the queue once the
// system has recorded the outcome itself (busy, no answer ...).
(function () {
  "use strict";
  var box = document.getElementById("staff-call");
  if (!box) { return; }
  var text = JSON.parse(document.getElementById("staff-call-text").textContent);
  var url = box.getAttribute("data-url");
  var poll = Number(box.getAttribute("data-poll") || "2") * 1000;

  function show(id, value) { document.getElementById(id).textContent = value || ""; }

  function draw(data) {
    var call = data.call;
    document.getElementById("call-form").hidden = Boolean(call && call.live);
    document.getElementById("hang-up-form").hidden = !(call && call.live);
    document.querySelector("#call-state strong").textContent = call ? call.label : text.none;
    show("call-at", call && call.at);
    show("call-end", call && call.end);
    show("call-coded", call && call.coded ? text.coded + " " + call.coded : "");
    if (data.done) { window.location.assign(data.queue); }
  }

  function tick() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) { draw(data); } })
      .catch(function () {})
      .then(function () { window.setTimeout(tick, poll); });
  }
  window.setTimeout(tick, poll);
})();
