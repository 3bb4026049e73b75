// `atrium audit:verify`: walk the audit log's hash chain and name the first bad row, then check
// the signed checkpoints kept off the database against it. `atrium audit:checkpoint`: sign one
// now. Both open the database without migrating anything or loading plugins, so they can run
// beside a live server (the walk reads one snapshot) or against a restored backup.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../config/load.ts';
import { createLogger } from '../logger.ts';
import { systemClock } from '../clock.ts';
import { createServices, type Services } from '../services.ts';
import { AtriumError } from '../errors.ts';
import { CheckpointError, checkpointFile, parsePublicKey, publicKeyFileFor, verifyCheckpoints, writeCheckpoint, type CheckpointResult } from '../audit-checkpoints.ts';
import type { Command } from './commands.ts';

const usage = (message: string) => new AtriumError('ATR_CLI_USAGE', message);

async function withAuditDb<T>(fn: (s: Services, config: ReturnType<typeof loadConfig>) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const logger = createLogger({ ...config, log: { level: 'warn' } }, pino.destination(2));
  const s = createServices(config, logger, systemClock);
  try {
    // Only the three audit tables are needed: a backup taken before a later migration still verifies.
    if (!(await s.db.schema.hasTable('audit_events')) || !(await s.db.schema.hasTable('audit_head'))) {
      throw new AtriumError('ATR_NOT_MIGRATED', 'the audit tables do not exist yet; run `atrium migrate`');
    }
    if (!(await s.db.schema.hasTable('audit_heads'))) {
      // Migrating adds the per-workspace chains' table and column and rewrites no audit row.
      throw new AtriumError('ATR_NOT_MIGRATED', 'this database predates per-workspace audit chains; run `atrium migrate` (on a copy, for a backup)');
    }
    return await fn(s, config);
  } finally {
    await s.db.destroy();
  }
}

