// Security (gematik IDP style): the page fetches a single-use challenge from the portal, the
// local signing agent (127.0.0.1, CORS limited to this origin) signs it with the card after
// the PIN was entered at the agent; the PIN never passes through the browser.
(function () {
  "use strict";

  var AGENT_MESSAGES = {
    agent_unreachable: "Der Signatur-Agent ist nicht erreichbar. Bitte starten Sie „kvportal card agent“ auf diesem Rechner."
  };

  function csrfToken(form) {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function setStatus(el, text) { if (el) { el.textContent = text; } }

  function fetchChallenge(box, form) {
    var body = new URLSearchParams();
    body.set("purpose", box.getAttribute("data-purpose") || "login");
    return fetch(box.getAttribute("data-challenge-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(form), "Accept": "application/json" },
      body: body
    }).then(function (resp) {
      return resp.json().then(function (data) {
        if (!resp.ok || !data.challenge) { throw new Error(data.error || "Keine Anmeldeanfrage erhalten."); }
        return data.challenge;
      });
    });
  }

  function callAgent(agentUrl, path, payload) {
    return fetch(agentUrl.replace(/\/$/, "") + path, {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload)
    }).then(function (resp) {
      return resp.json();
    }, function () {
      return { error: "agent_unreachable", message: AGENT_MESSAGES.agent_unreachable };
    });
  }

  // --- login, second factor, registration ------------------------------------------------
  function initCardBox(box) {
    var form = box.querySelector("form[data-ehba-form]");
    var start = box.querySelector("[data-ehba-start]");
    var status = box.querySelector("[data-ehba-status]");
    var show = box.querySelector("[data-ehba-show-challenge]");
    if (!form || !start) { return; }

    start.addEventListener("click", function () {
      start.disabled = true;
      setStatus(status, "Anmeldeanfrage wird angefordert …");
      fetchChallenge(box, form).then(function (challenge) {
        setStatus(status, "Bitte geben Sie am Signatur-Agenten die PIN.CH Ihres eHBA ein …");
        return callAgent(box.getAttribute("data-agent-url"), "/login", { challenge: challenge });
      }).then(function (answer) {
        if (answer.token) {
          form.elements.token.value = answer.token;
          form.elements.agent_error.value = "";
          setStatus(status, "Antwort der Karte erhalten, wird geprüft …");
        } else {
          form.elements.token.value = "";
          form.elements.agent_error.value = answer.error || "agent_error";
          setStatus(status, answer.message || "Fehler des Signatur-Agenten.");
        }
        form.submit();
      }).catch(function (err) {
        start.disabled = false;
        setStatus(status, err.message);
      });
    });

    if (show) {
      show.addEventListener("click", function () {
        fetchChallenge(box, form).then(function (challenge) {
          box.querySelector("[data-ehba-challenge]").textContent = challenge;
        }).catch(function (err) { setStatus(status, err.message); });
      });
    }
  }

  // --- batch signing of an application's documents -----------------------------------------
  function toBase64(buffer) {
    var bytes = new Uint8Array(buffer);
    var chunks = [];
    for (var i = 0; i < bytes.length; i += 0x8000) {
      chunks.push(String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000)));
    }
    return window.btoa(chunks.join(""));
  }

  function fromBase64(text) {
    var raw = window.atob(text);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes;
  }

  function addLine(el, text, kind) {
    var p = document.createElement("p");
    p.className = "message" + (kind ? " message-" + kind : "");
    p.textContent = text;
    el.appendChild(p);
  }

  function initSignBox(box) {
    var button = box.querySelector("[data-ehba-sign-start]");
    var status = box.querySelector("[data-ehba-sign-status]");
    var form = box.querySelector("form[data-ehba-sign-form]");
    var rows = Array.prototype.slice.call(document.querySelectorAll("[data-ehba-doc]"));
    if (!button || !rows.length) { return; }

    button.addEventListener("click", function () {
      button.disabled = true;
      status.textContent = "";
      addLine(status, "Dokumente werden geladen …");
      Promise.all(rows.map(function (row) {
        return fetch(row.getAttribute("data-download-url"), { credentials: "same-origin" })
          .then(function (resp) {
            if (!resp.ok) { throw new Error("Dokument „" + row.getAttribute("data-name") + "“ konnte nicht geladen werden."); }
            return resp.arrayBuffer();
          })
          .then(function (buf) {
            return { id: row.getAttribute("data-id"), name: row.getAttribute("data-name"), pdf: toBase64(buf) };
          });
      })).then(function (documents) {
        addLine(status, "Bitte geben Sie am Signatur-Agenten einmal die PIN.QES Ihres eHBA ein (" + documents.length + " Dokument(e)) …");
        return callAgent(box.getAttribute("data-agent-url"), "/sign", {
          documents: documents, reason: box.getAttribute("data-reason") || ""
        });
      }).then(function (answer) {
        var signed = answer.documents || [];
        if (answer.error) { addLine(status, answer.message || answer.error, "error"); }
        var uploads = signed.map(function (doc) {
          var row = rows.filter(function (r) { return r.getAttribute("data-id") === String(doc.id); })[0];
          var data = new FormData();
          data.append("csrfmiddlewaretoken", csrfToken(form));
          data.append("signed_pdf", new Blob([fromBase64(doc.pdf)], { type: "application/pdf" }), "signiert.pdf");
          return fetch(row.getAttribute("data-upload-url"), {
            method: "POST", credentials: "same-origin", body: data,
            headers: { "Accept": "application/json", "X-CSRFToken": csrfToken(form) }
          }).then(function (resp) { return resp.json(); }).then(function (result) {
            addLine(status, result.message, result.ok ? "success" : "error");
            return result;
          });
        });
        return Promise.all(uploads);
      }).then(function (results) {
        if (results.length) {
          addLine(status, "Fertig. Die Seite wird aktualisiert …");
          window.setTimeout(function () { window.location.reload(); }, 1200);
        } else {
          button.disabled = false;
        }
      }).catch(function (err) {
        addLine(status, err.message, "error");
        button.disabled = false;
      });
    });
  }

  document.querySelectorAll("[data-ehba-card]").forEach(initCardBox);
  document.querySelectorAll("[data-ehba-sign]").forEach(initSignBox);
})();
