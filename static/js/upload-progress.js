// Shows how far an upload has got: htmx reports the request's progress, the form's
// <progress class="upload-progress"> shows it. No inline script (the CSP forbids it).
document.addEventListener("htmx:xhr:progress", (event) => {
  const bar = event.target.querySelector && event.target.querySelector("progress.upload-progress");
  if (!bar || !event.detail.lengthComputable) return;
  bar.hidden = false;
  bar.value = Math.round((event.detail.loaded / event.detail.total) * 100);
});
