// Shows only the parts of the application form that apply to the chosen options
// (data-when-field / data-when-values). Without JavaScript everything stays visible.
(function () {
  "use strict";
  var form = document.getElementById("application-form");
  if (!form) { return; }
  function valueOf(name) {
    var checked = form.querySelector('input[name="' + name + '"]:checked');
    if (checked) { return checked.value; }
    var el = form.querySelector('[name="' + name + '"]:not([type=radio])');
    return el ? el.value : "";
  }
  function update() {
    form.querySelectorAll("[data-when-field]").forEach(function (el) {
      if (el.tagName === "INPUT" || el.tagName === "SELECT" || el.tagName === "TEXTAREA") { return; }
      var wanted = el.getAttribute("data-when-values").split(" ");
      el.hidden = wanted.indexOf(valueOf(el.getAttribute("data-when-field"))) === -1;
    });
  }
  form.addEventListener("change", update);
  update();
})();
