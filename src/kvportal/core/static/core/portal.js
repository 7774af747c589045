// Idle timeout (seed 000): when the server-side session has expired, show the login page
// with the reason. The server ends the session itself; this only tells the user why.
(function () {
  "use strict";
  var body = document.body;
  var seconds = parseInt(body.getAttribute("data-idle-seconds") || "0", 10);
  var target = body.getAttribute("data-timeout-url");
  if (seconds > 0 && target) {
    window.setTimeout(function () { window.location.assign(target); }, seconds * 1000 + 1500);
  }
  // Buttons with data-confirm ask before submitting their form.
  document.addEventListener("click", function (event) {
    var el = event.target.closest("[data-confirm]");
    if (el && !window.confirm(el.getAttribute("data-confirm"))) { event.preventDefault(); }
  });
  // Elements with data-refresh-url reload that URL's page every N seconds (progress views).
  var refresh = document.querySelector("[data-refresh-seconds]");
  if (refresh) {
    window.setTimeout(function () { window.location.reload(); },
      parseInt(refresh.getAttribute("data-refresh-seconds"), 10) * 1000);
  }
})();
