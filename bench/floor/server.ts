// The floor of this stack: a bare Express 5 + Handlebars server (no session, no database, no
// security middleware) rendering a dashboard-like page of a requested size. `GET /bytes/<n>`
// answers a page of n bytes (within a few bytes), from a template compiled once; the model is
// rebuilt per request, as a real page's would be. Run in its own process so it never shares an
// event loop with Atrium or the load generator:
//   node --import tsx bench/floor/server.ts      -> prints {"port":N} when listening
import express from 'express';
import Handlebars from 'handlebars';

const template = Handlebars.compile(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{title}} · {{firm}}</title>
<link rel="stylesheet" href="/assets/app.css"></head>
<body><header class="top"><a class="brand" href="/">{{firm}}</a>
<nav>{{#each nav}}<a href="{{href}}"{{#if current}} aria-current="page"{{/if}}>{{label}}</a>{{/each}}</nav>
<span class="who">{{user.name}}</span></header>
<main><h1>{{title}}</h1>
<table class="list"><thead><tr><th>Name</th><th>Size</th><th>Updated</th></tr></thead><tbody>
{{#each rows}}<tr><td><a href="{{href}}">{{name}}</a></td><td>{{size}}</td><td>{{updated}}</td></tr>
{{/each}}</tbody></table>{{pad}}</main>
<footer>{{firm}}</footer></body></html>`);

const nav = [
  { href: '/w/acme/', label: 'Home', current: true },
  { href: '/w/acme/files/', label: 'Files', current: false },
  { href: '/w/acme/team/', label: 'Team', current: false },
];
function model(rows: number, pad: string) {
  return {
    title: 'Acme Holdings',
    firm: 'Bench Firm',
    user: { name: 'Bench Client' },
    nav,
    rows: Array.from({ length: rows }, (_, i) => ({ href: `/w/acme/files/f/${1000 + i}`, name: `Quarterly report ${100000 + i}.pdf`, size: '1.2 MB', updated: '2026-11-28' })),
    pad,
  };
}

/** Rows and padding that make the page `n` bytes: per-row size measured once per size. */
const shapes = new Map<number, { rows: number; pad: string }>();
function shapeFor(n: number): { rows: number; pad: string } {
  let s = shapes.get(n);
  if (!s) {
    const empty = Buffer.byteLength(template(model(0, '')));
    const perRow = Buffer.byteLength(template(model(1, ''))) - empty;
    const rows = Math.max(0, Math.floor((n - empty) / perRow));
    const rest = n - Buffer.byteLength(template(model(rows, '')));
    s = { rows, pad: ' '.repeat(Math.max(0, rest)) };
    shapes.set(n, s);
  }
  return s;
}

const app = express();
app.disable('x-powered-by');
app.get('/bytes/:n', (req, res) => {
  const n = Math.min(1_000_000, Math.max(0, Number(req.params.n) || 0));
  const s = shapeFor(n);
  res.type('html').send(template(model(s.rows, s.pad)));
});
const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const addr = server.address();
  console.log(JSON.stringify({ port: typeof addr === 'object' && addr ? addr.port : 0 }));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
