// Uploads a document with a progress bar: the file itself is the request body
// (streamed by the server, never held whole), so the page shows how far it
// has come. Two places use it: the archive's upload form ([data-upload]) and a
// file field that fills a document choice ([data-upload-into]). Without
// JavaScript the archive's form posts as multipart instead.
(function () {
  function send(file, url, kind, bar, status, done) {
    var max = parseInt(status.dataset.max || "0", 10);
    status.className = "ds-paragraph";
    status.removeAttribute("data-color");
    status.setAttribute("role", "status");
    if (max && file.size > max) {
      fail(status, "Filen er for stor. Den største filen du kan laste opp er " + status.dataset.maxLabel + ".");
      return;
    }
    var xhr = new XMLHttpRequest();
    xhr.open("POST", url + (url.indexOf("?") < 0 ? "?" : "&") + "type=" + encodeURIComponent(kind));
    xhr.setRequestHeader("X-CSRF-Token", document.body.dataset.csrf);
    xhr.setRequestHeader("X-File-Name", encodeURIComponent(file.name));
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    bar.hidden = false;
    bar.value = 0;
    status.textContent = "Laster opp " + file.name + " …";
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) bar.value = Math.round((100 * e.loaded) / e.total);
    };
    xhr.onload = function () {
      var body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) {}
      if (xhr.status === 201) {
        bar.value = 100;
        status.textContent = "Lastet opp: " + body.name;
        done(body);
      } else {
        bar.hidden = true;
        fail(status, (body.error && body.error.message) || "Opplastingen mislyktes. Prøv igjen.");
      }
    };
    xhr.onerror = function () {
      bar.hidden = true;
      fail(status, "Opplastingen ble avbrutt før hele filen kom fram. Ingenting er lagret; prøv igjen.");
    };
    xhr.send(file);
  }
  function fail(status, msg) {
    status.textContent = msg;
    status.setAttribute("role", "alert");
    status.className = "ds-validation-message";
    status.dataset.color = "danger";
  }
  document.querySelectorAll("form[data-upload]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      var input = form.querySelector("input[type=file]");
      if (!input.files.length) return;
      e.preventDefault();
      var status = form.querySelector("[data-upload-status]");
      status.dataset.max = input.dataset.max;
      status.dataset.maxLabel = input.dataset.maxLabel;
      var url = form.getAttribute("action").split("?")[0];
      send(input.files[0], url, form.querySelector("[name=kind]").value, form.querySelector("[data-upload-progress]"), status, function () {
        window.location.href = url + "?ok=lastet-opp";
      });
    });
  });
  document.querySelectorAll("input[type=file][data-upload-into]").forEach(function (input) {
    input.addEventListener("change", function () {
      if (!input.files.length) return;
      var field = input.closest(".ds-field") || input.parentNode;
      var status = field.querySelector("[data-upload-status]");
      status.dataset.max = input.dataset.max;
      status.dataset.maxLabel = input.dataset.maxLabel;
      send(input.files[0], input.dataset.uploadUrl, input.dataset.kind || "other", field.querySelector("[data-upload-progress]"), status, function (doc) {
        var select = document.getElementById(input.dataset.uploadInto);
        var opt = document.createElement("option");
        opt.value = doc.id;
        opt.textContent = doc.name;
        select.appendChild(opt);
        select.value = doc.id;
        input.value = "";
      });
    });
  });
})();
