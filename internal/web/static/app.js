// parley dashboard: confirmations for destructive buttons. Everything
// works without this file; it only adds a confirm() before data-confirm
// buttons submit their form.
"use strict";
document.addEventListener("click", function (ev) {
  var b = ev.target.closest("[data-confirm]");
  if (b && !window.confirm(b.getAttribute("data-confirm"))) {
    ev.preventDefault();
  }
});
