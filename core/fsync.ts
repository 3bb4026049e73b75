// fsync of a file or folder by path: after a rename, the folder must be synced too for the new
// name to survive a crash (SECURITY.md control 48).
import { open } from 'node:fs/promises';

export async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
