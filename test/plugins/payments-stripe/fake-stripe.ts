// A small fake of the Stripe API on 127.0.0.1, for tests with no network: the real `stripe`
// client is pointed at it (the plugin's `apiBase` setting: host, port, protocol). It implements
// what payments-stripe calls, POST /v1/checkout/sessions (with the client's Bearer key and
// Idempotency-Key), GET /v1/checkout/sessions/:id and POST /v1/refunds, and serves a checkout page per session: a real HTML page whose Pay button
// POSTs back here, which marks the session paid, sends Atrium a `checkout.session.completed`
// webhook signed with the library's own `generateTestHeaderString`, and redirects the browser to
// the session's success_url (Cancel goes to its cancel_url). Tests also build, sign and deliver
// their own events (bad signatures, stale timestamps, replays, mismatches).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import Stripe from 'stripe';

export interface FakeSession {
  id: string;
  object: 'checkout.session';
  mode: string;
  amount_total: number;
  currency: string;
  status: 'open' | 'complete' | 'expired';
  payment_status: 'unpaid' | 'paid';
  success_url: string;
  cancel_url: string;
  client_reference_id: string | null;
  customer_email: string | null;
  metadata: Record<string, string>;
  url: string;
  description: string;
  payment_intent: string | null;
}

export interface FakeRefund {
  id: string;
  object: 'refund';
  amount: number;
  payment_intent: string;
  status: 'succeeded';
}

