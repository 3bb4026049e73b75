// Password hashing with argon2id (SECURITY.md section 3: m=64 MiB, t=3, p=1 by default).
// Unknown accounts are checked against a dummy hash so a login takes as long either way.
import { hash, verify } from '@node-rs/argon2';
import type { AtriumConfig } from '../config/schema.ts';

const ARGON2ID = 2; // @node-rs/argon2's Algorithm.Argon2id (a const enum, not importable at runtime)
/** Longest password accepted; anything longer is refused before hashing (no 1 MiB hashes). */
export const MAX_PASSWORD_BYTES = 1024;
export const MIN_PASSWORD_LENGTH = 12;

export class PasswordHasher {
  private dummy: Promise<string> | undefined;
  constructor(private readonly cfg: AtriumConfig['auth']) {}

  private get options() {
    return { algorithm: ARGON2ID, memoryCost: this.cfg.argon2MemoryKiB, timeCost: this.cfg.argon2Iterations, parallelism: 1 };
  }

  hash(password: string): Promise<string> {
    return hash(password, this.options);
  }

  /** Verify; with no stored hash, burn the same time on a dummy and answer false. */
  async verify(stored: string | null | undefined, password: string): Promise<boolean> {
    if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) return false;
    if (!stored) {
      this.dummy ??= this.hash('atrium-dummy-password-for-timing');
      await verify(await this.dummy, password).catch(() => false);
      return false;
    }
    try {
      return await verify(stored, password);
    } catch {
      return false;
    }
  }

  /** True when a stored hash was made with weaker parameters than configured now. */
  needsRehash(stored: string): boolean {
    const m = /^\$argon2id\$v=\d+\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(stored);
    if (!m) return true;
    return Number(m[1]) < this.cfg.argon2MemoryKiB || Number(m[2]) < this.cfg.argon2Iterations;
  }
}

/** Returns an error message for a password that is unacceptable, or null. */
export function passwordProblem(password: string, context: string[] = []): string | null {
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) return `Use at most ${MAX_PASSWORD_BYTES} bytes`;
  if ([...password].length < MIN_PASSWORD_LENGTH) return `Use at least ${MIN_PASSWORD_LENGTH} characters`;
  const lower = password.toLowerCase();
  // Context words: each word of the name, email and firm name ("Harbor & Vale" -> harbor, vale).
  const words = context.flatMap((c) => c.toLowerCase().split(/[^\p{L}\p{N}]+/u)).filter((w) => w.length >= 4);
  for (const word of words) {
    if (lower.includes(word)) return 'Do not build the password from your name, email or the firm name';
  }
  return null;
}
