// Two-step sign-in with TOTP (RFC 6238: SHA-1, 6 digits, 30 s, ±1 step) and recovery codes
// (SECURITY.md controls 9-12). The 160-bit secret is stored only as AES-256-GCM ciphertext bound
// to its user (AAD), each step is accepted once (users.mfa_last_step, updated atomically), and
// recovery codes are argon2id-hashed and single use.
//
// The encryption key comes from `security.mfaKey` (ATRIUM_MFA_KEY) or, when that is empty, from
// `<dataDir>/mfa.key`, generated once with mode 0600. Lose the key and every enrolled person must
// have their MFA reset by an admin; keep a copy apart from database backups.
import { createCipheriv, createDecipheriv, randomBytes, randomInt } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';
import type { AtriumConfig } from '../config/schema.ts';
import type { Clock } from '../clock.ts';
import { parseJson, type Db, type Trx } from '../db/index.ts';
import { AtriumError } from '../errors.ts';
import { newId } from '../ids.ts';
import { getSetting } from '../settings.ts';
import type { PasswordHasher } from './passwords.ts';

export const RECOVERY_CODE_COUNT = 10;
const PERIOD = 30;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const FORMAT = 'v1';

/** Firm-wide security settings kept in the `settings` table under this key. */
export const SECURITY_SETTING = 'core.security';
export interface SecuritySettings {
  /** Owners, admins and staff must use two-step sign-in (enrolment is forced at next sign-in). */
  requireMfaStaff: boolean;
}

export function mfaKeyFile(config: Pick<AtriumConfig, 'dataDir'>): string {
  return join(config.dataDir, 'mfa.key');
}

/** Parse a configured key: 32 bytes as base64 / base64url or 64 hex digits. */
export function parseKey(text: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, t.includes('-') || t.includes('_') ? 'base64url' : 'base64');
  if (key.length !== 32) throw new AtriumError('ATR_MFA_KEY', 'the key must be 32 bytes');
  return key;
}

export class MfaService {
  private cachedKey: Buffer | undefined;

  constructor(
    private readonly config: AtriumConfig,
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly passwords: PasswordHasher,
  ) {}

