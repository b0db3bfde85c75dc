// Progressive enhancement of the broadcast page: poll the JSON progress and move the bar.
// Without this script the page works the same; the person reloads it to see the progress.
(function () {
  "use strict";
  var section = document.getElementById("broadcast");
  if (!section || !window.fetch) { return; }
  var url = section.getAttribute("data-progress-url");
  var stateText = document.getElementById("state");
  function show(p) {
    var bar = document.getElementById("bar");
    bar.max = Math.max(p.total, 1);
    bar.value = p.done;
    bar.textContent = p.percent + " %";
    ["done", "total", "queued", "refused", "invalid"].forEach(function (name) {
      document.getElementById(name).textContent = String(p[name]);
    });
    section.setAttribute("data-state", p.state);
    stateText.textContent = stateText.getAttribute("data-text-" + p.state) || p.state;
    document.getElementById("stop-form").hidden = p.state !== "running";
    document.getElementById("resume-form").hidden = p.state !== "stopped";
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (p) {
        if (p) { show(p); }
        if (!p || p.state === "running" || p.state === "stopping") { window.setTimeout(poll, 1000); }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  poll();
}());
