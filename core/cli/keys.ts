// `atrium keys:rotate`: re-wrap every stored file key under a new storage master key (KEK). Blob
// contents are not rewritten. With the generated key ring (<dataDir>/storage.keys) a new key is
// added in front and, once nothing uses them, the old keys are removed; with keys from
// storage.keys / ATRIUM_STORAGE_KEYS, put the new key first in the configuration, run this, then
// drop the old key from the configuration once it reports none in use.
import { transaction } from '../db/index.ts';
import type { Command } from './commands.ts';

export function keyCommands(withServices: typeof import('./commands.ts').withServices): Command[] {
  return [
    {
      name: 'keys:rotate',
      summary: 'Re-wrap every stored file key under a new storage master key (files are not rewritten)',
      details:
        'Generated key ring: adds a new key, re-wraps every file key under it, then removes the old keys (keep a backup of\n' +
        '<dataDir>/storage.keys from before). Keys from ATRIUM_STORAGE_KEYS: re-wraps under the first key listed.\n' +
        'Exit 1 if some file key could not be unwrapped (they keep their old wrapping and the old key is kept).',
      options: { 'keep-old': { type: 'boolean', description: 'Keep the old keys in the generated key ring' } },
      async run(values) {
        return withServices(async (s) => {
          const ring = s.storage.keys;
          const before = ring.ids();
          const id = ring.fromConfig ? ring.current().id : ring.addKey();
          const result = await s.storage.rewrapAll(s.db);
          const inUse = new Set(await s.storage.keyIdsInUse(s.db));
          const unused = before.filter((k) => k !== id && !inUse.has(k));
          if (!ring.fromConfig && !values['keep-old'] && unused.length) ring.remove(unused);
          await transaction(s.db, (trx) =>
            s.audit.record(trx, { actorId: null, userAgent: 'atrium-cli', action: 'core.keys.rotate', subjectType: 'MasterKey', subjectId: id, detail: { rewrapped: result.rewrapped, failed: result.failed.length, removed: ring.fromConfig || values['keep-old'] ? [] : unused } }),
          );
          console.log(`Re-wrapped ${result.rewrapped} file key(s) under master key ${id}.`);
          if (result.failed.length) console.log(`${result.failed.length} file key(s) could not be unwrapped and keep their old wrapping: ${result.failed.slice(0, 20).join(', ')}`);
          if (ring.fromConfig) console.log(unused.length ? `No file uses ${unused.join(', ')} any more: remove them from storage.keys.` : 'Every configured key is still in use.');
          else if (!values['keep-old'] && unused.length) console.log(`Removed old master key(s) ${unused.join(', ')} from the key ring.`);
          return result.failed.length ? 1 : 0;
        });
      },
    },
  ];
}
