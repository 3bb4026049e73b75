// Structured JSON logs (pino). Secrets never reach a log line: cookies, authorization headers,
// passwords and tokens are redacted by path, and request logs carry the path without its query.
import pino, { type Logger } from 'pino';
import type { AtriumConfig } from './config/schema.ts';

export function createLogger(config: Pick<AtriumConfig, 'log' | 'env'>, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level: config.log.level,
      base: { app: 'atrium' },
      redact: {
        paths: ['password', '*.password', 'token', '*.token', 'headers.cookie', 'headers.authorization', '*.headers.cookie', 'csrf', '*.csrf'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
