// A background job's page: poll its state and move the bar; reload the page when it has ended.
(function () {
  "use strict";
  var root = document.getElementById("job");
  var bar = document.getElementById("job-progress");
  if (!root || !bar) { return; }
  var count = document.getElementById("job-count");
  var stage = document.getElementById("job-stage");
  var status = document.getElementById("job-status");
  function poll() {
    fetch(root.getAttribute("data-state-url"), {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (s) {
        if (s.finished) { window.location.reload(); return; }
        bar.value = s.percent;
        bar.textContent = s.percent + "%";
        if (stage) { stage.textContent = s.stage_text; }
        if (status) { status.textContent = s.status_text; status.className = "tag big job-" + s.status; }
        if (count && s.done) { count.textContent = s.done.toLocaleString() + (s.total ? " / " + s.total.toLocaleString() : ""); }
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
}());
