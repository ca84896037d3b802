// Saves the answer being written a moment after typing stops, and when the page is left,
// so that a closed tab loses nothing. The form works without this script, too.
(function () {
  "use strict";
  var form = document.querySelector("form[data-autosave]");
  if (!form || !window.FormData) { return; }
  var timer = null;
  // Not form.action: the buttons named "action" shadow that property.
  var target = form.getAttribute("action");
  function data() {
    var values = new FormData(form);
    values.set("action", "autosave");
    return values;
  }
  function save() {
    if (window.fetch) {
      window.fetch(target, { method: "POST", body: data(), credentials: "same-origin" });
    }
  }
  form.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(save, 800);
  });
  window.addEventListener("pagehide", function () {
    if (navigator.sendBeacon) { navigator.sendBeacon(target, data()); }
  });
  form.addEventListener("submit", function () {
    window.clearTimeout(timer);
    window.removeEventListener("pagehide", save);
  });
}());
