// The one typed configuration object. Every key is declared here; an unknown key is an error.
import { z } from 'zod';

const pluginId = z.string().min(1);

export const configSchema = z.strictObject({
  env: z.enum(['development', 'test', 'production']),
  host: z.string().min(1),
  port: z.number().int().min(0).max(65535),
  baseUrl: z.url({ protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, '')),
  dataDir: z.string().min(1),
  database: z.strictObject({
    /** Empty: SQLite in `<dataDir>/<sqliteFile>`. `postgres://...`: PostgreSQL. */
    url: z.union([z.literal(''), z.string().regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or be empty for SQLite')]),
    sqliteFile: z.string().min(1),
    migrateOnStart: z.boolean(),
    poolMax: z.number().int().min(1).max(200),
    busyTimeoutMs: z.number().int().min(0),
    /** PostgreSQL schema to use (tests give each app its own). Empty: the server's default. */
    schema: z
      .union([z.literal(''), z.string().regex(/^[a-z_][a-z0-9_]*$/, 'must be a lowercase PostgreSQL identifier')])
      .optional()
      .transform((v) => v || undefined),
  }),
  plugins: z.strictObject({
    /** Plugin ids (built-ins from plugins/<id>/), npm package names, or ./relative folders. */
    enabled: z.array(pluginId),
    /** Settings per plugin id, validated by that plugin's own schema at boot. */
    settings: z.record(z.string(), z.unknown()),
  }),
  theme: z.string().regex(/^[a-z0-9][a-z0-9-]*$|^\.{0,2}\//, 'must be a theme folder name under themes/ or a path'),
  log: z.strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  }),
  session: z.strictObject({
    idleMinutes: z.number().int().min(1).max(24 * 60),
    absoluteHours: z.number().int().min(1).max(24 * 30),
  }),
  auth: z.strictObject({
    // Floors from SECURITY.md section 3: argon2id never below 19 MiB / t=2.
    argon2MemoryKiB: z.number().int().min(19456),
    argon2Iterations: z.number().int().min(2),
  }),
  /** Proxies whose X-Forwarded-For is believed: IPs or CIDRs. Empty: the socket address is the client. */
  trustProxy: z.array(z.string()),
  views: z.strictObject({
    /** Cache compiled templates. Turn off while editing a theme to see changes without a restart. */
    cache: z.boolean(),
  }),
  shutdownTimeoutMs: z.number().int().min(0),
});

export type AtriumConfig = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
