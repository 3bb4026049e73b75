// Cookie parsing and the session cookie's attributes. Over TLS the cookie is `__Host-` prefixed
// (Secure, Path=/, no Domain); it is always HttpOnly and SameSite=Lax.
import type { Request, Response } from 'express';

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header) return out;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    const k = part.slice(0, i).trim();
    if (!k || k in out) continue;
    try {
      out[k] = decodeURIComponent(part.slice(i + 1).trim());
    } catch {
      // a malformed value is ignored, never trusted
    }
  }
  return out;
}

export function sessionCookieName(secure: boolean): string {
  return secure ? '__Host-atrium_sid' : 'atrium_sid';
}

export function setSessionCookie(res: Response, secure: boolean, token: string, maxAgeMs: number): void {
  const attrs = [`${sessionCookieName(secure)}=${token}`, 'Path=/', 'HttpOnly', 'SameSite=Lax', `Max-Age=${Math.floor(maxAgeMs / 1000)}`];
  if (secure) attrs.push('Secure');
  res.append('Set-Cookie', attrs.join('; '));
}

export function clearSessionCookie(res: Response, secure: boolean): void {
  const attrs = [`${sessionCookieName(secure)}=`, 'Path=/', 'HttpOnly', 'SameSite=Lax', 'Max-Age=0'];
  if (secure) attrs.push('Secure');
  res.append('Set-Cookie', attrs.join('; '));
}

export function readSessionCookie(req: Request, secure: boolean): string | undefined {
  return parseCookies(req.headers.cookie)[sessionCookieName(secure)];
}
