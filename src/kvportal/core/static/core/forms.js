// WCAG 3.3.1 / 2.4.3: after a failed submit, focus moves to the form's error summary,
// so screen-reader and keyboard users start at the list of what to correct.
(function () {
  "use strict";
  var summary = document.querySelector("[data-error-summary]");
  if (summary) {
    summary.focus();
  }
  // Links in the summary focus their field (a plain anchor jump only scrolls).
  document.addEventListener("click", function (event) {
    var link = event.target.closest("[data-error-summary] a[href^='#']");
    if (!link) { return; }
    var target = document.getElementById(link.getAttribute("href").slice(1));
    if (target) {
      event.preventDefault();
      target.focus();
      target.scrollIntoView({ block: "center" });
    }
  });
})();
