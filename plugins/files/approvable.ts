// File versions as approvable subjects (the kernel's approvable-subject contract). Owned by the
// approvals work; registered from the files plugin's `register` hook.
import type { PluginContext } from '../../core/index.ts';
import type { FilesSettings } from './settings.ts';

export function registerApprovables(_ctx: PluginContext<FilesSettings>): void {}
