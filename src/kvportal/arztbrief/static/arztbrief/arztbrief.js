// Security (issue 16): the portal gets only KOM-LE ciphertext built by the local KIM agent and,
// from the receiver, the SHA-256 of the decrypted letter; content is shown with textContent only.
(function () {
  "use strict";

  var NO_AGENT = "Kein KIM-Agent erreichbar. Bitte starten Sie den KIM-Agenten auf diesem Rechner " +
    "und stecken Sie Ihre Karte (SMC-B).";

  function csrf() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function json(resp) {
    return resp.json().then(function (data) {
      if (!resp.ok) { throw new Error(data.fehler || "Die Anfrage wurde abgelehnt."); }
      return data;
    });
  }

  function agentCall(agentUrl, path, payload) {
    return fetch(agentUrl.replace(/\/$/, "") + path, {
      method: "POST", mode: "cors", credentials: "omit",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload)
    }).then(json, function () { throw new Error(NO_AGENT); });
  }

  function portalPost(url, payload) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify(payload)
    }).then(json);
  }

  function bytesToBase64(bytes) {
    var chunks = [], size = 0x8000;
    for (var i = 0; i < bytes.length; i += size) {
      chunks.push(String.fromCharCode.apply(null, bytes.subarray(i, i + size)));
    }
    return btoa(chunks.join(""));
  }

  function base64ToBytes(b64) {
    var bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
    return bytes;
  }

  function hex(buffer) {
    return Array.prototype.map.call(new Uint8Array(buffer), function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function initSend(box) {
    var button = box.querySelector("[data-arztbrief-go]");
    var status = box.querySelector("[data-arztbrief-status]");
    button.addEventListener("click", function () {
      button.disabled = true;
      status.textContent = "Der Brief wird mit der SMC-B signiert und verschlüsselt …";
      fetch(box.getAttribute("data-data-url"), { credentials: "same-origin" }).then(json)
        .then(function (data) { return agentCall(box.getAttribute("data-agent-url"), "/kim/compose", data); })
        .then(function (built) { return portalPost(box.getAttribute("data-send-url"), { mail: built.mail }); })
        .then(function (done) { window.location.assign(done.weiter); })
        .catch(function (err) { status.textContent = err.message; button.disabled = false; });
    });
  }

  function showReport(box, report) {
    box.querySelector("[data-arztbrief-verdict]").textContent = report.ergebnis +
      (report.geprueft_am ? " – geprüft am " + report.geprueft_am : "");
    var list = box.querySelector("[data-arztbrief-signatures]");
    (report.signaturen || []).forEach(function (s) {
      var li = document.createElement("li");
      li.textContent = "Unterzeichner: " + s.unterzeichner + " (Telematik-ID " + s.telematik_id +
        "), Ergebnis: " + (s.ergebnis === "valid" ? "gültig" : s.ergebnis) +
        ", Sperrstatus: " + (s.sperrstatus || "–") + ", Zertifikatspfad: " + s.pfad;
      list.appendChild(li);
    });
  }

  function initReceive(box) {
    var button = box.querySelector("[data-arztbrief-go]");
    var status = box.querySelector("[data-arztbrief-status]");
    var agentUrl = box.getAttribute("data-agent-url");
    button.addEventListener("click", function () {
      button.disabled = true;
      status.textContent = "Der Brief wird mit Ihrer Karte entschlüsselt …";
      var opened;
      fetch(box.getAttribute("data-raw-url"), { credentials: "same-origin" })
        .then(function (resp) {
          if (!resp.ok) { throw new Error("Die Nachricht konnte nicht vom Server geladen werden."); }
          return resp.arrayBuffer();
        })
        .then(function (buf) { return agentCall(agentUrl, "/kim/open", { mail: bytesToBase64(new Uint8Array(buf)) }); })
        .then(function (msg) {
          opened = msg;
          var pdf = (msg.attachments || []).filter(function (a) { return a.content_type === "application/pdf"; })[0];
          if (!pdf) { throw new Error("Die Nachricht enthält keinen Brief als PDF."); }
          var list = box.querySelector("[data-arztbrief-attachments]");
          msg.attachments.forEach(function (att) {
            var li = document.createElement("li"), a = document.createElement("a");
            a.href = URL.createObjectURL(new Blob([base64ToBytes(att.data)], { type: att.content_type }));
            a.download = att.name;
            a.textContent = att.name + " (" + att.size + " Byte)";
            li.appendChild(a);
            list.appendChild(li);
          });
          return crypto.subtle.digest("SHA-256", base64ToBytes(pdf.data));
        })
        .then(function (digest) {
          var sha = hex(digest);
          var sender = box.getAttribute("data-sender"), cert = box.getAttribute("data-sender-cert");
          if (box.getAttribute("data-confirmed") || !cert) { return { sha: sha, mail: "" }; }
          var certificates = {};
          certificates[sender] = [cert];
          return agentCall(agentUrl, "/kim/compose", {
            from: box.getAttribute("data-mailbox"), to: [sender],
            subject: "Eingangsbestätigung eArztbrief", in_reply_to: opened.message_id,
            text: "Der eArztbrief " + opened.message_id + " ist eingegangen (SHA-256 " + sha + ").",
            dienstkennung: box.getAttribute("data-dk"), attachments: [],
            certificates: certificates
          }).then(function (built) { return { sha: sha, mail: built.mail }; });
        })
        .then(function (r) { return portalPost(box.getAttribute("data-confirm-url"), { sha256: r.sha, bestaetigung: r.mail }); })
        .then(function (done) {
          status.textContent = done.bericht.gueltig ? "Qualifizierte Signatur gültig." : done.bericht.ergebnis;
          box.querySelector("[data-arztbrief-report]").hidden = false;
          showReport(box, done.bericht);
        })
        .catch(function (err) { status.textContent = err.message; button.disabled = false; });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-arztbrief-send]").forEach(initSend);
    document.querySelectorAll("[data-arztbrief-receive]").forEach(initReceive);
  });
})();
