// Uploads with a progress bar: sends the upload form with XMLHttpRequest, shows the bytes
// sent in its <progress> and says what happens in its status line (role=status). The page
// the server answers with (the folder, or the form with its errors) then replaces <main>.
// Without this script the same form is an ordinary multipart POST.
(function () {
  "use strict";
  if (!window.XMLHttpRequest || !window.FormData || !window.DOMParser) {
    return;
  }

  function showPage(html, url) {
    var page = new DOMParser().parseFromString(html, "text/html");
    var main = page.getElementById("main");
    if (!main) {
      window.location.assign(url || window.location.href);
      return;
    }
    document.title = page.title;
    document.getElementById("main").replaceWith(document.adoptNode(main));
    if (url && url !== window.location.href) {
      window.history.replaceState(null, "", url);
    }
    var target = document.getElementById("error-summary") || document.getElementById("main");
    target.focus();
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-upload")) {
      return;
    }
    var input = form.querySelector("input[type=file]");
    var status = form.querySelector(".upload-status");
    var box = form.querySelector(".upload-progress");
    var bar = form.querySelector("progress");
    var button = form.querySelector("button[type=submit]");
    if (!input || !input.files || input.files.length === 0 || !status || !bar) {
      return; // nothing chosen: the server answers with the labelled error
    }
    var limit = parseInt(form.getAttribute("data-max-bytes"), 10);
    if (limit && input.files[0].size > limit) {
      event.preventDefault();
      status.textContent = form.getAttribute("data-too-large");
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    event.preventDefault();
    var token = form.querySelector("input[name=csrf_token]");
    var request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.setRequestHeader("Accept", "text/html"); // the redirect's page, not its JSON twin
    if (token) {
      request.setRequestHeader("X-CSRF-Token", token.value);
    }
    var uploading = form.getAttribute("data-uploading");
    var announced = 0;
    box.hidden = false;
    bar.value = 0;
    button.disabled = true;
    status.textContent = uploading;
    request.upload.addEventListener("progress", function (progress) {
      if (!progress.lengthComputable) {
        return;
      }
      var percent = Math.floor((progress.loaded / progress.total) * 100);
      bar.value = percent;
      if (percent >= announced + 25) { // a screen reader hears quarters, not every step
        announced = percent - (percent % 25);
        status.textContent = uploading + " " + announced + "%";
      }
    });
    request.upload.addEventListener("load", function () {
      bar.value = 100;
      status.textContent = form.getAttribute("data-done");
    });
    request.addEventListener("load", function () {
      showPage(request.responseText, request.responseURL);
    });
    request.addEventListener("error", function () {
      button.disabled = false;
      box.hidden = true;
      status.textContent = form.getAttribute("data-failed");
    });
    request.send(new FormData(form));
  });
})();
