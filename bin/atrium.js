#!/usr/bin/env node
// The `atrium` command. Atrium runs its TypeScript directly through tsx (no build step), so this
// shim registers tsx with the project's tsconfig and hands over to core/cli/main.ts.
import { register } from 'tsx/esm/api';
import { fileURLToPath } from 'node:url';

register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
await import('../core/cli/main.ts');
