// The signatures plugin's demo data (the `demo` hook, core/demo.ts): in Northwind, the engagement
// letter that files' demo offers as `signable` is out for signature, Ada signing first (so it is
// her turn: her home, /inbox and "To sign" show it) and Sam countersigning. Sent through
// service.ts, as the send page does: envelope, signers, placements, events and audit, and Ada's
// single-use link in a mail that waits in the outbox.
import { AtriumError, type DemoContext } from '../../core/index.ts';
import { inspectPdf, rectFor } from './pdf.ts';
import { actorOf, sendEnvelope, type SignDeps } from './service.ts';

export async function seedSignaturesDemo(deps: SignDeps, demo: DemoContext): Promise<void> {
  const ws = demo.workspaces.northwind;
  const sam = demo.people['sam.staff'];
  const ada = demo.people.ada;
  if (!ws || !sam || !ada) throw new AtriumError('ATR_NOT_FOUND', 'the demo workspaces and people are missing');
  const doc = demo.offers('signable').find((o) => o.workspace === 'northwind');
  if (!doc) return;
  const file = await deps.files.describe(deps.db, ws.id, String(doc.fileId));
  if (!file || file.contentType !== 'application/pdf') return; // gone since it was offered (or not a PDF): nothing to send
  const bytes = await deps.files.readVersion(ws.id, file.fileId, file.versionId, { maxBytes: deps.settings.maxPdfBytes });
  const pages = await inspectPdf(bytes);
  const last = pages.length;
  await sendEnvelope(deps, {
    workspace: ws,
    title: String(doc.title),
    message: 'As discussed, here is our engagement letter for 2026. Please sign on the last page; Sam countersigns for the firm.',
    file,
    bytes,
    pageCount: pages.length,
    signers: [
      { userId: ada.id, name: ada.name, email: ada.email, page: last, ...rectFor('bottom-left', pages[last - 1]!) },
      { userId: sam.id, name: sam.name, email: sam.email, page: last, ...rectFor('bottom-right', pages[last - 1]!) },
    ],
    sender: actorOf({ actorId: sam.id, ip: null, userAgent: null }, sam.name),
  });
}
