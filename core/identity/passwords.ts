// Password hashing with argon2id (SECURITY.md section 3: m=64 MiB, t=3, p=1 by default).
// Unknown accounts are checked against a dummy hash so a login takes as long either way.
import { availableParallelism } from 'node:os';
import { hash, verify } from '@node-rs/argon2';
import type { AtriumConfig } from '../config/schema.ts';

const ARGON2ID = 2; // @node-rs/argon2's Algorithm.Argon2id (a const enum, not importable at runtime)
/** Longest password accepted; anything longer is refused before hashing (no 1 MiB hashes). */
export const MAX_PASSWORD_BYTES = 1024;
export const MIN_PASSWORD_LENGTH = 12;

/**
 * At most `limit` argon2 computations at once (each holds m = 64 MiB): 50 parallel sign-ins
 * queue here instead of taking 3 GiB (SECURITY.md control 17: hash concurrency <= cores).
 */
class Gate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  /** The most computations that ever ran at once (tests read it). */
  peak = 0;
  constructor(readonly limit: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    this.peak = Math.max(this.peak, this.running);
    try {
      return await fn();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}

export class PasswordHasher {
  private dummy: Promise<string> | undefined;
  readonly gate = new Gate(Math.max(1, availableParallelism()));
  constructor(private readonly cfg: AtriumConfig['auth']) {}

  private get options() {
    return { algorithm: ARGON2ID, memoryCost: this.cfg.argon2MemoryKiB, timeCost: this.cfg.argon2Iterations, parallelism: 1 };
  }

  hash(password: string): Promise<string> {
    return this.gate.run(() => hash(password, this.options));
  }

  /** Verify; with no stored hash, burn the same time on a dummy and answer false. */
  async verify(stored: string | null | undefined, password: string): Promise<boolean> {
    if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) return false;
    if (!stored) {
      this.dummy ??= this.hash('atrium-dummy-password-for-timing');
      const dummy = await this.dummy;
      await this.gate.run(() => verify(dummy, password)).catch(() => false);
      return false;
    }
    try {
      return await this.gate.run(() => verify(stored, password));
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

/**
 * Passwords of 12+ characters that top public breach lists (lower-cased, separators removed):
 * long enough for the length rule, and still the first guesses of any attacker.
 */
const COMMON = new Set([
  'password1234', 'password12345', 'password123456', 'passwordpassword', '123456789012', '1234567890123', '12345678901234',
  'qwertyuiopas', 'qwerty123456', 'qwertyuiop123', '1q2w3e4r5t6y', 'abcdefghijkl', 'abc123456789', 'iloveyou1234',
  'letmein12345', 'welcome12345', 'welcome123456', 'changeme1234', 'administrator', 'admin1234567', 'trustno1trustno1',
  'aaaaaaaaaaaa', '111111111111', '000000000000', 'football1234', 'baseball1234', 'superman1234', 'monkey123456',
  'dragon123456', 'sunshine1234', 'princess1234', 'passw0rd1234', 'p@ssword1234', 'p@ssw0rd1234',
]);

/** Returns an error message for a password that is unacceptable, or null. */
export function passwordProblem(password: string, context: string[] = []): string | null {
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) return `Use at most ${MAX_PASSWORD_BYTES} bytes`;
  if ([...password].length < MIN_PASSWORD_LENGTH) return `Use at least ${MIN_PASSWORD_LENGTH} characters`;
  const lower = password.toLowerCase();
  if (COMMON.has(lower.replace(/[\s_.-]+/g, '')) || /^(.)\1+$/.test(password)) return 'This password is on lists of common passwords; choose another';
  // Context words: each word of the name, email and firm name ("Harbor & Vale" -> harbor, vale).
  const words = context.flatMap((c) => c.toLowerCase().split(/[^\p{L}\p{N}]+/u)).filter((w) => w.length >= 4);
  for (const word of words) {
    if (lower.includes(word)) return 'Do not build the password from your name, email or the firm name';
  }
  return null;
}
