// Plugin `signatures`: e-signatures for PDFs kept in `files`. Staff send a file's current version
// to one or more signers in order; each signer reviews it through a single-purpose link, consents
// to sign electronically, types or draws a signature and signs. When everyone has signed, the
// signatures are stamped where the sender placed them, a certificate page listing every event is
// appended, and the result becomes a new version of the file. A document changed after sending
// cannot be signed. See docs/signatures.md.
//   index.ts    this definition          routes.ts   staff pages under /w/:workspace/signatures
//   signing.ts  the signer's link pages  service.ts  the workflow (send, sign, decline, void, complete)
//   pdf.ts      stamping + certificate   consent.ts  the versioned consent text    repo.ts  reads
//   portal.ts   the signed-in signer's pages (To sign; signing without the mail)
//   waiting.ts  "waiting on you": the person's turn to sign, for the home card, /inbox and the header
import { accessibleBy, definePlugin, PERSON_ID, Tokens, type RoutesContext } from '../../core/index.ts';
import { FilesApi } from '../files/api.ts';
import { workspaceRoutes } from './routes.ts';
import { linkRoutes } from './signing.ts';
import { portalRoutes } from './portal.ts';
import { signaturesWaiting } from './waiting.ts';
import { registerEvidence } from './evidence.ts';
import type { SignDeps } from './service.ts';
import { settingsSchema, type SignaturesSettings } from './settings.ts';
import { unsignedWidget } from './staff-widget.ts';
import { seedSignaturesDemo } from './demo.ts';

declare module '../../core/events.ts' {
  interface AtriumEvents {
    'signatures.envelope.sent': { workspaceId: string; envelopeId: string };
    'signatures.signer.signed': { workspaceId: string; envelopeId: string; signerId: string };
    'signatures.envelope.completed': { workspaceId: string; envelopeId: string; versionId: string };
    'signatures.envelope.declined': { workspaceId: string; envelopeId: string };
    'signatures.envelope.voided': { workspaceId: string; envelopeId: string };
  }
}

function depsOf(ctx: RoutesContext<SignaturesSettings>): SignDeps {
  const c = ctx.container;
  return {
    db: ctx.db,
    audit: c.resolve(Tokens.Audit),
    events: c.resolve(Tokens.Events),
    mail: c.resolve(Tokens.Mail),
    notifications: c.resolve(Tokens.Notifications),
    branding: c.resolve(Tokens.Branding),
    links: c.resolve(Tokens.Links),
    files: c.resolve(FilesApi),
    now: () => c.resolve(Tokens.Clock).now(),
    settings: ctx.settings,
    logger: ctx.logger,
  };
}

