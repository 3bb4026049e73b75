// Firm settings in the `settings` table (`<owner>.<key>` -> JSON), and branding built on them.
// Branding is read on every page, so it is cached in process and refreshed after a change
// (immediately here, within BRAND_TTL_MS on other processes).
import { z } from 'zod';
import type { Clock } from './clock.ts';
import { parseJson, type Db, type Trx } from './db/index.ts';
import { singleLine } from './text.ts';
import { DEFAULT_TIME_ZONE, isTimeZone } from './time.ts';

export async function getSetting<T>(db: Db | Trx, key: string): Promise<T | undefined> {
  const row = (await db('settings').where({ key }).first('value')) as { value: string } | undefined;
  return row ? parseJson<T | undefined>(row.value, undefined) : undefined;
}

export async function setSetting(trx: Trx, key: string, value: unknown, now: number): Promise<void> {
  await trx('settings')
    .insert({ key, value: JSON.stringify(value), updated_at: now })
    .onConflict('key')
    .merge(['value', 'updated_at']);
}

// ---- branding

const hex = z.string().trim().regex(/^#[0-9a-fA-F]{6}$/, 'Use a colour like #1f4e79').transform((s) => s.toLowerCase());

/** WCAG relative luminance and contrast ratio, to keep brand colours readable (AA, 4.5:1). */
export function contrastWithWhite(color: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = Number.parseInt(color.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  const l = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  return 1.05 / (l + 0.05);
}

const readableHex = hex.superRefine((c, ctx) => {
  const ratio = contrastWithWhite(c);
  if (ratio < 4.5) ctx.addIssue({ code: 'custom', message: `Too light to read against white (contrast ${ratio.toFixed(1)}:1, needs 4.5:1)` });
});

export const brandingInput = z.strictObject({
  firmName: singleLine({ max: 100, min: 1, required: 'Enter the firm name' }),
  primary: readableHex,
  accent: readableHex,
  /** The firm's time zone: what everyone sees until they choose their own on their account. */
  timeZone: z.string().refine(isTimeZone, 'Choose a time zone from the list').optional(), // not free text: a time zone name, one of Intl's list (isTimeZone)
});

export interface Branding {
  firmName: string;
  primary: string;
  accent: string;
  /** The firm's time zone (IANA), the default for everyone's pages. */
  timeZone: string;
  /** Bumped on every change; used to bust the cache of /brand.css and the logo. */
  version: number;
  logo: { mime: string; size: number } | null;
}

export const DEFAULT_BRANDING: Branding = { firmName: 'Atrium', primary: '#1f4e79', accent: '#7a3e9d', timeZone: DEFAULT_TIME_ZONE, version: 1, logo: null };

const BRAND_TTL_MS = 5000;

export class BrandingService {
  private cached: { value: Branding; at: number } | undefined;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  /**
   * The current branding. Inside a transaction pass it as `via`: on SQLite the pool has one
   * connection, so a read through the plain handle would wait for the transaction forever.
   */
  async get(via?: Db | Trx): Promise<Branding> {
    const now = this.clock.now();
    if (this.cached && now - this.cached.at < BRAND_TTL_MS) return this.cached.value;
    const stored = await getSetting<Partial<Branding>>(via ?? this.db, 'branding.main');
    const value = { ...DEFAULT_BRANDING, ...(stored ?? {}) };
    this.cached = { value, at: now };
    return value;
  }

  /** The logo's bytes; inside a transaction pass it as `via` (see `get`). */
  async logo(via?: Db | Trx): Promise<{ mime: string; data: Buffer } | null> {
    const stored = await getSetting<{ mime: string; data: string }>(via ?? this.db, 'branding.logo');
    return stored ? { mime: stored.mime, data: Buffer.from(stored.data, 'base64') } : null;
  }

  /** Save branding in `trx`; the caller audits in the same transaction. */
  async save(trx: Trx, input: z.infer<typeof brandingInput>, logo?: { mime: string; data: Buffer } | null): Promise<Branding> {
    const current = await getSetting<Partial<Branding>>(trx, 'branding.main');
    const now = this.clock.now();
    const next: Branding = {
      ...DEFAULT_BRANDING,
      ...(current ?? {}),
      ...input,
      version: (current?.version ?? DEFAULT_BRANDING.version) + 1,
    };
    if (logo) {
      await setSetting(trx, 'branding.logo', { mime: logo.mime, data: logo.data.toString('base64') }, now);
      next.logo = { mime: logo.mime, size: logo.data.length };
    } else if (logo === null) {
      await trx('settings').where({ key: 'branding.logo' }).delete();
      next.logo = null;
    }
    await setSetting(trx, 'branding.main', next, now);
    return next;
  }

  invalidate(): void {
    this.cached = undefined;
  }

  /** The only CSS the kernel writes: custom properties that themes read. */
  static css(b: Branding): string {
    return `:root {\n  --brand-primary: ${b.primary};\n  --brand-accent: ${b.accent};\n}\n`;
  }
}

/** Sniff the image types we accept for a logo (magic bytes, not the file name or declared type). */
export function sniffLogo(data: Buffer): string | null {
  if (data.length >= 8 && data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (data.length >= 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return 'image/jpeg';
  if (data.length >= 12 && data.subarray(0, 4).toString('latin1') === 'RIFF' && data.subarray(8, 12).toString('latin1') === 'WEBP') return 'image/webp';
  return null;
}
