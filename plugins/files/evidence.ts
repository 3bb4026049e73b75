// Proof of service from files (the kernel's contract in core/evidence.ts): what the firm shared
// with the client in a period and who of the client downloaded it. Three streams, each paged on
// an indexed time column and merged in time order:
//   - Shared: a version the firm's people uploaded to a file shared with the client;
//   - Delivered: a shared file marked as a deliverable (the workspace was told);
//   - Downloaded: a download receipt of a shared file by one of the client's people.
// Nothing internal reaches it: internal files, files in the trash, the firm's own downloads and
// the client's own uploads are left out, whoever asks (the pack is the client's document).
import { afterKey, mergeSorted, pagedByTime, type Db, type EvidenceItem, type EvidenceProvider, type EvidenceQuery, type PluginContext, type TimeKey, type Trx, Tokens } from '../../core/index.ts';

type Row = { id: string; at: number | string; name: string; who: string | null; number: number | string | null; via?: string };
const key = (r: Row): TimeKey => ({ at: Number(r.at), id: String(r.id) });
const version = (n: Row['number']) => (n == null ? '' : `Version ${Number(n)}`);

function shared(db: Db | Trx, q: EvidenceQuery): AsyncGenerator<EvidenceItem> {
  return pagedByTime(
    (after: TimeKey | null, limit: number) =>
      db('files_versions as v')
        .join('files_files as f', function () {
          this.on('f.id', '=', 'v.file_id').andOn('f.workspace_id', '=', 'v.workspace_id');
        })
        .join('users as u', 'u.id', 'v.uploaded_by')
        .where('v.workspace_id', q.workspaceId)
        .where('v.created_at', '>=', q.from)
        .where('v.created_at', '<', q.to)
        .where('f.area', 'shared')
        .whereNull('f.deleted_at')
        .whereNotNull('u.firm_role')
        .modify(afterKey('v.created_at', 'v.id', after))
        .orderBy('v.created_at')
        .orderBy('v.id')
        .limit(limit)
        .select('v.id', 'v.created_at as at', 'f.name', 'u.name as who', 'v.number') as Promise<Row[]>,
    key,
    (r) => ({ workspaceId: q.workspaceId, at: Number(r.at), kind: Number(r.number) > 1 ? 'New version shared' : 'Shared', title: r.name, detail: version(r.number), who: r.who ?? '' }),
  );
}

function delivered(db: Db | Trx, q: EvidenceQuery): AsyncGenerator<EvidenceItem> {
  return pagedByTime(
    (after: TimeKey | null, limit: number) =>
      db('files_files as f')
        .leftJoin('users as u', 'u.id', 'f.delivered_by')
        .where('f.workspace_id', q.workspaceId)
        .where('f.delivered_at', '>=', q.from)
        .where('f.delivered_at', '<', q.to)
        .where('f.area', 'shared')
        .whereNull('f.deleted_at')
        .modify(afterKey('f.delivered_at', 'f.id', after))
        .orderBy('f.delivered_at')
        .orderBy('f.id')
        .limit(limit)
        .select(
          'f.id',
          'f.delivered_at as at',
          'f.name',
          'u.name as who',
          // The version that was current when it was delivered.
          db('files_versions as v').whereRaw('v.workspace_id = f.workspace_id').whereRaw('v.file_id = f.id').whereRaw('v.created_at <= f.delivered_at').max('v.number').as('number'),
        ) as Promise<Row[]>,
    key,
    (r) => ({ workspaceId: q.workspaceId, at: Number(r.at), kind: 'Delivered', title: r.name, detail: version(r.number), who: r.who ?? '' }),
  );
}

function downloaded(db: Db | Trx, q: EvidenceQuery): AsyncGenerator<EvidenceItem> {
  return pagedByTime(
    (after: TimeKey | null, limit: number) =>
      db('files_downloads as d')
        .join('files_files as f', function () {
          this.on('f.id', '=', 'd.file_id').andOn('f.workspace_id', '=', 'd.workspace_id');
        })
        .join('users as u', 'u.id', 'd.user_id')
        .leftJoin('files_versions as v', function () {
          this.on('v.id', '=', 'd.version_id').andOn('v.workspace_id', '=', 'd.workspace_id');
        })
        .where('d.workspace_id', q.workspaceId)
        .where('d.created_at', '>=', q.from)
        .where('d.created_at', '<', q.to)
        .where('f.area', 'shared')
        .whereNull('f.deleted_at')
        .whereNull('u.firm_role')
        .modify(afterKey('d.created_at', 'd.id', after))
        .orderBy('d.created_at')
        .orderBy('d.id')
        .limit(limit)
        .select('d.id', 'd.created_at as at', 'f.name', 'u.name as who', 'v.number', 'd.via') as Promise<Row[]>,
    key,
    (r) => ({ workspaceId: q.workspaceId, at: Number(r.at), kind: 'Downloaded', title: r.name, detail: `${version(r.number)}${r.via === 'zip' ? ' (in a zip)' : ''}`.trim(), who: r.who ?? '' }),
  );
}

export const filesEvidence: EvidenceProvider = {
  id: 'files.deliveries',
  label: 'Files',
  items: (db, q) => mergeSorted([shared(db, q), delivered(db, q), downloaded(db, q)], (a, b) => a.at - b.at),
};

/** From the files plugin's `register`. */
export function registerEvidence(ctx: PluginContext): void {
  ctx.container.resolve(Tokens.Evidence).register('files', filesEvidence);
}
