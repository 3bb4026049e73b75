// Files plugin behaviour (served by the plugin, never inline, so the CSP needs no 'unsafe-inline'):
// - upload progress bars from htmx 2's htmx:xhr:progress;
// - files dropped on the upload form's drop zone (core/assets/ui.js) are sent at once;
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
  // The kernel's drop zone (ui/drop-zone) puts dropped files into the form's input and fires
  // ui:drop; an upload form sends them at once.
  document.addEventListener('ui:drop', function (event) {
    var form = uploadForm(event.target);
    if (form && window.htmx) window.htmx.trigger(form, 'submit');
  });
})();
