// Saves the answer being written a moment after typing stops, and when the page is left,
// so that a closed tab loses nothing. The form works without this script, too.
//
// Nothing is saved once the form is being sent: "Skip" takes the typed text back, and a save
// arriving after it (the leaving page's beacon, a pending or unfinished save) would store that
// text again. A save already on its way is waited for before the form goes.
(function () {
  "use strict";
  var form = document.querySelector("form[data-autosave]");
  if (!form || !window.FormData) { return; }
  var timer = null;
  var sending = false;
  var pending = null;
  // Not form.action: the buttons named "action" shadow that property.
  var target = form.getAttribute("action");
  function data() {
    var values = new FormData(form);
    values.set("action", "autosave");
    return values;
  }
  function save() {
    if (sending || !window.fetch) { return; }
    var request = window.fetch(target, { method: "POST", body: data(), credentials: "same-origin" });
    var settled = function () { if (pending === request) { pending = null; } };
    pending = request;
    request.then(settled, settled);
  }
  function saveOnLeaving() {
    if (!sending && navigator.sendBeacon) { navigator.sendBeacon(target, data()); }
  }
  form.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(save, 800);
  });
  window.addEventListener("pagehide", saveOnLeaving);
  var waiting = false;
  form.addEventListener("submit", function (event) {
    if (waiting) { event.preventDefault(); return; }  // one press is enough
    window.clearTimeout(timer);
    sending = true;
    window.removeEventListener("pagehide", saveOnLeaving);
    if (pending) {  // send the form only after the save on its way, so that it comes last
      event.preventDefault();
      waiting = true;
      var button = event.submitter;
      var gone = false;
      var go = function () {
        if (gone) { return; }
        gone = true;
        if (button && button.name) {  // form.submit() sends no button: say which was pressed
          var chosen = document.createElement("input");
          chosen.type = "hidden";
          chosen.name = button.name;
          chosen.value = button.value;
          form.appendChild(chosen);
        }
        form.submit();
      };
      pending.then(go, go);
      window.setTimeout(go, 5000);  // a save that never ends does not hold the form back
    }
  });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {  // back from the browser's cache: the page is being written again
      sending = false;
      waiting = false;
      window.addEventListener("pagehide", saveOnLeaving);
    }
  });
}());
