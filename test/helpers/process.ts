// Start `atrium start` as a child process and wait until it listens.
import { spawn, type ChildProcess } from 'node:child_process';

export interface Running {
  child: ChildProcess;
  url: string;
  output: string[];
  exited: Promise<number | null>;
}

export function startProcess(env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<Running> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/atrium.js', 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const output: string[] = [];
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start: ${output.join('')}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      output.push(String(chunk));
      const m = /"url":"(http:\/\/[^"]+)".*"msg":"atrium listening"/.exec(output.join(''));
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, output, exited });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (c: Buffer) => output.push(String(c)));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}: ${output.join('')}`));
    });
  });
}
