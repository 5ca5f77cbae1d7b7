// Warns before leaving the application form with changes not yet saved. Any button of the form
// itself (save, add a row, upload: each saves the answers first) clears the warning.
(function () {
  "use strict";
  var form = document.getElementById("application-form");
  if (!form) { return; }
  var dirty = false;
  function changed(event) {
    // Choosing a file to upload is not an answer: the upload button saves the answers anyway.
    if (event.target && event.target.type === "file") { return; }
    dirty = true;
  }
  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  form.addEventListener("submit", function () { dirty = false; });
  window.addEventListener("beforeunload", function (event) {
    if (!dirty) { return; }
    event.preventDefault();
    event.returnValue = form.dataset.unsaved || "";
    return form.dataset.unsaved || "";
  });
}());
