// eHBA checklist (issue 14): asks the local signing agent's GET /status (127.0.0.1, CORS
// limited to the portal's origin, no PIN) whether it runs, which card is present, PIN states.
(function () {
  "use strict";
  var PIN_LABELS = {
    transport: "Transport-PIN noch aktiv – bitte mit dem PIN-Brief eine eigene PIN setzen",
    verifiable: "eigene PIN gesetzt",
    blocked: "PIN gesperrt – bitte mit der PUK entsperren",
    dead: "PIN endgültig gesperrt – bitte Ersatzkarte beantragen"
  };

  function show(el, text, ok) {
    if (!el) { return; }
    el.textContent = text;
    el.className = ok ? "check-ok" : "check-missing";
  }

  function check(box) {
    var agentLine = box.querySelector("[data-ehba-check=agent]");
    var pinLine = box.querySelector("[data-ehba-check=pins]");
    show(agentLine, "Wird geprüft …", true);
    var url = (box.getAttribute("data-agent-url") || "").replace(/\/$/, "") + "/status";
    fetch(url, { method: "GET", mode: "cors", credentials: "omit" })
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        var card = answer.card || {};
        if (card.error) {
          show(agentLine, "✓ Agent läuft – aber keine Karte erkannt: " + (card.message || card.error), false);
          show(pinLine, "", false);
          return;
        }
        show(agentLine, "✓ Agent läuft, Karte erkannt: " + (card.holder || "") +
          (card.telematik_id ? " (Telematik-ID " + card.telematik_id + ")" : ""), true);
        var pins = card.pins || {};
        var parts = [];
        var allSet = true;
        Object.keys(pins).forEach(function (name) {
          parts.push(name + ": " + (PIN_LABELS[pins[name]] || pins[name]));
          if (pins[name] !== "verifiable") { allSet = false; }
        });
        if (parts.length) { show(pinLine, (allSet ? "✓ " : "✗ ") + parts.join("; "), allSet); }
      })
      .catch(function () {
        show(agentLine, "✗ Der Signatur-Agent ist nicht erreichbar. Bitte starten Sie „kvportal card agent“ auf diesem Rechner.", false);
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.querySelector("[data-ehba-checklist]");
    if (!box) { return; }
    check(box);
    var again = box.querySelector("[data-ehba-check-again]");
    if (again) { again.addEventListener("click", function () { check(box); }); }
  });
})();
