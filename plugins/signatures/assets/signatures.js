// Signatures: the drawing pad on the signing page (served by the plugin, never inline, so the CSP
// needs no 'unsafe-inline'). Without JavaScript the page offers only the typed signature, which
// works on its own. With it, "Draw my signature" appears: strokes on a canvas (mouse, touch or
// stylus through pointer events) become a PNG data URL in a hidden field when the form is sent.
// The server checks that PNG (magic bytes, size, dimensions); nothing here is trusted.
(function () {
  'use strict';
  if (window.__atriumSignatures) return;
  window.__atriumSignatures = true;

  function init() {
    var form = document.querySelector('form[data-signature-form]');
    if (!form) return;
    var choice = form.querySelector('[data-signature-draw-choice]');
    var pad = form.querySelector('[data-signature-pad]');
    var typed = form.querySelector('[data-signature-typed]');
    var canvas = form.querySelector('canvas');
    var output = form.querySelector('[data-signature-output]');
    var clear = form.querySelector('[data-signature-clear]');
    if (!choice || !pad || !canvas || !output || !canvas.getContext) return;
    choice.hidden = false;
    // Styled from here (CSSOM, allowed by the CSP) because the pad exists only with JavaScript:
    // a visible, full-width drawing area that does not scroll the page while drawing.
    canvas.style.display = 'block';
    canvas.style.width = '100%';
    canvas.style.maxWidth = canvas.width + 'px';
    canvas.style.height = 'auto';
    canvas.style.aspectRatio = canvas.width + ' / ' + canvas.height;
    canvas.style.border = '2px solid #5a6272';
    canvas.style.borderRadius = '6px';
    canvas.style.background = '#fff';
    canvas.style.touchAction = 'none';
    canvas.style.cursor = 'crosshair';
    var ctx = canvas.getContext('2d');
    var drawing = false;
    var drawn = false;
    ctx.lineWidth = 2.5;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.strokeStyle = '#10204f';

    function mode() {
      var checked = form.querySelector('input[name="kind"]:checked');
      var draw = checked && checked.value === 'drawn';
      pad.hidden = !draw;
      if (typed) typed.hidden = draw;
    }
    form.addEventListener('change', function (event) {
      if (event.target && event.target.name === 'kind') mode();
    });
    mode();

    function point(event) {
      var r = canvas.getBoundingClientRect();
      return { x: ((event.clientX - r.left) * canvas.width) / r.width, y: ((event.clientY - r.top) * canvas.height) / r.height };
    }
    canvas.addEventListener('pointerdown', function (event) {
      drawing = true;
      canvas.setPointerCapture(event.pointerId);
      var p = point(event);
      ctx.beginPath();
      ctx.moveTo(p.x, p.y);
      ctx.lineTo(p.x + 0.1, p.y + 0.1);
      ctx.stroke();
      drawn = true;
      event.preventDefault();
    });
    canvas.addEventListener('pointermove', function (event) {
      if (!drawing) return;
      var p = point(event);
      ctx.lineTo(p.x, p.y);
      ctx.stroke();
      event.preventDefault();
    });
    function stop() {
      drawing = false;
    }
    canvas.addEventListener('pointerup', stop);
    canvas.addEventListener('pointercancel', stop);
    canvas.addEventListener('touchmove', function (event) {
      event.preventDefault();
    }, { passive: false });
    if (clear) {
      clear.addEventListener('click', function () {
        ctx.clearRect(0, 0, canvas.width, canvas.height);
        drawn = false;
        output.value = '';
      });
    }
    form.addEventListener('submit', function () {
      var checked = form.querySelector('input[name="kind"]:checked');
      output.value = checked && checked.value === 'drawn' && drawn ? canvas.toDataURL('image/png') : '';
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
