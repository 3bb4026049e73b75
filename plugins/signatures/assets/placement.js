// Signatures: placing each signer's signature by clicking (or tapping) on the rendered pages of
// the send form (served by the plugin, never inline, so the CSP needs no 'unsafe-inline').
// Without JavaScript the form's page number and position presets do the same job, and they stay
// the keyboard's way with it: choosing a preset moves the mark, and a focused mark moves with the
// arrow keys (Shift for larger steps). A click puts the 180 x 60 point box's centre where it
// lands, kept inside the page; the box's lower-left corner goes to the server in PDF points
// (s<n>_x, s<n>_y, position "custom"), which checks it against the page's size again.
(function () {
  'use strict';
  if (window.__atriumPlacement) return;
  window.__atriumPlacement = true;

  var CLICKED = 'custom';

  function init() {
    var form = document.querySelector('form[data-placement-form]');
    var doc = document.getElementById('pages');
    if (!form || !doc) return;
    var figures = Array.prototype.slice.call(doc.querySelectorAll('.ui-doc-page'));
    if (!figures.length) return;
    var box = (form.getAttribute('data-box') || '180 60 48').split(' ').map(Number);
    var BOX_W = box[0], BOX_H = box[1], MARGIN = box[2];

    // Each page: its number, its displayed area in PDF points ([x0, y0, x1, y1]) and whether it is turned.
    var pages = {};
    figures.forEach(function (fig) {
      var n = Number(fig.getAttribute('data-page'));
      var v = (fig.getAttribute('data-view') || '').split(' ').map(Number);
      var sheet = fig.querySelector('.ui-doc-sheet');
      if (!n || v.length !== 4 || !sheet) return;
      pages[n] = { n: n, x0: v[0], y0: v[1], x1: v[2], y1: v[3], w: v[2] - v[0], h: v[3] - v[1], turned: Number(fig.getAttribute('data-rotate')) !== 0, sheet: sheet };
    });

    // The signer rows of the form, with their fields.
    var rows = Array.prototype.slice.call(form.querySelectorAll('fieldset[data-signer]')).map(function (fs) {
      var n = fs.getAttribute('data-signer');
      return {
        n: n,
        fieldset: fs,
        who: form.querySelector('[name="s' + n + '_who"]'),
        name: form.querySelector('[name="s' + n + '_name"]'),
        page: form.querySelector('[name="s' + n + '_page"]'),
        position: form.querySelector('[name="s' + n + '_position"]'),
        x: form.querySelector('[name="s' + n + '_x"]'),
        y: form.querySelector('[name="s' + n + '_y"]'),
        mark: null,
      };
    }).filter(function (r) { return r.who && r.page && r.position && r.x && r.y; });
    if (!rows.length) return;

    // What is announced to screen readers after a placement.
    var live = document.createElement('p');
    live.className = 'hint';
    live.setAttribute('role', 'status');
    live.setAttribute('aria-live', 'polite');

    // "Place the signature of: [Signer 1]" above the pages.
    var picker = document.createElement('p');
    picker.className = 'field';
    var pickLabel = document.createElement('label');
    pickLabel.setAttribute('for', 'placing-signer');
    pickLabel.textContent = 'Click or tap on a page to place the signature of';
    var pick = document.createElement('select');
    pick.id = 'placing-signer';
    picker.appendChild(pickLabel);
    picker.appendChild(pick);
    var region = doc.querySelector('.ui-doc-pages');
    doc.insertBefore(picker, region);
    doc.insertBefore(live, region);
    figures.forEach(function (fig) {
      var p = pages[Number(fig.getAttribute('data-page'))];
      if (p && !p.turned) p.sheet.classList.add('is-placing');
    });

    function signerLabel(r) {
      var label = 'Signer ' + r.n;
      var opt = r.who.options[r.who.selectedIndex];
      if (r.who.value === 'other' && r.name && r.name.value.trim()) return label + ' (' + r.name.value.trim() + ')';
      if (r.who.value && r.who.value !== 'other' && opt) return label + ' (' + opt.text.replace(/ \(.*$/, '') + ')';
      return label;
    }
    function refreshPicker() {
      var current = pick.value;
      while (pick.firstChild) pick.removeChild(pick.firstChild);
      rows.forEach(function (r) {
        var o = document.createElement('option');
        o.value = r.n;
        o.textContent = signerLabel(r) + (r.who.value ? '' : ' (no one chosen yet)');
        pick.appendChild(o);
      });
      pick.value = current || rows[0].n;
    }

    function round(v) { return Math.round(v * 100) / 100; }
    function clamp(v, lo, hi) { return Math.max(lo, Math.min(hi, v)); }

    // The box of a row in PDF points: the place marked, else the preset (as pdf.ts rectFor puts it).
    function rectOf(r, p) {
      if (r.position.value === CLICKED && r.x.value !== '' && r.y.value !== '') return { x: Number(r.x.value), y: Number(r.y.value) };
      var pos = r.position.value || 'bottom-left';
      var left = MARGIN, right = Math.max(MARGIN, p.w - MARGIN - BOX_W), centre = Math.max(0, (p.w - BOX_W) / 2);
      var top = Math.max(MARGIN, p.h - MARGIN - BOX_H);
      var x = /left$/.test(pos) ? left : /right$/.test(pos) ? right : centre;
      var y = /^top/.test(pos) ? top : MARGIN;
      return { x: p.x0 + x, y: p.y0 + y };
    }

    function draw(r) {
      var p = pages[Number(r.page.value)];
      if (!r.who.value || !p) {
        if (r.mark) r.mark.hidden = true;
        return;
      }
      if (!r.mark) {
        r.mark = document.createElement('button');
        r.mark.type = 'button';
        r.mark.className = 'ui-doc-mark';
        r.mark.addEventListener('keydown', function (event) { nudge(r, event); });
        r.mark.addEventListener('click', function (event) { event.stopPropagation(); });
      }
      if (r.mark.parentNode !== p.sheet) p.sheet.appendChild(r.mark);
      r.mark.hidden = false;
      var rect = rectOf(r, p);
      r.mark.style.left = ((rect.x - p.x0) / p.w) * 100 + '%';
      r.mark.style.top = ((p.y1 - (rect.y + BOX_H)) / p.h) * 100 + '%';
      r.mark.style.width = (BOX_W / p.w) * 100 + '%';
      r.mark.style.height = (BOX_H / p.h) * 100 + '%';
      // Short on the page ("Ada Admin", or "Signer 2" before a name is known); its accessible
      // name starts with the same words (WCAG 2.5.3) and says what the keys do.
      var shown = signerLabel(r).replace(/^Signer \d+ \((.*)\)$/, '$1');
      r.mark.textContent = shown;
      r.mark.setAttribute('aria-label', shown + ' signs here (signer ' + r.n + '), on page ' + p.n + '. Arrow keys move the place.');
    }
    function drawAll() { rows.forEach(draw); }

    function clicked(r) {
      var has = false;
      for (var i = 0; i < r.position.options.length; i++) if (r.position.options[i].value === CLICKED) has = true;
      if (!has) {
        var o = document.createElement('option');
        o.value = CLICKED;
        o.textContent = 'Where I marked it on the page';
        r.position.appendChild(o);
      }
      r.position.value = CLICKED;
    }

    // Put row r's box with its centre at (px, py) points on page p, kept inside the page.
    function place(r, p, px, py, announce) {
      var x = clamp(px - BOX_W / 2, Math.max(0, p.x0), Math.max(0, p.x1 - BOX_W));
      var y = clamp(py - BOX_H / 2, Math.max(0, p.y0), Math.max(0, p.y1 - BOX_H));
      r.page.value = String(p.n);
      r.x.value = String(round(x));
      r.y.value = String(round(y));
      clicked(r);
      draw(r);
      if (announce) live.textContent = signerLabel(r) + ' signs on page ' + p.n + ', ' + Math.round(x) + ' points from the left and ' + Math.round(y) + ' from the bottom.';
    }

    Object.keys(pages).forEach(function (k) {
      var p = pages[k];
      p.sheet.addEventListener('click', function (event) {
        var r = rows.filter(function (x) { return x.n === pick.value; })[0];
        if (!r) return;
        if (p.turned) {
          live.textContent = 'Page ' + p.n + ' is turned sideways: choose a page and a position in the form for it instead.';
          return;
        }
        if (!r.who.value) {
          live.textContent = 'Choose who is ' + ('signer ' + r.n) + ' in the form first.';
          return;
        }
        var img = p.sheet.querySelector('img');
        var b = (img || p.sheet).getBoundingClientRect();
        if (!b.width || !b.height) return;
        var fx = clamp((event.clientX - b.left) / b.width, 0, 1);
        var fy = clamp((event.clientY - b.top) / b.height, 0, 1);
        place(r, p, p.x0 + fx * p.w, p.y1 - fy * p.h, true);
      });
    });

    // Arrow keys move a focused mark by 6 points (Shift: 36), inside its page.
    function nudge(r, event) {
      var step = event.shiftKey ? 36 : 6;
      var d = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] }[event.key];
      var p = pages[Number(r.page.value)];
      if (!d || !p || p.turned) return;
      event.preventDefault();
      var rect = rectOf(r, p);
      place(r, p, rect.x + BOX_W / 2 + d[0], rect.y + BOX_H / 2 + d[1], true);
      r.mark.focus();
    }

    // "Mark the place on the page" in each signer's fieldset: pick them and go to the pages.
    rows.forEach(function (r) {
      var hint = r.fieldset.querySelector('[data-place-hint]');
      var button = hint && hint.querySelector('button');
      if (hint && button) {
        hint.hidden = false;
        button.addEventListener('click', function () {
          refreshPicker();
          pick.value = r.n;
          doc.scrollIntoView({ behavior: 'smooth', block: 'start' });
          pick.focus({ preventScroll: true });
        });
      }
      // A preset chosen again: the marked place is forgotten (the server would ignore it anyway).
      r.position.addEventListener('change', function () {
        if (r.position.value !== CLICKED) {
          r.x.value = '';
          r.y.value = '';
        }
        draw(r);
      });
      r.page.addEventListener('input', function () { draw(r); });
      r.who.addEventListener('change', function () { refreshPicker(); draw(r); });
      if (r.name) r.name.addEventListener('input', function () { refreshPicker(); draw(r); });
    });

    refreshPicker();
    drawAll();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
