// Shared set-up for the signatures tests: an app with `files` and `signatures`, one workspace
// with a staff member and a client of each role (signed in), PDFs and PNGs made on the spot,
// the mail the file transport wrote, and text extraction with pdfjs.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync, crc32 } from 'node:zlib';
import { simpleParser } from 'mailparser';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { transaction } from '../../../core/db/index.ts';
import { addMember, createUser, createWorkspace } from '../../../core/identity/users.ts';
import type { WorkspaceRole } from '../../../core/plugins/define.ts';
import { setupOwner, startApp, type StartOptions, type TestApp } from '../../helpers/app.ts';
import type { HttpClient, Res } from '../../helpers/http.ts';
import { upload } from '../files/helpers.ts';

export const ROLES = ['staff', 'client_admin', 'client_member', 'client_viewer'] as const;
export type Who = (typeof ROLES)[number];

export interface SigWorld {
  app: TestApp;
  ws: { id: string; slug: string };
  users: Record<Who, string>;
  emails: Record<Who, string>;
  as: Record<Who, HttpClient>;
  owner: HttpClient;
  base: string;
}

export const sha = (b: Buffer | Uint8Array) => createHash('sha256').update(b).digest('hex');

export async function sigWorld(opts: StartOptions & { slug?: string } = {}): Promise<SigWorld> {
  const app = await startApp({ plugins: ['files', 'signatures'], ...opts, overrides: { mail: { pollSeconds: 1 }, ...(opts.overrides ?? {}) } });
  const { client: owner } = await setupOwner(app);
  const k = app.kernel;
  const password = 'signatures-test-password-123';
  const hash = await k.passwords.hash(password);
  const slug = opts.slug ?? 'acme';
  const users = {} as Record<Who, string>;
  const emails = {} as Record<Who, string>;
  const names: Record<Who, string> = { staff: 'Sam Staff', client_admin: 'Ada Admin', client_member: 'Mo Member', client_viewer: 'Vi Viewer' };
  const ws = await transaction(k.db, async (trx) => {
    const w = await createWorkspace(k, trx, { name: 'Acme Ltd', slug }, { actorId: null, via: 'cli' });
    for (const role of ROLES) {
      const email = `${role.replace('_', '.')}@${slug}.example`;
      const u = await createUser(k, trx, { email, name: names[role], passwordHash: hash, firmRole: role === 'staff' ? 'staff' : null }, { actorId: null, via: 'cli' });
      await addMember(k, trx, { workspaceId: w.id, userId: u.id, role: role as WorkspaceRole }, { actorId: null, via: 'cli' });
      users[role] = u.id;
      emails[role] = email;
    }
    return w;
  });
  const as = {} as Record<Who, HttpClient>;
  for (const role of ROLES) {
    const c = app.client();
    const r = await c.login(emails[role], password);
    if (r.status !== 303) throw new Error(`login ${role}: ${r.status}`);
    await c.get(`/w/${slug}/`);
    as[role] = c;
  }
  await owner.get('/');
  return { app, ws: { id: ws.id, slug }, users, emails, as, owner, base: `/w/${slug}/signatures` };
}

/** A PDF with `pages` Letter pages, each saying which page it is. */
export async function makePdf(pages = 2, title = 'Engagement letter'): Promise<Buffer> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  for (let i = 1; i <= pages; i++) {
    const p = doc.addPage([612, 792]);
    p.drawText(`${title} - page ${i} of ${pages}`, { x: 72, y: 700, size: 14, font });
  }
  return Buffer.from(await doc.save());
}

/** A real PNG (RGBA, `w` x `h`) with a dark diagonal stroke: what the drawing pad sends. */
export function makePng(w = 300, h = 100): Buffer {
  const row = w * 4 + 1;
  const raw = Buffer.alloc(row * h);
  for (let y = 0; y < h; y++) {
    raw[y * row] = 0;
    for (let x = 0; x < w; x++) {
      const on = Math.abs(y - (x * h) / w) < 3;
      const o = y * row + 1 + x * 4;
      raw[o] = 16;
      raw[o + 1] = 32;
      raw[o + 2] = 79;
      raw[o + 3] = on ? 255 : 0;
    }
  }
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td) >>> 0);
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 6;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

export async function uploadPdf(world: SigWorld, name: string, bytes: Buffer): Promise<string> {
  const res = await upload(world.as.staff, `/w/${world.ws.slug}/files/upload`, [{ name, data: bytes }]);
  if (res.status !== 200) throw new Error(`upload ${name}: ${res.status} ${res.text.slice(0, 300)}`);
  const r = await world.app.kernel.db('files_files').where({ workspace_id: world.ws.id, name }).first('id');
  return String(r.id);
}

