// The one typed configuration object. Every key is declared here; an unknown key is an error.
import { z } from 'zod';

const pluginId = z.string().min(1);

export const configSchema = z.strictObject({
  env: z.enum(['development', 'test', 'production']),
  host: z.string().min(1),
  port: z.number().int().min(0).max(65535),
  /**
   * The public address people use (links in mail, the Secure cookie, HSTS). Empty: follow the
   * server's own host and port (`http://localhost:<port>`), see `resolveBaseUrl` in load.ts.
   */
  baseUrl: z.union([z.literal(''), z.url({ protocol: /^https?$/ })]).transform((u) => u.replace(/\/+$/, '')),
  dataDir: z.string().min(1),
  database: z.strictObject({
    /** Empty: SQLite in `<dataDir>/<sqliteFile>`. `postgres://...`: PostgreSQL. */
    url: z.union([z.literal(''), z.string().regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or be empty for SQLite')]),
    sqliteFile: z.string().min(1),
    migrateOnStart: z.boolean(),
    poolMax: z.number().int().min(1).max(200),
    busyTimeoutMs: z.number().int().min(0),
    /**
     * SQLite: read-only connections for reads outside transactions (0: every query on the one
     * writing connection). WAL lets them read while the writer writes.
     */
    sqliteReaders: z.number().int().min(0).max(16),
    /**
     * The kernel's read cache (core/cache.ts): sessions, workspace lists and home-card data kept
     * in memory and dropped by the writes that change them. Off: every page reads the database.
     */
    cache: z.boolean(),
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
  security: z.strictObject({
    /**
     * Key that encrypts TOTP secrets at rest (AES-256-GCM): 32 bytes as base64 or 64 hex digits.
     * Empty: generated once into `<dataDir>/mfa.key` (mode 0600). Keep a copy apart from backups.
     */
    mfaKey: z.union([z.literal(''), z.string().regex(/^(?:[A-Za-z0-9+/]{43}=|[A-Za-z0-9_-]{43}|[0-9a-fA-F]{64})$/, 'must be 32 bytes as base64 or 64 hex digits')]),
  }),
  storage: z.strictObject({
    /** Where encrypted blobs live: `local` (a folder) or `s3` (S3-compatible object storage, shared by several processes). */
    driver: z.enum(['local', 's3']),
    /** Local folder. Empty: `<dataDir>/blobs`. */
    dir: z.string(),
    /**
     * Master keys (KEKs) that wrap each file's key: "id:key,id:key", each key 32 bytes as base64 or
     * 64 hex digits; the first wraps new files. Empty: `<dataDir>/storage.keys`, generated (0600).
     */
    keys: z.string(),
    /** Blobs with no row, and unfinished writes, are removed once they are this old. */
    orphanGraceMinutes: z.number().int().min(0),
    s3: z.strictObject({
      endpoint: z.string(),
      region: z.string(),
      bucket: z.string(),
      /** Prefix for object names, e.g. `atrium/`. */
      prefix: z.string(),
      accessKeyId: z.string(),
      secretAccessKey: z.string(),
      forcePathStyle: z.boolean(),
    }),
  }).refine((s) => s.driver !== 's3' || s.s3.bucket.length >= 3, { message: 'is required (at least 3 characters) when storage.driver is s3', path: ['s3', 'bucket'] }),
  mail: z.strictObject({
    /** `file`: each message is written to `<dataDir>/mail/<message-id>.eml` (development). `smtp`: sent with nodemailer. */
    transport: z.enum(['file', 'smtp']),
    /** The sender address; the display name is the firm name. */
    from: z.email(),
    smtp: z.strictObject({
      host: z.string(),
      port: z.number().int().min(1).max(65535),
      /** Implicit TLS (port 465). */
      secure: z.boolean(),
      /** Refuse to send unless STARTTLS succeeds. */
      requireTLS: z.boolean(),
      /** Never try STARTTLS (only for a relay on the same host or in tests). */
      ignoreTLS: z.boolean(),
      user: z.string(),
      pass: z.string(),
    }),
    /** How often the outbox worker looks for due mail, in seconds (it is also woken after each commit that queues mail). */
    pollSeconds: z.number().int().min(1).max(3600),
    /** Attempts before a message is marked failed; retries back off exponentially (30 s doubling, at most 6 h). */
    maxAttempts: z.number().int().min(1).max(50),
  }).refine((m) => m.transport !== 'smtp' || m.smtp.host !== '', { message: 'is required when mail.transport is smtp', path: ['smtp', 'host'] }),
  /**
   * Reply by email (core/inbound.ts): an SMTP listener for `reply+<token>@<domain>`, behind the
   * firm's MX or a relay. Off by default; with `enabled` the reply domain is required.
   */
  inbound: z
    .strictObject({
      enabled: z.boolean().default(false),
      /**
       * Run the SMTP listener in this process. Every process issues reply addresses when enabled;
       * with several processes on one host, let one listen (false on the others).
       */
      listen: z.boolean().default(true),
      /** Interface the listener binds: keep it on loopback or a private address the relay reaches. */
      host: z.string().min(1).default('127.0.0.1'),
      /** TCP port (0 picks a free one; the bound port is `inbound.listening.port`). */
      port: z.number().int().min(0).max(65535).default(2525),
      /** The reply domain whose MX (or relay) delivers here, e.g. `reply.harbor.example`. */
      domain: z.union([z.literal(''), z.string().regex(/^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/, 'must be a domain name such as reply.example.com')]).default('').transform((d) => d.toLowerCase()),
      /** Largest message accepted, attachments included (bytes). */
      maxBytes: z.number().int().min(1024).max(100 * 1024 * 1024).default(10 * 1024 * 1024),
      /** How long a reply address works after it was mailed. */
      tokenTtlDays: z.number().int().min(1).max(365).default(30),
    })
    .refine((i) => !i.enabled || i.domain !== '', { message: 'is required when inbound.enabled is true', path: ['domain'] })
    .default({ enabled: false, listen: true, host: '127.0.0.1', port: 2525, domain: '', maxBytes: 10 * 1024 * 1024, tokenTtlDays: 30 }),
  /** Proxies whose X-Forwarded-For is believed: IPs or CIDRs. Empty: the socket address is the client. */
  trustProxy: z.array(z.string()),
  views: z.strictObject({
    /** Cache compiled templates. Turn off while editing a theme to see changes without a restart. */
    cache: z.boolean(),
    /**
     * How long a home page waits for its cards' data. A card still loading then is sent as a
     * placeholder that fetches itself after the page is shown (core/http/routes/home.ts).
     */
    widgetBudgetMs: z.number().int().min(10).max(60_000),
  }),
  shutdownTimeoutMs: z.number().int().min(0),
  /** Optional (absent from default.json): where the signed audit checkpoints go (core/audit-checkpoints.ts). */
  audit: z
    .strictObject({
      /**
       * The append-only checkpoint file (JSON lines), relative to dataDir or absolute: put it on a
       * disk that is shipped off the machine. Empty: `<dataDir>/audit-checkpoints.jsonl`. The
       * public key `audit.pub` is written beside it; the signing key is `<dataDir>/audit.key`.
       */
      checkpointFile: z.string(),
    })
    .optional(),
});

export type AtriumConfig = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
