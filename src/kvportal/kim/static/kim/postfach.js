// Security (issue 15): the portal hands this page only ciphertext; the local KIM agent
// (127.0.0.1, CORS limited to the portal) decrypts, verifies, signs and encrypts with the card.
// Decrypted content is shown with textContent only (no HTML from messages).
(function () {
  "use strict";

  var NO_AGENT = "Kein KIM-Agent erreichbar. Bitte starten Sie den KIM-Agenten auf diesem Rechner " +
    "und stecken Sie Ihre Karte (SMC-B oder eHBA).";

  function csrf(form) {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function agentCall(agentUrl, path, payload) {
    return fetch(agentUrl.replace(/\/$/, "") + path, {
      method: "POST", mode: "cors", credentials: "omit",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload)
    }).then(function (resp) {
      return resp.json().then(function (data) {
        if (!resp.ok) { throw new Error(data.fehler || "Der KIM-Agent hat die Anfrage abgelehnt."); }
        return data;
      });
    }, function () { throw new Error(NO_AGENT); });
  }

  function bytesToBase64(bytes) {
    var chunks = [], size = 0x8000;
    for (var i = 0; i < bytes.length; i += size) {
      chunks.push(String.fromCharCode.apply(null, bytes.subarray(i, i + size)));
    }
    return btoa(chunks.join(""));
  }

  function fetchCipher(url) {
    return fetch(url, { credentials: "same-origin" }).then(function (resp) {
      if (!resp.ok) { throw new Error("Die Nachricht konnte nicht vom Server geladen werden."); }
      return resp.arrayBuffer();
    }).then(function (buf) { return bytesToBase64(new Uint8Array(buf)); });
  }

  function openWithAgent(agentUrl, rawUrl) {
    return fetchCipher(rawUrl).then(function (b64) {
      return agentCall(agentUrl, "/kim/open", { mail: b64 });
    });
  }

  function base64ToBlob(b64, type) {
    var bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
    return new Blob([bytes], { type: type || "application/octet-stream" });
  }

  // --- reading -------------------------------------------------------------------------
  function initOpen(box) {
    var button = box.querySelector("[data-kim-decrypt]");
    var status = box.querySelector("[data-kim-status]");
    var content = box.querySelector("[data-kim-content]");
    button.addEventListener("click", function () {
      button.disabled = true;
      status.textContent = "Die Nachricht wird mit Ihrer Karte entschlüsselt …";
      openWithAgent(box.getAttribute("data-agent-url"), box.getAttribute("data-raw-url"))
        .then(function (msg) {
          box.querySelector("[data-kim-subject]").textContent = msg.subject || "(ohne Betreff)";
          var sig = msg.signature_valid
            ? (msg.chain_valid ? "Signatur gültig, Absenderzertifikat geprüft." :
              "Signatur mathematisch gültig, Absenderzertifikat nicht prüfbar.")
            : "Achtung: Signatur ungültig.";
          box.querySelector("[data-kim-signature]").textContent =
            sig + " Dienstkennung: " + msg.dienstkennung + ". Von: " + msg.from;
          box.querySelector("[data-kim-text]").textContent = msg.text || "";
          var list = box.querySelector("[data-kim-attachments]");
          (msg.attachments || []).forEach(function (att) {
            var li = document.createElement("li"), a = document.createElement("a");
            a.href = URL.createObjectURL(base64ToBlob(att.data, att.content_type));
            a.download = att.name;
            a.textContent = att.name + " (" + att.size + " Byte)";
            li.appendChild(a);
            list.appendChild(li);
          });
          box.querySelector("[data-kim-attachments-title]").hidden = !(msg.attachments || []).length;
          content.hidden = false;
          status.textContent = "Entschlüsselt.";
        })
        .catch(function (err) {
          status.textContent = err.message;
          button.disabled = false;
        });
    });
  }

  // --- composing ---------------------------------------------------------------------------
  function readFiles(input) {
    var files = Array.prototype.slice.call(input.files || []);
    return Promise.all(files.map(function (file) {
      return file.arrayBuffer().then(function (buf) {
        return { name: file.name, content_type: file.type || "application/octet-stream",
                 data: bytesToBase64(new Uint8Array(buf)) };
      });
    }));
  }

  function showError(form, text) {
    var box = form.querySelector("[data-kim-error]");
    box.textContent = text;
    box.hidden = false;
    box.focus();
  }

  function prefill(form, agentUrl) {
    var reply = form.getAttribute("data-reply-url");
    var fwd = form.getAttribute("data-forward-url");
    if (!reply && !fwd) { return; }
    var status = form.querySelector("[data-kim-status]");
    status.textContent = "Die ursprüngliche Nachricht wird mit Ihrer Karte entschlüsselt …";
    openWithAgent(agentUrl, reply || fwd).then(function (msg) {
      var subject = form.querySelector("#kim-subject"), text = form.querySelector("#kim-text");
      var quoted = (msg.text || "").split("\n").map(function (l) { return "> " + l; }).join("\n");
      subject.value = (reply ? "Re: " : "Wg: ") + (msg.subject || "");
      text.value = "\n\n" + (reply ? "" : "---------- Weitergeleitete Nachricht ----------\n") +
        "Am " + msg.date + " schrieb " + msg.from + ":\n" + quoted;
      form.setAttribute("data-in-reply-to", reply ? (msg.message_id || "") : "");
      form._forwarded = fwd ? (msg.attachments || []) : [];
      status.textContent = "";
    }).catch(function (err) { status.textContent = err.message; });
  }

  function initCompose(form) {
    var agentUrl = form.getAttribute("data-agent-url");
    var status = form.querySelector("[data-kim-status]");
    prefill(form, agentUrl);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var to = form.querySelector("#kim-to").value.split(",").map(function (s) { return s.trim(); })
        .filter(Boolean);
      if (!to.length) { showError(form, "Bitte geben Sie mindestens einen Empfänger an (Feld „An“)."); return; }
      var submit = form.querySelector("button[type=submit]");
      submit.disabled = true;
      status.textContent = "Zertifikate der Empfänger werden aus dem Verzeichnis geholt …";
      var certs;
      fetch(form.getAttribute("data-certs-url") + "?an=" + encodeURIComponent(to.join(",")),
        { credentials: "same-origin" })
        .then(function (resp) {
          return resp.json().then(function (data) {
            if (!resp.ok) { throw new Error(data.fehler); }
            certs = data.certificates;
            return readFiles(form.querySelector("#kim-files"));
          });
        })
        .then(function (files) {
          status.textContent = "Der KIM-Agent signiert und verschlüsselt die Nachricht …";
          return agentCall(agentUrl, "/kim/compose", {
            from: form.getAttribute("data-from"), to: to,
            subject: form.querySelector("#kim-subject").value,
            text: form.querySelector("#kim-text").value,
            dienstkennung: form.querySelector("#kim-dienstkennung").value,
            in_reply_to: form.getAttribute("data-in-reply-to") || "",
            attachments: files.concat(form._forwarded || []),
            certificates: certs
          });
        })
        .then(function (built) {
          status.textContent = "Die verschlüsselte Nachricht wird übertragen …";
          return fetch(form.getAttribute("data-send-url"), {
            method: "POST", credentials: "same-origin",
            headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(form) },
            body: JSON.stringify({ mail: built.mail })
          }).then(function (resp) {
            return resp.json().then(function (data) {
              if (!resp.ok) { throw new Error(data.fehler); }
              window.location.assign(data.weiter);
            });
          });
        })
        .catch(function (err) {
          status.textContent = "";
          showError(form, err.message);
          submit.disabled = false;
        });
    });
  }

  // --- subject search ----------------------------------------------------------------------
  // The subject is inside the ciphertext: the server sends the folder's newest mails, the agent
  // decrypts their headers, the page filters. The search term never leaves this computer.
  function subjectMatches(subject, term) {
    return (subject || "").toLocaleLowerCase("de").indexOf(term.toLocaleLowerCase("de")) !== -1;
  }

  function initSubjectSearch(form) {
    var agentUrl = form.getAttribute("data-agent-url");
    var status = form.querySelector("[data-kim-status]");
    var table = document.getElementById("kim-subject-results");
    var sent = /[?&]ordner=sent(&|$)/.test(form.getAttribute("data-search-url"));
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var term = form.querySelector("#kim-subject-query").value.trim();
      var errorBox = form.querySelector("[data-kim-error]");
      errorBox.hidden = true;
      if (!term) { showError(form, "Bitte geben Sie einen Suchbegriff für den Betreff ein."); return; }
      status.textContent = "Die Nachrichten werden geladen …";
      var listed = {}, leftOut = 0;
      fetch(form.getAttribute("data-search-url"), { credentials: "same-origin" })
        .then(function (resp) {
          return resp.json().then(function (data) {
            if (!resp.ok) { throw new Error(data.fehler); }
            leftOut = data.ausgelassen || 0;
            data.nachrichten.forEach(function (m) { listed[m.id] = m; });
            if (!data.nachrichten.length) { return { headers: [] }; }
            status.textContent = "Der KIM-Agent entschlüsselt die Betreffzeilen …";
            return agentCall(agentUrl, "/kim/headers", {
              mails: data.nachrichten.map(function (m) { return { id: m.id, mail: m.mail }; })
            });
          });
        })
        .then(function (result) {
          var body = table.querySelector("tbody"), hits = 0, unreadable = 0;
          body.textContent = "";
          result.headers.forEach(function (h) {
            if (h.fehler) { unreadable++; return; }
            if (!subjectMatches(h.subject, term)) { return; }
            var m = listed[h.id], tr = document.createElement("tr");
            var td = document.createElement("td"), a = document.createElement("a");
            a.href = m.url;
            a.textContent = h.subject || "(ohne Betreff)";
            td.appendChild(a);
            tr.appendChild(td);
            [sent ? m.empfaenger.join(", ") : m.absender,
              new Date(m.eingang).toLocaleString("de-DE")].forEach(function (text) {
              var cell = document.createElement("td");
              cell.textContent = text;
              tr.appendChild(cell);
            });
            body.appendChild(tr);
            hits++;
          });
          table.hidden = !hits;
          var text = hits ? hits + " Treffer im Betreff." : "Kein Treffer im Betreff.";
          if (unreadable) { text += " " + unreadable + " Nachricht(en) konnte Ihre Karte nicht öffnen."; }
          if (leftOut) { text += " " + leftOut + " ältere oder große Nachricht(en) nicht durchsucht."; }
          status.textContent = text;
        })
        .catch(function (err) {
          status.textContent = "";
          showError(form, err.message);
        });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-kim-subject-search]"),
      initSubjectSearch);
    Array.prototype.forEach.call(document.querySelectorAll("[data-kim-open]"), initOpen);
    Array.prototype.forEach.call(document.querySelectorAll("[data-kim-compose]"), initCompose);
  });
})();
