// Files plugin behaviour (served by the plugin, never inline, so the CSP needs no 'unsafe-inline'):
// - upload progress bars from htmx 2's htmx:xhr:progress;
// - drag-and-drop onto the upload area, then submit;
// - upload errors (413, 415, 400) are swapped in beside the form instead of being dropped.
(function () {
  'use strict';
  if (window.__atriumFiles) return;
  window.__atriumFiles = true;
  function uploadForm(el) {
    return el && el.closest ? el.closest('form[data-files-upload]') : null;
  }
  document.addEventListener('htmx:xhr:progress', function (event) {
    var form = uploadForm(event.target);
    if (!form || !event.detail.lengthComputable) return;
    var bar = form.querySelector('[data-files-progress]');
    if (!bar) return;
    bar.hidden = false;
    bar.value = Math.round((event.detail.loaded / event.detail.total) * 100);
  });
  document.addEventListener('htmx:afterRequest', function (event) {
    var form = uploadForm(event.target);
    if (!form) return;
    var bar = form.querySelector('[data-files-progress]');
    if (bar) bar.hidden = true;
    if (event.detail.successful) form.reset();
  });
  document.addEventListener('htmx:beforeSwap', function (event) {
    if (uploadForm(event.detail.requestConfig && event.detail.requestConfig.elt) && [400, 413, 415].indexOf(event.detail.xhr.status) !== -1) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  document.addEventListener('dragover', function (event) {
    var zone = event.target.closest && event.target.closest('[data-files-drop]');
    if (!zone) return;
    event.preventDefault();
    zone.classList.add('is-dragging');
  });
  document.addEventListener('dragleave', function (event) {
    var zone = event.target.closest && event.target.closest('[data-files-drop]');
    if (zone) zone.classList.remove('is-dragging');
  });
  document.addEventListener('drop', function (event) {
    var zone = event.target.closest && event.target.closest('[data-files-drop]');
    if (!zone) return;
    event.preventDefault();
    zone.classList.remove('is-dragging');
    var input = zone.querySelector('input[type=file]');
    if (!input || !event.dataTransfer || !event.dataTransfer.files.length) return;
    input.files = event.dataTransfer.files;
    var form = uploadForm(zone);
    if (form && window.htmx) window.htmx.trigger(form, 'submit');
  });
})();
