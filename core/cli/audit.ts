// `atrium audit:verify`: walk the audit log's hash chain and name the first bad row. Read-only:
// it opens the database without migrating anything or loading plugins, so it can run beside a
// live server (the walk reads one snapshot) or against a restored backup.
import pino from 'pino';
import { loadConfig } from '../config/load.ts';
import { createLogger } from '../logger.ts';
import { systemClock } from '../clock.ts';
import { createServices } from '../services.ts';
import { AtriumError } from '../errors.ts';
import type { Command } from './commands.ts';

export const auditCommands: Command[] = [
  {
    name: 'audit:verify',
    summary: 'Check the audit log’s hash chain; name the first edited, deleted, reordered or missing row',
    details:
      'Exit 0 and "N events, chain intact" when every row links to the one before it and the head names the last row.\n' +
      'Exit 1 naming the first bad seq otherwise. Reads one snapshot, so it is safe beside a running server.',
    options: { json: { type: 'boolean', description: 'Print the result as one JSON object (for monitoring)' } },
    async run(values) {
      const config = loadConfig();
      const logger = createLogger({ ...config, log: { level: 'warn' } }, pino.destination(2));
      const s = createServices(config, logger, systemClock);
      try {
        // Only the two audit tables are needed: a backup taken before a later migration still verifies.
        if (!(await s.db.schema.hasTable('audit_events')) || !(await s.db.schema.hasTable('audit_head'))) {
          throw new AtriumError('ATR_NOT_MIGRATED', 'the audit tables do not exist yet; run `atrium migrate`');
        }
        const started = performance.now();
        const result = await s.audit.verify(s.db);
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        if (values.json) console.log(JSON.stringify({ ...result, seconds: Number(seconds) }));
        else if (result.ok) console.log(`${result.count} events, chain intact (checked in ${seconds} s).`);
        else {
          console.log(`Audit chain broken at seq ${result.seq}: ${result.reason}.`);
          console.log(`${result.count} event(s) before it verified. Restore the log from a backup and compare the rows from seq ${result.seq} on.`);
        }
        return result.ok ? 0 : 1;
      } finally {
        await s.db.destroy();
      }
    },
  },
];
