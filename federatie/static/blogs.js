// Live preview while writing a post: the text is rendered by the server (the same Markdown
// to sanitised HTML as publishing uses) a moment after typing stops. The Preview button does
// the same without this script.
(function () {
  "use strict";
  var form = document.querySelector("form[data-live-preview]");
  var text = form && form.querySelector("textarea[name=content]");
  var box = document.getElementById("live-preview");
  if (!form || !text || !box || !window.fetch || !window.URLSearchParams) {
    return;
  }
  var output = box.querySelector(".live-preview-content");
  var timer = null;
  var sent = 0;

  function render() {
    var mine = ++sent;
    var body = new URLSearchParams();
    body.set("csrf_token", form.querySelector("input[name=csrf_token]").value);
    body.set("content", text.value);
    body.set("format", form.querySelector("input[name=format]").value);
    fetch(form.getAttribute("data-live-preview"), {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "Accept": "text/html" }
    }).then(function (response) {
      return response.ok ? response.text() : null;
    }).then(function (html) {
      if (html === null || mine !== sent) {
        return; // an error, or an older answer overtaken by a newer one
      }
      output.innerHTML = html; // sanitised by the server
      box.hidden = text.value.trim() === "";
    }).catch(function () {
      box.hidden = true;
    });
  }

  text.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(render, 600);
  });
})();
