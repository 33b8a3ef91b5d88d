// Sends the CSRF token with every htmx request (forms carry it as a hidden field).
document.addEventListener("htmx:configRequest", function (e) {
  e.detail.headers["X-CSRF-Token"] = document.body.dataset.csrf;
});
