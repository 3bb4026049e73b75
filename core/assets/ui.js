// The design system's behaviour (the `ui/*` partials; guidance at /admin/style-guide). Served,
// never inline, so the CSP needs no 'unsafe-inline'. Every component works without this file;
// it only enhances:
// - ui/dialog: a <details data-ui-dialog> becomes a modal <dialog> (focus kept inside, Esc and
//   Cancel close it, focus returns to the trigger). Without it the panel opens in place.
// - ui/toast: flash messages float in a corner with a close button; success and info ones leave
//   after a while unless the pointer or focus is on them. Errors stay in the page until closed.
// - ui/drop-zone: drag feedback (is-dragging) and dropped files put into the zone's file input,
//   then a bubbling `ui:drop` event (a plugin decides whether to submit).
// - ui/file-browser: a selection form submitted with nothing ticked shows its sentence beside the
//   button (no round trip, no error page) and puts focus on the first checkbox.
// - details[data-ui-collapse-narrow]: open for everyone without script; closed on load when the
//   screen is narrow, so a long side list does not push the page down on a phone.
(function () {
  'use strict';
  if (window.__atriumUi) return;
  window.__atriumUi = true;

  var NARROW = '(max-width: 63.99rem)';

  function each(root, selector, fn) {
    var list = root.querySelectorAll ? root.querySelectorAll(selector) : [];
    for (var i = 0; i < list.length; i++) fn(list[i]);
    if (root.matches && root.matches(selector)) fn(root);
  }

  // ---- dialogs
  function enhanceDialog(details) {
    if (details.dataset.uiEnhanced || typeof HTMLDialogElement !== 'function') return;
    var summary = details.querySelector(':scope > summary');
    var panel = details.querySelector(':scope > .ui-dialog-panel');
    if (!summary || !panel) return;
    details.dataset.uiEnhanced = 'yes';
    var dialog = document.createElement('dialog');
    dialog.className = 'ui-modal';
    var labelledBy = panel.getAttribute('aria-labelledby');
    if (labelledBy) dialog.setAttribute('aria-labelledby', labelledBy);
    panel.removeAttribute('role');
    panel.removeAttribute('aria-labelledby');
    dialog.appendChild(panel);
    details.after(dialog);
    summary.setAttribute('aria-haspopup', 'dialog');
    each(panel, '[data-ui-dialog-close]', function (button) {
      button.hidden = false;
      button.addEventListener('click', function () { dialog.close(); });
    });
    function open() {
      dialog.showModal();
      var first = panel.querySelector('[autofocus], input:not([type=hidden]):not([disabled]), select, textarea');
      if (first && (first.getAttribute('aria-invalid') === 'true' || !first.value)) first.focus();
    }
    summary.addEventListener('click', function (event) {
      event.preventDefault();
      open();
    });
    // A click on the backdrop (the dialog box itself, outside the panel) closes it.
    dialog.addEventListener('click', function (event) {
      if (event.target === dialog) dialog.close();
    });
    dialog.addEventListener('close', function () { summary.focus(); });
    // Re-rendered with errors (the page opened it): show it as a modal straight away.
    if (details.open) {
      details.open = false;
      open();
    }
  }

  // ---- toasts
  function enhanceToasts(region) {
    if (region.dataset.uiEnhanced || region.hasAttribute('data-ui-static')) return;
    region.dataset.uiEnhanced = 'yes';
    var errors = region.querySelectorAll('.ui-toast-error').length;
    if (!errors) region.classList.add('is-floating');
    each(region, '.ui-toast', function (toast) {
      var close = document.createElement('button');
      close.type = 'button';
      close.className = 'ui-toast-close';
      close.setAttribute('aria-label', 'Dismiss this message');
      close.textContent = '\u00d7';
      toast.appendChild(close);
      function leave() {
        toast.classList.add('is-leaving');
        setTimeout(function () {
          toast.remove();
          if (!region.querySelector('.ui-toast')) region.remove();
        }, 220);
      }
      close.addEventListener('click', leave);
      if (toast.classList.contains('ui-toast-error') || errors) return;
      var paused = false;
      toast.addEventListener('pointerenter', function () { paused = true; });
      toast.addEventListener('pointerleave', function () { paused = false; });
      toast.addEventListener('focusin', function () { paused = true; });
      toast.addEventListener('focusout', function () { paused = false; });
      var left = 10;
      var timer = setInterval(function () {
        if (!paused && --left <= 0) {
          clearInterval(timer);
          leave();
        }
      }, 1000);
    });
  }

  // ---- drop zones
  var dragDepth = 0;
  function hasFiles(event) {
    var types = event.dataTransfer && event.dataTransfer.types;
    return Boolean(types && Array.prototype.indexOf.call(types, 'Files') !== -1);
  }
  function zoneOf(target) {
    return target && target.closest ? target.closest('[data-ui-drop]') : null;
  }
  document.addEventListener('dragenter', function (event) {
    if (!hasFiles(event)) return;
    dragDepth++;
    document.documentElement.classList.add('ui-dragging-files');
    var zone = zoneOf(event.target);
    if (zone) zone.classList.add('is-dragging');
  });
  document.addEventListener('dragover', function (event) {
    var zone = zoneOf(event.target);
    if (!zone || !hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
    zone.classList.add('is-dragging');
  });
  document.addEventListener('dragleave', function (event) {
    if (!hasFiles(event)) return;
    dragDepth = Math.max(0, dragDepth - 1);
    if (!dragDepth) document.documentElement.classList.remove('ui-dragging-files');
    var zone = zoneOf(event.target);
    if (zone && !zone.contains(event.relatedTarget)) zone.classList.remove('is-dragging');
  });
  document.addEventListener('drop', function (event) {
    dragDepth = 0;
    document.documentElement.classList.remove('ui-dragging-files');
    var zone = zoneOf(event.target);
    if (!zone) return;
    event.preventDefault();
    zone.classList.remove('is-dragging');
    var input = zone.querySelector('input[type=file]');
    if (!input || !event.dataTransfer || !event.dataTransfer.files.length) return;
    input.files = event.dataTransfer.files;
    input.dispatchEvent(new Event('change', { bubbles: true }));
    zone.dispatchEvent(new CustomEvent('ui:drop', { bubbles: true, detail: { files: input.files } }));
  });

  // ---- file browser selection: nothing ticked says so beside the button instead of posting
  document.addEventListener('submit', function (event) {
    var form = event.target;
    var none = form && form.querySelector && form.matches('form.ui-files') ? form.querySelector('[data-ui-files-none]') : null;
    if (!none || form.querySelector('input[name=ids]:checked')) return;
    event.preventDefault();
    var text = none.textContent;
    none.hidden = false;
    none.textContent = text; // set again so the alert is read out
    var first = form.querySelector('input[name=ids]');
    if (first) first.focus();
  });
  document.addEventListener('change', function (event) {
    var box = event.target;
    if (!box || box.name !== 'ids' || !box.checked || !box.form) return;
    var none = box.form.querySelector('[data-ui-files-none]');
    if (none) none.hidden = true;
  });

  function enhance(root) {
    each(root, 'details[data-ui-dialog]', enhanceDialog);
    each(root, '.ui-toasts', enhanceToasts);
    if (window.matchMedia && window.matchMedia(NARROW).matches) {
      each(root, 'details[data-ui-collapse-narrow]', function (d) { d.open = false; });
    }
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', function () { enhance(document); });
  else enhance(document);
  // Content swapped in by htmx gets the same treatment.
  document.addEventListener('htmx:load', function (event) { enhance(event.target); });
})();