  /** The key, from configuration or the data folder (created there once, 0600). */
  key(): Buffer {
    if (this.cachedKey) return this.cachedKey;
    try {
      if (this.config.security.mfaKey) {
        this.cachedKey = parseKey(this.config.security.mfaKey);
      } else {
        const file = mfaKeyFile(this.config);
        mkdirSync(this.config.dataDir, { recursive: true, mode: 0o700 });
        try {
          // `wx`: a second process racing us fails here and reads the winner's key below.
          writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
          chmodSync(file, 0o600);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
        this.cachedKey = parseKey(readFileSync(file, 'utf8'));
      }
    } catch (err) {
      if (err instanceof AtriumError) throw err;
      throw new AtriumError('ATR_MFA_KEY', (err as Error).message, { cause: err });
    }
    return this.cachedKey;
  }

  /** A new 160-bit secret, base32. */
  newSecret(): string {
    return new Secret({ size: 20 }).base32;
  }

  /** Encrypt a base32 secret for one purpose (`user:<id>` or `enrol:<session>`): `v1.iv.ct.tag`. */
  seal(secret: string, purpose: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key(), iv, { authTagLength: 16 });
    cipher.setAAD(Buffer.from(`atrium-mfa:${purpose}`));
    const ct = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return [FORMAT, iv.toString('base64url'), ct.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
  }

  /** Decrypt; anything wrong (format, key, tag, purpose) is ATR_MFA_SECRET and denies. */
  open(blob: string, purpose: string): string {
    try {
      const [format, ivText, ctText, tagText] = blob.split('.');
      if (format !== FORMAT || !ivText || !ctText || !tagText) throw new Error('unknown format');
      const tag = Buffer.from(tagText, 'base64url');
      // authTagLength pins the tag to 16 bytes: Node 20 otherwise accepts a 4-byte tag.
      if (tag.length !== 16) throw new Error('bad tag length');
      const decipher = createDecipheriv('aes-256-gcm', this.key(), Buffer.from(ivText, 'base64url'), { authTagLength: 16 });
      decipher.setAAD(Buffer.from(`atrium-mfa:${purpose}`));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(Buffer.from(ctText, 'base64url')), decipher.final()]).toString('utf8');
    } catch (err) {
      if (err instanceof AtriumError && err.code === 'ATR_MFA_KEY') throw err;
      throw new AtriumError('ATR_MFA_SECRET', (err as Error).message, { cause: err });
    }
  }

  private totp(secret: string, label = 'user', issuer = 'Atrium'): TOTP {
    return new TOTP({ issuer, label, secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: PERIOD });
  }

  /** The current 30 s step. */
  step(now = this.clock.now()): number {
    return Math.floor(now / 1000 / PERIOD);
  }

  /** The step (±1 around now) a code belongs to, or null. Constant-time comparison inside otpauth. */
  matchStep(secret: string, code: string): number | null {
    const token = code.replace(/\s+/g, '');
    if (!/^\d{6}$/.test(token)) return null;
    const now = this.clock.now();
    const delta = this.totp(secret).validate({ token, timestamp: now, window: 1 });
    return delta === null ? null : this.step(now) + delta;
  }

  /** The code for a time (tests and the enrolment page's self-check use it). */
  codeAt(secret: string, timestamp: number): string {
    return this.totp(secret).generate({ timestamp });
  }

  otpauthUri(secret: string, email: string, issuer: string): string {
    return this.totp(secret, email, issuer.replace(/:/g, ' ')).toString();
  }

  /** The enrolment QR code as an SVG data: URI (shown with <img>, so the CSP needs only img-src data:). */
  async qrDataUri(uri: string): Promise<string> {
    const svg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    return `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
  }

  /**
   * Check a TOTP code against a user's stored secret and spend its step. False for a wrong,
   * replayed or old code. Throws ATR_MFA_SECRET / ATR_MFA_KEY if the secret cannot be read:
   * callers treat that as a denial, never as a pass.
   */
  async verifyTotp(userId: string, code: string): Promise<boolean> {
    const row = (await this.db('users').where({ id: userId }).first('mfa_secret', 'mfa_enabled_at')) as { mfa_secret: string | null; mfa_enabled_at: unknown } | undefined;
    if (!row?.mfa_secret || row.mfa_enabled_at == null) return false;
    const step = this.matchStep(this.open(row.mfa_secret, `user:${userId}`), code);
    if (step === null) return false;
    // Spend the step: only a code from a later step than the last one used is accepted, and the
    // conditional update makes two concurrent uses of one code accept exactly one.
    const spent = await this.db('users')
      .where({ id: userId })
      .andWhere((q) => q.whereNull('mfa_last_step').orWhere('mfa_last_step', '<', step))
      .update({ mfa_last_step: step });
    return spent === 1;
  }

  /** Spend one recovery code. Returns how many are left, or null if the code is not valid. */
  async useRecoveryCode(userId: string, code: string): Promise<number | null> {
    const normal = normaliseRecoveryCode(code);
    if (!normal) return null;
    const rows = (await this.db('mfa_recovery_codes').where({ user_id: userId }).whereNull('used_at').select('id', 'code_hash')) as Array<{ id: string; code_hash: string }>;
    for (const r of rows) {
      if (await this.passwords.verify(r.code_hash, normal)) {
        const used = await this.db('mfa_recovery_codes').where({ id: r.id }).whereNull('used_at').update({ used_at: this.clock.now() });
        if (used !== 1) return null;
        return rows.length - 1;
      }
    }
    return null;
  }

  async remainingCodes(userId: string): Promise<number> {
    const row = (await this.db('mfa_recovery_codes').where({ user_id: userId }).whereNull('used_at').count({ n: '*' }).first()) as { n: number | string };
    return Number(row.n);
  }

  /** Turn MFA on in `trx` with a confirmed secret; returns the recovery codes (shown once). */
  async enable(trx: Trx, userId: string, secret: string, step: number): Promise<string[]> {
    await trx('users')
      .where({ id: userId })
      .update({ mfa_secret: this.seal(secret, `user:${userId}`), mfa_enabled_at: this.clock.now(), mfa_last_step: step });
    return this.replaceCodes(trx, userId);
  }

  /** New recovery codes; every earlier one stops working. */
  async replaceCodes(trx: Trx, userId: string): Promise<string[]> {
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, () => newRecoveryCode());
    const hashes = await Promise.all(codes.map((c) => this.passwords.hash(c)));
    await trx('mfa_recovery_codes').where({ user_id: userId }).delete();
    const now = this.clock.now();
    for (const code_hash of hashes) await trx('mfa_recovery_codes').insert({ id: newId(), user_id: userId, code_hash, created_at: now, used_at: null });
    return codes.map((c) => `${c.slice(0, 5)}-${c.slice(5)}`);
  }

  /** Turn MFA off (by the person, or an admin reset) in `trx`. */
  async disable(trx: Trx, userId: string): Promise<void> {
    await trx('users').where({ id: userId }).update({ mfa_secret: null, mfa_enabled_at: null, mfa_last_step: null });
    await trx('mfa_recovery_codes').where({ user_id: userId }).delete();
  }

  async isEnabled(userId: string, db: Db | Trx = this.db): Promise<boolean> {
    const row = (await db('users').where({ id: userId }).first('mfa_enabled_at')) as { mfa_enabled_at: unknown } | undefined;
    return row?.mfa_enabled_at != null;
  }

  async settings(db: Db | Trx = this.db): Promise<SecuritySettings> {
    const stored = await getSetting<Partial<SecuritySettings>>(db, SECURITY_SETTING);
    return { requireMfaStaff: stored?.requireMfaStaff === true };
  }

  /** Must this person use MFA? Staff when the firm requires it; clients when any workspace they are a client of does. */
  async isRequired(user: { id: string; firmRole: string | null }, db: Db | Trx = this.db): Promise<boolean> {
    if (user.firmRole && (await this.settings(db)).requireMfaStaff) return true;
    const rows = (await db('memberships as m')
      .join('workspaces as w', 'w.id', 'm.workspace_id')
      .where('m.user_id', user.id)
      .andWhere('w.archived', false)
      // A workspace's policy is for its clients; firm staff follow the staff policy.
      .andWhereNot('m.role', 'staff')
      .select('w.settings')) as Array<{ settings: unknown }>;
    return rows.some((r) => workspaceRequiresMfa(r.settings));
  }
}

export function workspaceRequiresMfa(settings: unknown): boolean {
  return parseJson<Record<string, unknown>>(settings, {}).requireMfa === true;
}

function newRecoveryCode(): string {
  let s = '';
  for (let i = 0; i < 10; i++) s += BASE32[randomInt(32)];
  return s;
}

/** `abcde-fghij`, `ABCDE FGHIJ` -> `ABCDEFGHIJ`; null if it cannot be a recovery code. */
export function normaliseRecoveryCode(code: string): string | null {
  const c = code.toUpperCase().replace(/[\s-]+/g, '');
  return /^[A-Z2-7]{10}$/.test(c) ? c : null;
}
