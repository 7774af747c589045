// Progress of a billing-file check: polls the small status endpoint and reloads the page
// (which then shows the protocol) when the check is done. No inline script (CSP).
(function () {
  "use strict";
  var box = document.getElementById("check-progress");
  if (!box) { return; }
  var url = box.getAttribute("data-status-url");
  var bar = box.querySelector("progress");
  var label = box.querySelector("[data-progress-label]");
  function poll() {
    var request = new XMLHttpRequest();
    request.open("GET", url);
    request.setRequestHeader("Accept", "application/json");
    // background polling: the idle timeout does not count it as activity
    request.setRequestHeader("X-Kvportal-Background", "1");
    request.onload = function () {
      if (request.status !== 200) { window.setTimeout(poll, 3000); return; }
      var data = JSON.parse(request.responseText);
      if (bar) { bar.value = data.progress; }
      if (label) { label.textContent = data.state_label + " – " + data.progress + " %"; }
      if (data.done) { window.location.reload(); } else { window.setTimeout(poll, 1000); }
    };
    request.onerror = function () { window.setTimeout(poll, 3000); };
    request.send();
  }
  window.setTimeout(poll, 700);
})();
