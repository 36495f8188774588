// The import job page: poll the job's progress each second and update the figures; once the
// job has finished, reload so the server renders the bad rows and the report download.
(function () {
  "use strict";
  var card = document.querySelector("[data-testid=import-progress]");
  if (!card || card.dataset.finished === "true") return;
  var url = card.dataset.progressUrl;
  var status = card.querySelector("[data-testid=import-status]");

  function show(progress) {
    card.querySelectorAll("[data-field]").forEach(function (node) {
      var name = node.dataset.field;
      if (name === "bar") {
        node.style.width = progress.percent + "%";
        node.parentElement.setAttribute("aria-valuenow", String(progress.percent));
      } else if (name in progress) {
        node.textContent = String(progress[name]);
      }
    });
    status.textContent = progress.status_label;
    status.dataset.status = progress.status;
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("progress " + response.status);
        return response.json();
      })
      .then(function (progress) {
        show(progress);
        if (progress.finished) {
          window.location.reload();
        } else {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () {
        window.setTimeout(poll, 3000);
      });
  }

  window.setTimeout(poll, 500);
})();
