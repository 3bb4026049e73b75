// The files plugin's service for other plugins (read a version's bytes, add a version), exported
// on the root container from the files plugin's `register` hook.
import type { PluginContext } from '../../core/index.ts';
import type { FilesSettings } from './settings.ts';

export function exportFilesApi(_ctx: PluginContext<FilesSettings>): void {}
