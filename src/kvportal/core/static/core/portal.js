// Idle timeout (seed 000): when the server-side session has expired, show the login page
// with the reason. The server ends the session itself; this only tells the user why.
// WCAG 2.2.1 (timing adjustable): two minutes before the end a notice offers to stay signed in.
(function () {
  "use strict";
  var body = document.body;
  var seconds = parseInt(body.getAttribute("data-idle-seconds") || "0", 10);
  var target = body.getAttribute("data-timeout-url");
  var keepAliveUrl = body.getAttribute("data-keepalive-url");
  var warnBefore = 120;
  var logoutTimer = null;
  var warnTimer = null;
  var notice = null;

  function removeNotice() {
    if (notice && notice.parentNode) { notice.parentNode.removeChild(notice); }
    notice = null;
  }

  function showNotice() {
    removeNotice();
    notice = document.createElement("div");
    notice.className = "timeout-notice";
    notice.setAttribute("role", "alertdialog");
    notice.setAttribute("aria-labelledby", "timeout-notice-text");
    var text = document.createElement("p");
    text.id = "timeout-notice-text";
    text.textContent = body.getAttribute("data-timeout-warning") || "";
    var button = document.createElement("button");
    button.type = "button";
    button.id = "timeout-extend";
    button.textContent = body.getAttribute("data-timeout-extend") || "OK";
    button.addEventListener("click", function () {
      window.fetch(keepAliveUrl, { credentials: "same-origin", cache: "no-store" })
        .then(function (response) {
          if (response.ok) { removeNotice(); schedule(); }
        })
        .catch(function () { /* the server is unreachable: the page still ends the session */ });
    });
    notice.appendChild(text);
    notice.appendChild(button);
    body.appendChild(notice);
    button.focus();
  }

  function schedule() {
    window.clearTimeout(logoutTimer);
    window.clearTimeout(warnTimer);
    logoutTimer = window.setTimeout(function () { window.location.assign(target); }, seconds * 1000 + 1500);
    if (keepAliveUrl && seconds > warnBefore + 60) {
      warnTimer = window.setTimeout(showNotice, (seconds - warnBefore) * 1000);
    }
  }

  if (seconds > 0 && target) { schedule(); }

  // Buttons with data-confirm ask before submitting their form.
  document.addEventListener("click", function (event) {
    var el = event.target.closest("[data-confirm]");
    if (el && !window.confirm(el.getAttribute("data-confirm"))) { event.preventDefault(); }
  });
  // WCAG 2.1.1: a table that scrolls sideways (narrow screens) can be scrolled with the keyboard.
  function focusableScrollers() {
    var tables = document.querySelectorAll("main .table");
    for (var i = 0; i < tables.length; i++) {
      var t = tables[i];
      if (t.scrollWidth > t.clientWidth + 1) {
        if (!t.hasAttribute("tabindex")) { t.setAttribute("tabindex", "0"); t.setAttribute("data-scroll-focus", ""); }
      } else if (t.hasAttribute("data-scroll-focus")) {
        t.removeAttribute("tabindex"); t.removeAttribute("data-scroll-focus");
      }
    }
  }
  focusableScrollers();
  window.addEventListener("resize", focusableScrollers);
  // Burger menu: closed on phones, always open on wide screens (the toggle is hidden there).
  var menu = document.querySelector("[data-nav-menu]");
  if (menu && window.matchMedia) {
    var narrow = window.matchMedia("(max-width: 48rem)");
    var syncMenu = function () { menu.open = !narrow.matches; };
    syncMenu();
    if (narrow.addEventListener) { narrow.addEventListener("change", syncMenu); }
  }
  // Submenus ("Verwaltung"): Escape or a click elsewhere closes them.
  var groups = document.querySelectorAll("[data-nav-group]");
  document.addEventListener("click", function (event) {
    for (var g = 0; g < groups.length; g++) {
      if (groups[g].open && !groups[g].contains(event.target)) { groups[g].open = false; }
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    for (var g = 0; g < groups.length; g++) {
      if (groups[g].open) { groups[g].open = false; groups[g].querySelector("summary").focus(); }
    }
  });
  // Elements with data-refresh-url reload that URL's page every N seconds (progress views).
  var refresh = document.querySelector("[data-refresh-seconds]");
  if (refresh) {
    // ?auto=1 marks the reload as background: it does not count as activity (idle timeout)
    window.setTimeout(function () {
      var url = new URL(window.location.href);
      url.searchParams.set("auto", "1");
      window.location.replace(url.toString());
    },
      parseInt(refresh.getAttribute("data-refresh-seconds"), 10) * 1000);
  }
})();
