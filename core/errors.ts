// Every error the kernel raises on purpose carries a stable code from this table.
// The log sees the code; a person sees the sentence.

export const ErrorCodes = {
  ATR_CONFIG_INVALID: 'The configuration is invalid',
  ATR_CONFIG_UNKNOWN_ENV: 'An ATRIUM_* environment variable is not a known setting',
  ATR_CONFIG_FILE: 'A configuration file could not be read',
  ATR_CONTAINER_DUPLICATE_TOKEN: 'A service token was registered twice',
  ATR_CONTAINER_UNKNOWN_TOKEN: 'A service token was resolved but never registered',
  ATR_LINK_TTL: 'A link was issued without a positive lifetime',
  ATR_LINK_REVOKE: 'A link revocation named neither a subject nor a link',
  ATR_INBOUND_DUPLICATE_HANDLER: 'A reply-by-email handler was registered twice for the same plugin and purpose',
  ATR_INBOUND_GRANT: 'A reply address was asked for with an invalid plugin, purpose, subject or lifetime',
  ATR_PLUGIN_NOT_FOUND: 'An enabled plugin could not be found',
  ATR_PLUGIN_LOAD_FAILED: 'A plugin failed to load',
  ATR_PLUGIN_INVALID: 'A plugin definition is invalid',
  ATR_PLUGIN_ID_MISMATCH: "A plugin's id does not match its folder",
  ATR_PLUGIN_DUPLICATE_ID: 'Two plugins have the same id',
  ATR_PLUGIN_MISSING_DEP: 'A plugin requires a plugin that is not enabled',
  ATR_PLUGIN_CYCLE: 'Plugins require each other in a cycle',
  ATR_PLUGIN_KERNEL_RANGE: "A plugin's kernel range does not match this kernel",
  ATR_PLUGIN_SETTINGS_INVALID: "A plugin's settings are invalid",
  ATR_PLUGIN_DUPLICATE_EVENT: 'An event name was declared twice',
  ATR_PLUGIN_DUPLICATE_SUBJECT: 'A permission subject was declared twice',
  ATR_PLUGIN_HOOK_FAILED: 'A plugin lifecycle hook failed',
  ATR_MIGRATION_FAILED: 'A migration failed; the schema was left as it was',
  ATR_NOT_MIGRATED: 'The database has pending migrations and automatic migration is off',
  ATR_THEME_NOT_FOUND: 'The configured theme does not exist',
  ATR_THEME_INVALID: 'The theme is invalid',
  ATR_VIEW_NOT_FOUND: 'A view template was not found',
  ATR_VIEW_DUPLICATE_PARTIAL: 'A partial was registered twice',
  ATR_EVENT_UNDECLARED: 'An event was published that no plugin declared',
  ATR_CLI_USAGE: 'The command was used incorrectly',
  ATR_NOT_FOUND: 'Not found',
  ATR_FORBIDDEN: 'Forbidden',
  ATR_CSRF: 'The form has expired or did not come from this site',
  ATR_VALIDATION: 'Some fields need attention',
  ATR_THROTTLED: 'Too many attempts; try again later',
  ATR_THROTTLE_UNAVAILABLE: 'The sign-in throttle could not be checked, so the request was refused',
  ATR_REAUTH_REQUIRED: 'Confirm your password (or a code from your authenticator) first',
  ATR_MFA_PENDING: 'Finish two-step sign-in first',
  ATR_MFA_KEY: 'The MFA encryption key is missing, unreadable or invalid',
  ATR_MFA_SECRET: 'A stored MFA secret could not be decrypted',
  ATR_TOKEN_INVALID: 'This link has expired or has already been used',
  ATR_MAIL_ADDRESS: 'A mail address or header is not acceptable',
  ATR_MAIL_SEND: 'A message could not be delivered',
  ATR_STORAGE_KEY: 'A storage master key is missing, unknown or invalid',
  ATR_STORAGE_INTEGRITY: 'A stored file failed its integrity check and was not served',
  ATR_STORAGE_CONFIG: 'The storage configuration is invalid',
  ATR_TOO_LARGE: 'The upload is larger than the limit allows',
  ATR_UNSUPPORTED_TYPE: 'This kind of file is not accepted',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class AtriumError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;
  /** The specific part of the message, without the code and its generic sentence. */
  readonly detail: string | undefined;

  constructor(code: ErrorCode, detail?: string, opts: { status?: number; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(detail ? `${code}: ${ErrorCodes[code]}: ${detail}` : `${code}: ${ErrorCodes[code]}`, { cause: opts.cause });
    this.name = 'AtriumError';
    this.code = code;
    this.status = opts.status ?? 500;
    this.details = opts.details;
    this.detail = detail;
  }
}

export const notFound = () => new AtriumError('ATR_NOT_FOUND', undefined, { status: 404 });
export const forbidden = () => new AtriumError('ATR_FORBIDDEN', undefined, { status: 403 });