export default definePlugin<SignaturesSettings>({
  id: 'signatures',
  version: '1.0.0',
  kernel: '^1.0.0',
  description: 'E-signatures for PDFs from Files: signers in order, consent, typed or drawn signatures, a certificate of every event.',
  requires: ['files'],
  migrations: new URL('./migrations', import.meta.url),
  views: new URL('./views', import.meta.url),
  events: ['signatures.envelope.sent', 'signatures.signer.signed', 'signatures.envelope.completed', 'signatures.envelope.declined', 'signatures.envelope.voided'],
  settings: settingsSchema,
  permissions: {
    // read: the list and an envelope's page (signers, events, hashes); create: prepare and send;
    // send: send the current signer a new link; void: cancel an envelope still out for signature.
    // A signer acts through their mailed link, or signed in, on their own request to sign
    // (SignatureRequest: their row of signatures_signers, `user_id` = the person): read it, and
    // sign while it is their turn. Clients get nothing else here: never an envelope's page.
    subjects: { Envelope: ['read', 'create', 'send', 'void'], SignatureRequest: ['read', 'sign'] },
    tables: { SignatureRequest: 'signatures_signers' },
    // Events about an envelope or one of its signers are shown to whoever may read the envelope.
    audit: {
      Envelope: { read: ['read', 'Envelope'], table: 'signatures_envelopes', path: '/signatures/e/:id', label: 'title', noun: 'document for signature' },
      EnvelopeSigner: { read: ['read', 'Envelope'], table: 'signatures_envelopes', via: { table: 'signatures_signers', column: 'envelope_id' }, path: '/signatures/e/:id', label: 'title', noun: 'document for signature' },
    },
    grants: {
      staff: [
        { action: ['read', 'create', 'send', 'void'], subject: 'Envelope' },
        { action: 'sign', subject: 'SignatureRequest', conditions: { user_id: PERSON_ID, status: 'pending' } },
      ],
      client_admin: [
        { action: 'read', subject: 'SignatureRequest', conditions: { user_id: PERSON_ID } },
        { action: 'sign', subject: 'SignatureRequest', conditions: { user_id: PERSON_ID, status: 'pending' } },
      ],
      client_member: [
        { action: 'read', subject: 'SignatureRequest', conditions: { user_id: PERSON_ID } },
        { action: 'sign', subject: 'SignatureRequest', conditions: { user_id: PERSON_ID, status: 'pending' } },
      ],
      // Viewers only read and download, but whoever the firm asks to sign may sign.
      client_viewer: [
        { action: 'read', subject: 'SignatureRequest', conditions: { user_id: PERSON_ID } },
        { action: 'sign', subject: 'SignatureRequest', conditions: { user_id: PERSON_ID, status: 'pending' } },
      ],
    },
  },
  // How each event reads on the Activity page ({subject} is the document's title).
  activity: {
    'signatures.envelope.create': '{actor} prepared {subject} for signature',
    'signatures.envelope.send': '{actor} sent {subject} to {detail.to} for signature',
    'signatures.envelope.resend': '{actor} sent a new signing link for {subject}',
    'signatures.envelope.void': '{actor} cancelled the signing of {subject}',
    'signatures.envelope.complete': '{subject} was signed by everyone',
    'signatures.signer.open': '{actor} opened {subject} to sign',
    'signatures.signer.consent': '{actor} agreed to sign {subject} electronically',
    'signatures.signer.sign': '{actor} signed {subject}',
    'signatures.signer.decline': '{actor} declined to sign {subject}',
    'signatures.signer.refuse': 'Signing {subject} stopped: the document had changed since it was sent',
  },
  nav: [
    { area: 'workspace', label: 'Signatures', path: '/signatures', can: ['read', 'Envelope'], order: 40 },
    // The signer's own: what they are asked to sign and what they signed (portal.ts).
    { area: 'workspace', label: 'To sign', path: '/signatures/mine', can: ['read', 'SignatureRequest'], order: 41 },
  ],
  // "Send for signature" on a PDF's page in files (the file page lists other plugins' actions).
  actions: [{ subject: 'File', label: 'Send for signature', path: '/signatures/new?file=:id', can: ['create', 'Envelope'], when: (row) => row.content_type === 'application/pdf', order: 30 }],
  widgets: [
    // The staff overview: what waits on the firm across its clients.
    unsignedWidget,
    {
      id: 'out-for-signature',
      area: 'workspace',
      title: 'Out for signature',
      view: 'signatures/widget',
      can: ['read', 'Envelope'],
      order: 30,
      async load({ ctx }) {
        // Through the scope and the row filter, like every other read.
        const q = ctx.scope!.table('signatures_envelopes').modify(accessibleBy(ctx.ability, 'read', 'Envelope')).where('status', 'sent');
        const count = Number(((await q.clone().count({ n: '*' }).first()) as { n: number | string }).n);
        const latest = (await q.orderBy('sent_at', 'desc').limit(5).select('id', 'title', 'sent_at')) as Array<{ id: string; title: string; sent_at: number | string }>;
        const base = `/w/${ctx.workspace!.slug}/signatures`;
        return { count, items: latest.map((e) => ({ title: e.title, href: `${base}/e/${e.id}`, at: Number(e.sent_at) })), href: `${base}/?status=sent` };
      },
    },
  ],

  // Demo data (`atrium demo:seed`, /setup): the engagement letter out for signature, Ada's turn (demo.ts).
  demo: (ctx, demo) => seedSignaturesDemo(depsOf(ctx), demo),

  register(ctx) {
    // "Waiting on you": envelopes where the person is the current signer (waiting.ts).
    ctx.container.resolve(Tokens.Waiting).register('signatures', signaturesWaiting);
    // Proof of service: signatures and refusals on documents sent to the client (evidence.ts).
    registerEvidence(ctx);
  },

  routes({ workspace, link }, ctx) {
    const deps = depsOf(ctx);
    // The signer's portal pages first: /mine and /sign/:signerId are not envelope pages.
    portalRoutes(workspace, deps);
    workspaceRoutes(workspace, deps);
    linkRoutes(link, deps);
  },
});
