// A tiny HTTP client for tests: a cookie jar, no automatic redirects, and CSRF handling
// (the token is read from the last page's <meta name="csrf-token"> or fetched from /login).
export interface Res {
  status: number;
  headers: Headers;
  text: string;
  location: string | null;
}

export class HttpClient {
  readonly cookies = new Map<string, string>();
  csrf: string | undefined;

  constructor(readonly base: string) {}

  private cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async request(method: string, path: string, opts: { body?: string | FormData | Buffer; headers?: Record<string, string> } = {}): Promise<Res> {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (this.cookies.size) headers.cookie = this.cookieHeader();
    const res = await fetch(this.base + path, { method, headers, body: opts.body as never, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      const k = pair!.slice(0, i);
      const v = pair!.slice(i + 1);
      if (/Max-Age=0/i.test(c) || v === '') this.cookies.delete(k);
      else this.cookies.set(k, v);
    }
    const text = await res.text();
    const m = /<meta name="csrf-token" content="([^"]+)"/.exec(text) ?? /name="_csrf" value="([^"]+)"/.exec(text);
    if (m) this.csrf = m[1];
    return { status: res.status, headers: res.headers, text, location: res.headers.get('location') };
  }

  get(path: string, headers?: Record<string, string>): Promise<Res> {
    return this.request('GET', path, { headers });
  }

  /** Make sure we hold a CSRF token for the current session. */
  async ensureCsrf(): Promise<string> {
    if (!this.csrf) {
      const res = await this.get('/login');
      if (res.location === '/setup') await this.get('/setup');
    }
    if (!this.csrf) throw new Error('no csrf token found');
    return this.csrf;
  }

  /** POST a form; an array value is sent as repeated fields (checkbox groups). */
  async postForm(path: string, fields: Record<string, string | string[]>, opts: { csrf?: string | false; headers?: Record<string, string> } = {}): Promise<Res> {
    const token = opts.csrf === false ? undefined : (opts.csrf ?? (await this.ensureCsrf()));
    const params = new URLSearchParams(token ? { _csrf: token } : {});
    for (const [k, v] of Object.entries(fields)) for (const one of ([] as string[]).concat(v)) params.append(k, one);
    const body = params.toString();
    return this.request('POST', path, { body, headers: { 'content-type': 'application/x-www-form-urlencoded', ...(opts.headers ?? {}) } });
  }

  async login(email: string, password: string): Promise<Res> {
    this.csrf = undefined;
    await this.get('/login');
    const res = await this.postForm('/login', { email, password });
    this.csrf = undefined; // rotated at login; the next page carries the new one
    return res;
  }

  sessionCookie(): string | undefined {
    return this.cookies.get('atrium_sid');
  }
}