export const auditCommands: Command[] = [
  {
    name: 'audit:verify',
    summary: 'Check the audit log’s hash chains and its signed checkpoints; name the first bad seq',
    details:
      'Exit 0 and "N events, chain intact" when, in every chain (one per workspace, one for firm-wide events, and\n' +
      'the legacy single chain of rows written before per-workspace chains), every row links to the one before it and\n' +
      'the chain\'s head names its last row, and every signed checkpoint matches the log. Exit 1 naming the first bad\n' +
      'seq (and the workspace whose chain it is) otherwise.\n' +
      'The checkpoints (written hourly by the server, or by `atrium audit:checkpoint`) catch what the chain alone\n' +
      'cannot: a log rewritten with every hash recomputed, or cut short. By default they are read from\n' +
      '<dataDir>/audit-checkpoints.jsonl (ATRIUM_AUDIT_CHECKPOINTS) and checked with audit.pub beside it; point\n' +
      '--checkpoints and --public-key at the copies you keep on another host to verify against those.\n' +
      'Reads one snapshot, so it is safe beside a running server.',
    options: {
      json: { type: 'boolean', description: 'Print the result as one JSON object (for monitoring)' },
      checkpoints: { type: 'string', valueName: 'file', description: 'Checkpoint file to check (default: <dataDir>/audit-checkpoints.jsonl)' },
      'public-key': { type: 'string', valueName: 'file', description: 'Ed25519 public key (PEM) for it (default: audit.pub beside the file)' },
    },
    async run(values) {
      const explicit = typeof values.checkpoints === 'string' ? resolve(process.cwd(), values.checkpoints) : undefined;
      const keyArg = typeof values['public-key'] === 'string' ? resolve(process.cwd(), values['public-key']) : undefined;
      if (explicit && !existsSync(explicit)) throw usage(`--checkpoints: ${explicit} does not exist`);
      if (keyArg && !existsSync(keyArg)) throw usage(`--public-key: ${keyArg} does not exist`);
      return withAuditDb(async (s, config) => {
        const started = performance.now();
        const result = await s.audit.verify(s.db);
        // The checkpoints: batched lookups of the signed positions, after the walk.
        const file = explicit ?? checkpointFile(config);
        let cp: CheckpointResult | { ok: true; count: 0; last: null; missing: true };
        if (!existsSync(file)) cp = { ok: true, count: 0, last: null, missing: true };
        else {
          const keyFile = keyArg ?? publicKeyFileFor(file);
          if (!existsSync(keyFile)) {
            cp = { ok: false, seq: 1, line: 0, count: 0, reason: `the public key ${keyFile} is missing, so the checkpoints cannot be checked (give --public-key)` };
          } else {
            try {
              cp = await verifyCheckpoints(s.db, file, parsePublicKey(readFileSync(keyFile, 'utf8'), keyFile));
            } catch (err) {
              if (!(err instanceof CheckpointError)) throw err;
              cp = { ok: false, seq: 1, line: 0, count: 0, reason: err.message };
            }
          }
        }
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        const ok = result.ok && cp.ok;
        if (values.json) {
          // The top level stays the chain's result (ok, count, seq, reason), with ok and the first
          // bad seq covering the checkpoints too; `checkpoints` holds their own result.
          const first = !cp.ok && (result.ok || cp.seq < result.seq) ? { seq: cp.seq, reason: cp.reason } : {};
          console.log(JSON.stringify({ ...result, ...first, ok, seconds: Number(seconds), checkpoints: { ...cp, file } }));
          return ok ? 0 : 1;
        }
        if (result.ok) console.log(`${result.count} events, chain intact (checked in ${seconds} s).`);
        else {
          console.log(`Audit chain broken at seq ${result.seq}: ${result.reason}.`);
          console.log(`${result.count} event(s) before it verified. Restore the log from a backup and compare the rows from seq ${result.seq} on.`);
        }
        if ('missing' in cp) {
          console.log(`No checkpoints at ${file} yet (a running server writes one hourly; \`atrium audit:checkpoint\` writes one now).`);
        } else if (cp.ok) {
          console.log(cp.last ? `${cp.count} signed checkpoint(s) match the log (newest: seq ${cp.last.seq}, ${new Date(cp.last.time).toISOString()}) in ${file}.` : `No checkpoints in ${file} yet.`);
        } else {
          console.log(`Audit checkpoints broken at seq ${cp.seq}: ${cp.reason}.`);
          console.log(`${cp.count} checkpoint(s) before it matched (${file}).`);
        }
        return ok ? 0 : 1;
      });
    },
  },
  {
    name: 'audit:checkpoint',
    summary: 'Sign the audit log’s current chain heads now and append them to the checkpoint file',
    details:
      'Appends {seq, heads: {<workspace id, or "" for the firm chain>: [chain_seq, hash]}, time, prev_sig} signed with\n' +
      'Ed25519 to <dataDir>/audit-checkpoints.jsonl (ATRIUM_AUDIT_CHECKPOINTS): every chain whose head moved since the last\n' +
      'line (all of them in the first). The public key audit.pub is written beside it; the signing key is <dataDir>/audit.key\n' +
      '(0600), generated on first use. Nothing is written when no head has moved since the last checkpoint.\n' +
      'A running server does this hourly. Copy the checkpoint file and audit.pub to another host, and verify with\n' +
      '`atrium audit:verify --checkpoints <copy> --public-key <copy of audit.pub>`.\n' +
      'Exit 1 without writing if the log no longer matches what the file has signed (run `atrium audit:verify`).',
    async run() {
      return withAuditDb(async (s, config) => {
        try {
          const r = await writeCheckpoint(s.db, config, systemClock);
          if (r.written) {
            const c = r.checkpoint;
            const what = 'heads' in c ? `${Object.keys(c.heads).length} chain head(s)${c.legacy ? ' and the legacy chain' : ''}` : `head ${c.head}`;
            console.log(`Checkpoint written: seq ${c.seq}, ${what}, to ${r.file}.`);
            console.log(`Copy it and ${r.publicKeyFile} off this machine.`);
          } else if (r.reason === 'empty') console.log('The audit log is empty; no checkpoint written.');
          else console.log(`The audit head has not moved since the last checkpoint (seq ${r.seq}); nothing written.`);
          return 0;
        } catch (err) {
          if (!(err instanceof CheckpointError)) throw err;
          console.error(`atrium audit:checkpoint: ${err.message}`);
          return 1;
        }
      });
    },
  },
];
