// KBV IT-Sicherheitsrichtlinie Anl. 1 Nr. 48 without an image puzzle: the browser computes a
// small proof-of-work for the form stamp (sha256(stamp ":" n) starts with N zero hex digits).
// Without JavaScript the form still works; the server then applies a stricter rate limit.
(function () {
  "use strict";
  var form = document.querySelector("form[data-proof-of-work]");
  if (!form || !window.crypto || !window.crypto.subtle || !window.TextEncoder) { return; }
  var zeros = parseInt(form.getAttribute("data-proof-of-work"), 10) || 0;
  var stamp = form.querySelector("input[name=stamp]");
  var proof = form.querySelector("input[name=proof]");
  if (!stamp || !proof) { return; }
  var prefix = new Array(zeros + 1).join("0");
  var encoder = new TextEncoder();
  var done = false;
  var pending = null;

  function hex(buffer) {
    var bytes = new Uint8Array(buffer);
    var out = "";
    for (var i = 0; i < bytes.length; i++) { out += ("0" + bytes[i].toString(16)).slice(-2); }
    return out;
  }

  function solve() {
    var n = 0;
    function step() {
      return window.crypto.subtle.digest("SHA-256", encoder.encode(stamp.value + ":" + n))
        .then(function (digest) {
          if (hex(digest).indexOf(prefix) === 0) { return String(n); }
          n += 1;
          return step();
        });
    }
    return step();
  }

  pending = solve().then(function (answer) { proof.value = answer; done = true; });

  form.addEventListener("submit", function (event) {
    if (done) { return; }
    event.preventDefault();
    var submitter = event.submitter;
    pending.then(function () {
      if (submitter && submitter.name) {
        var extra = document.createElement("input");
        extra.type = "hidden";
        extra.name = submitter.name;
        extra.value = submitter.value;
        form.appendChild(extra);
      }
      form.submit();
    });
  });
})();
