// The portal's only script besides htmx. No inline script anywhere: the CSP forbids it.

// The main menu folds behind a "Menu" button on narrow screens (the CSS decides what narrow
// is). Without this script the button stays hidden and the menu simply shows.
function setUpMenu() {
  const button = document.querySelector(".topbar .menu-toggle");
  const header = button && button.closest(".topbar");
  const nav = button && document.getElementById(button.getAttribute("aria-controls"));
  if (!header || !nav) return;
  const show = (open) => {
    header.dataset.menu = open ? "open" : "closed";
    button.setAttribute("aria-expanded", open ? "true" : "false");
  };
  show(false);
  button.addEventListener("click", () => show(header.dataset.menu !== "open"));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && header.dataset.menu === "open" && nav.contains(document.activeElement)) {
      show(false);
      button.focus();
    }
  });
}
if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", setUpMenu);
} else {
  setUpMenu();
}

// Shows how far an upload has got: htmx reports the request's progress, the form's
// <progress class="upload-progress"> shows it.
document.addEventListener("htmx:xhr:progress", (event) => {
  const bar = event.target.querySelector && event.target.querySelector("progress.upload-progress");
  if (!bar || !event.detail.lengthComputable) return;
  bar.hidden = false;
  bar.value = Math.round((event.detail.loaded / event.detail.total) * 100);
});

// While an in-place action is on its way, its button says so (Pico draws a spinner for
// aria-busy) and cannot be pressed twice.
function busyButton(event) {
  const form = event.detail.elt && event.detail.elt.closest && event.detail.elt.closest("form");
  return form ? form.querySelector("button[type=submit], button:not([type])") : null;
}
document.addEventListener("htmx:beforeRequest", (event) => {
  const button = busyButton(event);
  if (!button) return;
  button.setAttribute("aria-busy", "true");
  button.disabled = true;
});
document.addEventListener("htmx:afterRequest", (event) => {
  const button = busyButton(event);
  if (!button) return;
  button.removeAttribute("aria-busy");
  button.disabled = false;
});

// An in-place action the portal refused or could not finish: say so where messages go,
// so nothing fails silently (a 422 is answered by the form itself, with its messages).
function sayInMessages(text) {
  const box = document.getElementById("messages");
  if (!box) return;
  const message = document.createElement("div");
  message.className = "message error";
  message.setAttribute("role", "alert");
  message.textContent = text;
  box.replaceChildren(message);
  message.scrollIntoView({ block: "nearest" });
}
document.addEventListener("htmx:responseError", (event) => {
  const status = event.detail.xhr.status;
  if (status === 422) return;
  if (status === 403 || status === 404) {
    sayInMessages("You may no longer do this here: the submission may have changed since the page loaded. Reload the page to see where things stand.");
  } else if (status === 413) {
    sayInMessages("That file is too large to upload.");
  } else {
    sayInMessages(`The portal could not do this just now (error ${status}); nothing was saved. Try again in a minute.`);
  }
});
document.addEventListener("htmx:sendError", () => {
  sayInMessages("The portal could not be reached; nothing was sent. Check your connection and try again.");
});

// After a section is replaced in place, keyboard focus would fall back to the top of the
// page: put it on the section's heading instead, so the person carries on where they were.
document.addEventListener("htmx:afterSettle", (event) => {
  if (document.activeElement && document.activeElement !== document.body) return;
  const config = event.detail.requestConfig;
  const selector = config && config.elt && config.elt.getAttribute("hx-target");
  if (!selector || !selector.startsWith("#")) return;
  const section = document.querySelector(selector);
  const heading = section && section.querySelector("h2, h3");
  if (!heading) return;
  heading.setAttribute("tabindex", "-1");
  heading.focus();
});
