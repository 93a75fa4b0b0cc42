// Veld console: the page works without this; it only says a sync is under way.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form.sync");
  if (!form) { return; }
  form.addEventListener("submit", function () {
    var button = document.getElementById("sync-button");
    if (button) {
      button.disabled = true;
      button.textContent = button.textContent + " …";
    }
    form.setAttribute("aria-busy", "true");
  });
});
