// Stepped admission form (issue 14): one section at a time with "Schritt n von m", only the
// sections that apply (data-when), Zurück/Weiter, a step list to jump, and the step of the
// first error after a failed check. All sections stay in the one form, so saving keeps every
// entry. Without JavaScript the whole form is shown at once.
(function () {
  "use strict";
  var form = document.getElementById("application-form");
  var box = document.getElementById("step-box");
  if (!form || !box) { return; }
  var all = Array.prototype.slice.call(form.querySelectorAll("fieldset.section"));
  if (all.length < 2) { return; }
  var current = 0;
  var progress = document.createElement("p");
  progress.id = "step-progress";
  progress.className = "step-progress";
  progress.setAttribute("aria-live", "polite");
  var list = document.createElement("ol");
  list.className = "step-nav";
  var nav = document.createElement("div");
  nav.className = "step-buttons";
  var back = document.createElement("button");
  back.type = "button"; back.className = "button-secondary"; back.id = "step-back";
  back.textContent = box.getAttribute("data-back") || "Zurück";
  var next = document.createElement("button");
  next.type = "button"; next.id = "step-next";
  next.textContent = box.getAttribute("data-next") || "Weiter";
  nav.appendChild(back); nav.appendChild(next);
  box.appendChild(progress); box.appendChild(list);
  form.insertBefore(nav, form.querySelector(".form-submit"));

  function applicable() {
    return all.filter(function (s) { return !s.hidden; });
  }
  function titleOf(section) {
    var h = section.querySelector("legend h2");
    return h ? h.textContent.trim() : "";
  }
  function render(focus) {
    var steps = applicable();
    if (current >= steps.length) { current = steps.length - 1; }
    all.forEach(function (s) { s.classList.toggle("step-inactive", s !== steps[current]); });
    var label = box.getAttribute("data-label") || "Schritt %n von %m";
    progress.textContent = label.replace("%n", current + 1).replace("%m", steps.length) + ": " + titleOf(steps[current]);
    list.innerHTML = "";
    steps.forEach(function (s, i) {
      var li = document.createElement("li");
      var b = document.createElement("button");
      b.type = "button"; b.className = "step-jump"; b.textContent = (i + 1) + ". " + titleOf(s);
      b.setAttribute("data-step-target", s.id);
      if (i === current) { b.setAttribute("aria-current", "step"); }
      if (s.querySelector(".has-error, [aria-invalid=true]")) { li.className = "step-has-error"; }
      b.addEventListener("click", function () { current = i; render(true); });
      li.appendChild(b); list.appendChild(li);
    });
    back.hidden = current === 0;
    next.hidden = current === steps.length - 1;
    if (focus) {
      var h = steps[current].querySelector("legend h2");
      if (h) { h.setAttribute("tabindex", "-1"); h.focus(); }
    }
  }
  function showSectionOf(el) {
    var section = el && el.closest("fieldset.section");
    var steps = applicable();
    var i = steps.indexOf(section);
    if (i >= 0 && i !== current) { current = i; render(false); }
  }
  back.addEventListener("click", function () { current = Math.max(0, current - 1); render(true); });
  next.addEventListener("click", function () { current += 1; render(true); });
  // re-render only when the sections that apply change (a rebuilt step list would swallow a
  // click that blurs a text field)
  function signature() { return applicable().map(function (s) { return s.id; }).join(" "); }
  var shown = signature();
  form.addEventListener("change", function () {
    var now = signature();
    if (now !== shown) { shown = now; render(false); }
  });
  // error summary links: show the field's step before forms.js moves the focus there
  document.addEventListener("click", function (event) {
    var link = event.target.closest("[data-error-summary] a[href^='#']");
    if (link) { showSectionOf(document.getElementById(link.getAttribute("href").slice(1))); }
  }, true);
  var firstError = form.querySelector("fieldset.section .has-error, fieldset.section [aria-invalid=true]");
  if (firstError) { showSectionOf(firstError); }
  render(false);
})();
