// Polls a progress URL and updates a <progress> bar (the one marked data-poll) and its text
// until the work is finished; when the answer carries a download_url, the link appears.
(function () {
  "use strict";
  var bar = document.querySelector("progress[data-poll]");
  if (!bar || !bar.dataset.poll) { return; }
  var text = document.getElementById(bar.getAttribute("aria-describedby"));
  var link = document.getElementById(bar.dataset.download || "");
  function show(state) {
    bar.max = Math.max(state.total, 1);
    bar.value = state.done;
    bar.textContent = state.done + " / " + state.total;
    if (text && text.dataset.template) {
      var template = state.finished && text.dataset[state.state] ? text.dataset[state.state] : text.dataset.template;
      text.textContent = template.replace("{done}", state.done)
        .replace("{total}", state.total).replace("{failed}", state.failed);
    }
    if (link && state.download_url) {
      link.href = state.download_url;
      link.hidden = false;
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