/** Nested form keys as Stripe's client sends them (`line_items[0][price_data][currency]`). */
function parseForm(body: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const parts = key.split(/\[|\]\[|\]/).filter((p) => p !== '');
    let cur = out as Record<string, unknown>;
    parts.forEach((p, i) => {
      if (i === parts.length - 1) cur[p] = value;
      else cur = (cur[p] ??= {}) as Record<string, unknown>;
    });
  }
  return out;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export class FakeStripe {
  readonly sessions = new Map<string, FakeSession>();
  readonly refunds: FakeRefund[] = [];
  /** Every API call: method, path, whether the key was right, the parsed form. */
  readonly calls: Array<{ method: string; path: string; authorised: boolean; form: Record<string, unknown>; idempotencyKey: string | null }> = [];
  /** Where Atrium takes webhooks (set once the app is up). */
  webhookUrl = '';
  /** Deliveries to Atrium: status answered, for the test to read. */
  readonly deliveries: Array<{ type: string; status: number }> = [];
  private server: Server | undefined;
  private byIdempotencyKey = new Map<string, string>();
  private readonly signer = new Stripe('sk_test_signer_only', { host: '127.0.0.1', port: 9, protocol: 'http' });
  url = '';

  constructor(
    readonly secretKey: string,
    readonly webhookSecret: string,
  ) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        res.statusCode = 500;
        res.end(String(err));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  private json(res: ServerResponse, status: number, body: unknown) {
    res.writeHead(status, { 'content-type': 'application/json', 'request-id': `req_${randomBytes(6).toString('hex')}` });
    res.end(JSON.stringify(body));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    if (url.pathname.startsWith('/v1/')) {
      const form = parseForm(await readBody(req));
      const authorised = req.headers.authorization === `Bearer ${this.secretKey}`;
      const idempotencyKey = (req.headers['idempotency-key'] as string | undefined) ?? null;
      this.calls.push({ method: req.method ?? '', path: url.pathname, authorised, form, idempotencyKey });
      if (!authorised) return this.json(res, 401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided.' } });
      if (req.method === 'POST' && url.pathname === '/v1/checkout/sessions') {
        const again = idempotencyKey ? this.byIdempotencyKey.get(idempotencyKey) : undefined;
        if (again) return this.json(res, 200, this.sessions.get(again));
        const line = ((form.line_items as Record<string, Record<string, unknown>>) ?? {})['0'] ?? {};
        const price = (line.price_data as Record<string, unknown>) ?? {};
        const id = `cs_test_${randomBytes(12).toString('hex')}`;
        const session: FakeSession = {
          id,
          object: 'checkout.session',
          mode: String(form.mode ?? ''),
          amount_total: Number(price.unit_amount) * Number(line.quantity ?? 1),
          currency: String(price.currency ?? ''),
          status: 'open',
          payment_status: 'unpaid',
          success_url: String(form.success_url ?? ''),
          cancel_url: String(form.cancel_url ?? ''),
          client_reference_id: form.client_reference_id ? String(form.client_reference_id) : null,
          customer_email: form.customer_email ? String(form.customer_email) : null,
          metadata: (form.metadata as Record<string, string>) ?? {},
          url: `${this.url}/pay/${id}`,
          description: String(((price.product_data as Record<string, unknown>) ?? {}).name ?? ''),
          payment_intent: null,
        };
        this.sessions.set(id, session);
        if (idempotencyKey) this.byIdempotencyKey.set(idempotencyKey, id);
        return this.json(res, 200, session);
      }
      const one = /^\/v1\/checkout\/sessions\/(cs_test_[0-9a-f]+)$/.exec(url.pathname);
      if (req.method === 'GET' && one) {
        const s = this.sessions.get(one[1]!);
        return s ? this.json(res, 200, s) : this.json(res, 404, { error: { type: 'invalid_request_error', message: 'No such checkout.session' } });
      }
      if (req.method === 'POST' && url.pathname === '/v1/refunds') {
        const again = idempotencyKey ? this.byIdempotencyKey.get(idempotencyKey) : undefined;
        if (again) return this.json(res, 200, this.refunds.find((r) => r.id === again));
        const paid = [...this.sessions.values()].find((s) => s.payment_intent && s.payment_intent === form.payment_intent);
        const already = this.refunds.filter((r) => r.payment_intent === form.payment_intent).reduce((n, r) => n + r.amount, 0);
        const amount = Number(form.amount ?? (paid ? paid.amount_total - already : 0));
        if (!paid || amount <= 0 || amount + already > paid.amount_total) return this.json(res, 400, { error: { type: 'invalid_request_error', code: 'charge_already_refunded', message: 'Refund amount is greater than what can be refunded.' } });
        const refund: FakeRefund = { id: `re_test_${randomBytes(12).toString('hex')}`, object: 'refund', amount, payment_intent: paid.payment_intent!, status: 'succeeded' };
        this.refunds.push(refund);
        if (idempotencyKey) this.byIdempotencyKey.set(idempotencyKey, refund.id);
        return this.json(res, 200, refund);
      }
      return this.json(res, 404, { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${req.method}: ${url.pathname}).` } });
    }
    const pay = /^\/pay\/(cs_test_[0-9a-f]+)$/.exec(url.pathname);
    const session = pay ? this.sessions.get(pay[1]!) : undefined;
    if (!session) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('No such checkout');
      return;
    }
    if (req.method === 'GET') {
      const amount = `${session.currency.toUpperCase()} ${(session.amount_total / 100).toFixed(2)}`;
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Fake Stripe Checkout</title></head><body>
<main><h1>Pay ${esc(amount)}</h1><p>${esc(session.description)}</p>
${session.status === 'open' ? `<form method="post" action="/pay/${session.id}"><label for="card">Card number</label> <input id="card" name="card" value="4242 4242 4242 4242"> <button type="submit">Pay</button></form>
<p><a href="${esc(session.cancel_url)}">Cancel and go back</a></p>` : `<p>This checkout is ${session.status}.</p>`}</main></body></html>`);
      return;
    }
    if (req.method === 'POST') {
      await readBody(req);
      if (session.status === 'open') {
        session.status = 'complete';
        session.payment_status = 'paid';
        session.payment_intent = `pi_test_${randomBytes(12).toString('hex')}`;
        await this.deliver(this.event('checkout.session.completed', session));
      }
      res.writeHead(303, { location: session.success_url });
      res.end();
      return;
    }
    res.writeHead(405).end();
  }

  /** A Stripe event around a copy of `session` (with `overrides` on the session). */
  event(type: string, session: FakeSession, overrides: Partial<FakeSession> = {}, id = `evt_${randomBytes(12).toString('hex')}`): string {
    return JSON.stringify({ id, object: 'event', api_version: '2025-01-01', created: Math.floor(Date.now() / 1000), livemode: false, pending_webhooks: 1, request: { id: null, idempotency_key: null }, type, data: { object: { ...session, ...overrides } } });
  }

  /** The Stripe-Signature header for `payload`, signed at `timestamp` (seconds; default now). */
  sign(payload: string, opts: { timestamp?: number; secret?: string } = {}): string {
    return this.signer.webhooks.generateTestHeaderString({ payload, secret: opts.secret ?? this.webhookSecret, timestamp: opts.timestamp });
  }

  /** POST `payload` to Atrium's webhook, signed (or with the header given). */
  async deliver(payload: string, header = this.sign(payload)): Promise<{ status: number; body: string }> {
    const res = await fetch(this.webhookUrl, { method: 'POST', body: payload, headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': header, 'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)' } });
    const body = await res.text();
    this.deliveries.push({ type: (JSON.parse(payload) as { type: string }).type, status: res.status });
    return { status: res.status, body };
  }
}