/** The hidden `version` value of the send form for a file. */
export async function prepare(world: SigWorld, fileId: string): Promise<{ res: Res; version: string }> {
  const res = await world.as.staff.get(`${world.base}/new?file=${fileId}`);
  const m = /name="version" value="([^"]+)"/.exec(res.text);
  return { res, version: m?.[1] ?? '' };
}

/** Send `fileId` to signers (user ids) in order; signer i signs on page `pages[i]`. */
export async function send(world: SigWorld, fileId: string, signers: Array<{ userId?: string; name?: string; email?: string; page: number; position?: string }>, title = 'Engagement letter'): Promise<{ res: Res; envelopeId: string }> {
  const { version } = await prepare(world, fileId);
  const fields: Record<string, string> = { title, message: 'Please sign by Friday.', version };
  signers.forEach((s, i) => {
    const n = i + 1;
    fields[`s${n}_who`] = s.userId ? `user:${s.userId}` : 'other';
    if (!s.userId) {
      fields[`s${n}_name`] = s.name ?? '';
      fields[`s${n}_email`] = s.email ?? '';
    }
    fields[`s${n}_page`] = String(s.page);
    fields[`s${n}_position`] = s.position ?? (n % 2 ? 'bottom-left' : 'bottom-right');
  });
  const res = await world.as.staff.postForm(`${world.base}/new?file=${fileId}`, fields);
  const envelopeId = res.location ? res.location.split('/e/')[1] ?? '' : '';
  return { res, envelopeId };
}

export interface Mail {
  to: string;
  subject: string;
  text: string;
}

/** Every mail the file transport has written so far. */
export async function mails(world: SigWorld): Promise<Mail[]> {
  const dir = join(world.app.db.dataDir, 'mail');
  if (!existsSync(dir)) return [];
  const out: Mail[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.eml'))) {
    const m = await simpleParser(readFileSync(join(dir, f)));
    const to = (Array.isArray(m.to) ? m.to[0] : m.to)?.value[0]?.address ?? '';
    out.push({ to, subject: m.subject ?? '', text: m.text ?? '' });
  }
  return out;
}

const LINK = /http:\/\/127\.0\.0\.1:3000(\/l\/signatures\/([A-Za-z0-9_-]{43}))/g;

/** Wait for the `n`th signing link mailed to `email` (1-based); returns its path and raw token. */
export async function signingLink(world: SigWorld, email: string, n = 1): Promise<{ path: string; token: string }> {
  for (let i = 0; i < 150; i++) {
    const found = (await mails(world)).filter((m) => m.to === email).flatMap((m) => [...m.text.matchAll(LINK)].map((x) => ({ path: x[1]!, token: x[2]! })));
    const uniq = [...new Map(found.map((f) => [f.token, f])).values()];
    // Mail files are named by Message-ID (time-ordered ids), so they are read oldest first.
    if (uniq.length >= n) return uniq[n - 1]!;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no signing link #${n} mailed to ${email}`);
}

/** Every raw signing token mailed so far (and their SHA-256 hashes, as the links table keeps them). */
export async function allTokens(world: SigWorld): Promise<string[]> {
  const tokens = new Set<string>();
  for (const m of await mails(world)) for (const x of m.text.matchAll(LINK)) tokens.add(x[2]!);
  return [...tokens];
}

export async function pdfText(bytes: Buffer): Promise<{ pages: number; text: string[]; images: boolean[] }> {
  const pdfjs = await import('pdfjs-dist/legacy/build/pdf.mjs');
  const doc = await pdfjs.getDocument({ data: new Uint8Array(bytes), useSystemFonts: false, isEvalSupported: false, disableFontFace: true, verbosity: 0 }).promise;
  const text: string[] = [];
  const images: boolean[] = [];
  for (let i = 1; i <= doc.numPages; i++) {
    const page = await doc.getPage(i);
    const content = await page.getTextContent();
    text.push(content.items.map((it) => ('str' in it ? it.str : '')).join(' '));
    const ops = await page.getOperatorList();
    images.push(ops.fnArray.some((f) => f === pdfjs.OPS.paintImageXObject || f === pdfjs.OPS.paintInlineImageXObject));
  }
  const pages = doc.numPages;
  await doc.destroy();
  return { pages, text, images };
}
