// Polls a progress URL and updates a <progress> bar and its text until the work is finished.
(function () {
  "use strict";
  var bar = document.getElementById("certificate-progress");
  if (!bar || !bar.dataset.poll) { return; }
  var text = document.getElementById("certificate-progress-text");
  function show(state) {
    bar.max = Math.max(state.total, 1);
    bar.value = state.done;
    bar.textContent = state.done + " / " + state.total;
    if (text && text.dataset.template) {
      text.textContent = text.dataset.template.replace("{done}", state.done)
        .replace("{total}", state.total).replace("{failed}", state.failed);
    }
  }
  function poll() {
    fetch(bar.dataset.url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) {
        if (!state) { return; }
        show(state);
        if (!state.finished) { window.setTimeout(poll, 1000); }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
})();
