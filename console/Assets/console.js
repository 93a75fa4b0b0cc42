// Veld console: every page works without this. With it, the sync button starts the sync
// in the background and shows how it goes (sent, received, retries) until it is done.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form.sync");
  if (!form) { return; }
  var button = document.getElementById("sync-button");
  var status = document.getElementById("sync-progress");
  var busy = false;

  function show(text) {
    if (status) { status.textContent = text; }
  }

  // Asks how run N goes, every 400 ms, for at most 30 minutes; then the page it ends on.
  function follow(run, started) {
    if (Date.now() - started > 30 * 60 * 1000) { window.location.reload(); return; }
    fetch("sync/progress?run=" + run, { headers: { "Accept": "application/json" } })
      .then(function (answer) { return answer.json(); })
      .then(function (state) {
        if (!state.running) { window.location.assign(state.location); return; }
        show(state.text);
        window.setTimeout(function () { follow(run, started); }, 400);
      })
      .catch(function () { window.setTimeout(function () { follow(run, started); }, 1000); });
  }

  form.addEventListener("submit", function (event) {
    if (!window.fetch) { return; }
    event.preventDefault();
    if (busy) { return; }
    busy = true;
    if (button) {
      button.disabled = true;
      button.textContent = button.textContent + " …";
    }
    form.setAttribute("aria-busy", "true");
    fetch("sync/start", { method: "POST", headers: { "Accept": "application/json" } })
      .then(function (answer) {
        if (!answer.ok) { throw new Error(String(answer.status)); }
        return answer.json();
      })
      .then(function (start) { follow(start.run, Date.now()); })
      // The plain form post: the answer waits for the sync.
      .catch(function () { form.submit(); });
  });
});
