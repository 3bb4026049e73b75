// The kernel's public API for plugins. Import from here (built-ins: '../../core/index.ts');
// anything not exported here is internal and may change without a kernel major version.
export { definePlugin } from './plugins/define.ts';
export type {
  PluginDefinition,
  PluginContext,
  RoutesContext,
  BootstrapContext,
  PluginRouters,
  Widget,
  WidgetContext,
  NavItem,
  PermissionRule,
  Role,
  FirmRole,
  WorkspaceRole,
} from './plugins/define.ts';
export { Tokens, token, type Token, Container } from './container.ts';
export { transaction, afterCommit, toBool, parseJson, isPostgresClient, type Db, type Trx } from './db/index.ts';
export { AtriumError, notFound, forbidden } from './errors.ts';
export { newId, newToken, sha256Hex } from './ids.ts';
export { membersOf, type Member } from './identity/users.ts';
export { fieldErrors, formBody, safeNext } from './http/forms.ts';
export type { RequestContext } from './http/context.ts';
export type { AtriumEvents } from './events.ts';
export type { AuditEntry } from './audit.ts';
export { KERNEL_VERSION } from './version.ts';
