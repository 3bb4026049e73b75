// The master-key ring (KEKs) that wraps every blob key (SECURITY.md control 40). Each key has an
// id; the first one wraps new blob keys, the others only unwrap until `atrium keys:rotate` has
// re-wrapped everything under the first. No master key is ever stored in the database.
//
// Source: `storage.keys` (ATRIUM_STORAGE_KEYS, "id:key,id:key", first = current) or, when that is
// empty, `<dataDir>/storage.keys` (one "id:key" per line, first = current), created with mode
// 0600 on first use, like the MFA key in core/identity/mfa.ts, whose key parser it shares.
// The file is re-read when it changes, so a running server picks up a rotation at once.
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { AtriumConfig } from '../config/schema.ts';
import { AtriumError } from '../errors.ts';
import { parseKey } from '../identity/mfa.ts';

export interface MasterKey {
  id: string;
  key: Buffer;
}

const ID = /^[A-Za-z0-9_-]{1,40}$/;

export function keyRingFile(config: Pick<AtriumConfig, 'dataDir'>): string {
  return join(config.dataDir, 'storage.keys');
}

function parseRing(text: string, where: string): MasterKey[] {
  const entries = text
    .split(/[\n,]/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const ring: MasterKey[] = [];
  for (const e of entries) {
    const at = e.indexOf(':');
    const id = at > 0 ? e.slice(0, at) : '';
    if (!ID.test(id)) throw new AtriumError('ATR_STORAGE_KEY', `${where}: each entry is "<id>:<32-byte key>"`);
    let key: Buffer;
    try {
      key = parseKey(e.slice(at + 1));
    } catch {
      throw new AtriumError('ATR_STORAGE_KEY', `${where}: key "${id}" must be 32 bytes as base64 or 64 hex digits`);
    }
    if (ring.some((k) => k.id === id)) throw new AtriumError('ATR_STORAGE_KEY', `${where}: key id "${id}" appears twice`);
    ring.push({ id, key });
  }
  if (!ring.length) throw new AtriumError('ATR_STORAGE_KEY', `${where}: no key`);
  return ring;
}

function format(ring: MasterKey[]): string {
  return `# Atrium storage master keys. The first wraps new file keys. Keep a copy apart from backups.\n${ring.map((k) => `${k.id}:${k.key.toString('base64')}`).join('\n')}\n`;
}

export class KeyRing {
  private ring: MasterKey[] | undefined;
  private mtime = -1;

  constructor(private readonly config: Pick<AtriumConfig, 'dataDir' | 'storage'>) {}

  /** True when the keys come from the configuration (rotation then means editing the config). */
  get fromConfig(): boolean {
    return this.config.storage.keys !== '';
  }

  private load(): MasterKey[] {
    if (this.fromConfig) return (this.ring ??= parseRing(this.config.storage.keys, 'storage.keys'));
    const file = keyRingFile(this.config);
    try {
      let st = statSync(file, { throwIfNoEntry: false });
      if (!st) {
        mkdirSync(this.config.dataDir, { recursive: true, mode: 0o700 });
        try {
          // `wx`: a second process racing us fails here and reads the winner's ring below.
          const fd = openSync(file, 'wx', 0o600);
          writeSync(fd, format([{ id: 'k1', key: randomBytes(32) }]));
          fsyncSync(fd);
          closeSync(fd);
          chmodSync(file, 0o600);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
        st = statSync(file);
      }
      if (!this.ring || st.mtimeMs !== this.mtime) {
        this.ring = parseRing(readFileSync(file, 'utf8'), file);
        this.mtime = st.mtimeMs;
      }
      return this.ring;
    } catch (err) {
      if (err instanceof AtriumError) throw err;
      throw new AtriumError('ATR_STORAGE_KEY', (err as Error).message, { cause: err });
    }
  }

  current(): MasterKey {
    return this.load()[0]!;
  }

  get(id: string): Buffer {
    const k = this.load().find((x) => x.id === id);
    if (!k) throw new AtriumError('ATR_STORAGE_KEY', `master key "${id}" is not in the key ring`);
    return k.key;
  }

  ids(): string[] {
    return this.load().map((k) => k.id);
  }

  /** File ring only: add a new random key in front (it becomes current) and return its id. */
  addKey(): string {
    const ring = this.load();
    const next = Math.max(0, ...ring.map((k) => (/^k(\d+)$/.exec(k.id) ? Number(/^k(\d+)$/.exec(k.id)![1]) : 0))) + 1;
    const id = `k${next}`;
    this.write([{ id, key: randomBytes(32) }, ...ring]);
    return id;
  }

  /** File ring only: drop keys by id (never the current one). */
  remove(ids: string[]): void {
    const drop = new Set(ids);
    if (drop.has(this.current().id)) throw new AtriumError('ATR_STORAGE_KEY', 'the current master key cannot be removed');
    this.write(this.load().filter((k) => !drop.has(k.id)));
  }

  private write(ring: MasterKey[]): void {
    if (this.fromConfig) throw new AtriumError('ATR_STORAGE_KEY', 'the keys come from storage.keys (ATRIUM_STORAGE_KEYS); edit the configuration instead');
    const file = keyRingFile(this.config);
    const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    const fd = openSync(temp, 'wx', 0o600);
    try {
      writeSync(fd, format(ring));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
    const dir = openSync(this.config.dataDir, 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
    this.ring = undefined;
  }
}
