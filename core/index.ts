// The kernel's public API for plugins. Import from here (built-ins: '../../core/index.ts');
// anything not exported here is internal and may change without a kernel major version.
export { definePlugin } from './plugins/define.ts';
export type {
  PluginDefinition,
  PluginContext,
  RoutesContext,
  BootstrapContext,
  PluginCommand,
  DoctorCheck,
  DoctorFinding,
  PluginRouters,
  Widget,
  WidgetContext,
  NavItem,
  PermissionRule,
  Role,
  FirmRole,
  WorkspaceRole,
  DemoContext,
  DemoWorkspace,
  DemoPerson,
} from './plugins/define.ts';
export { Tokens, token, type Token, Container } from './container.ts';
export { transaction, afterCommit, toBool, parseJson, isPostgresClient, type Db, type Trx } from './db/index.ts';
export { AtriumError, notFound, forbidden } from './errors.ts';
export { newId, newToken, sha256Hex } from './ids.ts';
export { membersOf, workspacesQuery as workspacesQueryFor, type Member } from './identity/users.ts';
export { WorkspaceScope, workspaceOwned, workspaceChild } from './tenancy.ts';
export { accessibleBy, canOnRow, permittedFields, type AppAbility } from './permissions.ts';
export { fieldErrors, formBody, safeNext } from './http/forms.ts';
export { decodeUntrustedImage, sniffImageType, type ImageType, type ImageLimits, type ImageWording, type ImageCheck, type DecodedImage } from './images.ts';
export { singleLine, multiLine, type TextOptions } from './text.ts';
export { nameField, normaliseName, safeName, contentDisposition, zipEntryName, NAME_MAX_BYTES } from './names.ts';
export { authorize } from './http/authorize.ts';
export type { RequestContext } from './http/context.ts';
export type { AtriumEvents } from './events.ts';
export type { AuditEntry } from './audit.ts';
export type { AuditViewer, AuditSubjectRule, AuditSubjects } from './audit-visibility.ts';
export type { StorageService, StoredBlob, OpenedBlob } from './storage/index.ts';
export type { LinkService, LinkGrant, IssueLink } from './links.ts';
export type { InboundService, InboundHandler, InboundReply, InboundGrant, InboundAttachment, InboundOutcome } from './inbound.ts';
export type { JobRunner } from './jobs.ts';
export type { ApprovableRegistry, ApprovableType, ApprovableSubject, ApprovableRevision } from './approvables.ts';
export { documentView, pageImageName, pageNumber, sendPageImage, type DocumentPage, type DocumentPages, type DocumentView, type PageImage } from './document-pages.ts';
export type { WaitingRegistry, WaitingProvider, WaitingPerson, WaitingRow, WaitingItem, WaitingList, WaitingWorkspace } from './waiting.ts';
export { PaymentRegistry, type PaymentProvider, type CheckoutRequest, type CheckoutStarted, type RefundRequest, type PaymentConfirmation, type CheckoutEnded, type ConfirmOutcome, type RefusalReason, type PayableKind } from './payments.ts';
export { PERSON_ID } from './permissions.ts';
export { afterKey, mergeSorted, pagedByTime, type EvidenceRegistry, type EvidenceProvider, type EvidenceItem, type Evidence, type EvidenceQuery, type EvidenceViewer, type TimeKey } from './evidence.ts';
export { startOfDay, formatDay, formatExact } from './time.ts';
export { KERNEL_VERSION } from './version.ts';
export { readableThreads, type SubjectThreads, type SubjectThreadProvider, type ThreadSubject, type ThreadReader } from './threads.ts';
export { receiveUpload, cleanName, formatBytes, type IncomingFile, type UploadProblem, type UploadLimits, type UploadResult, type Target as UploadTarget } from './http/upload.ts';
export { sniff, SNIFF_BYTES, COMPRESSED, THUMBNAIL, ACCEPTED_EXTENSIONS, extensionOf, type SniffResult } from './sniff.ts';
