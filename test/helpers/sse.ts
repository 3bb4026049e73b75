// Read a server-sent-event stream with fetch, as an EventSource would send it.
export interface SseEvent {
  event: string;
  data: string;
}

export interface SseStream {
  status: number;
  headers: Headers;
  /** Resolves with the next event named `name` (earlier events of other names are skipped). */
  next(name: string): Promise<SseEvent>;
  /** Comment lines seen so far (`: connected`, `: heartbeat`). */
  comments: string[];
  /** Every event received so far, in order (`next` does not take them from here). */
  events: SseEvent[];
  /**
   * Resolves once an event named `name` has been received, already or later. To prove an event
   * did NOT arrive, publish a sentinel to the same person afterwards and wait for it: events to
   * one person arrive in the order they were published.
   */
  until(name: string): Promise<void>;
  close(): void;
  /** Resolves once the server has ended the stream. */
  ended: Promise<void>;
}

export async function openSse(url: string, cookie: string | undefined, extraHeaders: Record<string, string> = {}): Promise<SseStream> {
  const abort = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...(cookie ? { cookie } : {}), ...extraHeaders }, signal: abort.signal });
  const queue: SseEvent[] = [];
  const waiters: Array<() => void> = [];
  const comments: string[] = [];
  const events: SseEvent[] = [];
  let connected!: () => void;
  const isConnected = new Promise<void>((r) => (connected = r));
  let ended = false;
  let endedResolve!: () => void;
  const endedP = new Promise<void>((r) => (endedResolve = r));
  if (res.status === 200 && res.body) {
    void (async () => {
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let i: number;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            let event = 'message';
            const data: string[] = [];
            for (const line of block.split('\n')) {
              if (line.startsWith(':')) {
                comments.push(line.slice(1).trim());
                if (line.slice(1).trim() === 'connected') connected();
              } else if (line.startsWith('event:')) event = line.slice(6).trim();
              else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
            }
            if (data.length) {
              queue.push({ event, data: data.join('\n') });
              events.push({ event, data: data.join('\n') });
              for (const w of waiters.splice(0)) w();
            }
          }
        }
      } catch {
        /* aborted */
      } finally {
        ended = true;
        connected();
        endedResolve();
        for (const w of waiters.splice(0)) w();
      }
    })();
    await isConnected;
  } else {
    await res.text();
    endedResolve();
  }
  return {
    status: res.status,
    headers: res.headers,
    comments,
    events,
    async until(name) {
      for (;;) {
        if (events.some((e) => e.event === name)) return;
        if (ended) throw new Error(`stream ended before a "${name}" event`);
        await new Promise<void>((r) => waiters.push(r));
      }
    },
    async next(name) {
      for (;;) {
        const i = queue.findIndex((e) => e.event === name);
        if (i >= 0) return queue.splice(0, i + 1).pop()!;
        if (ended) throw new Error(`stream ended before a "${name}" event`);
        await new Promise<void>((r) => waiters.push(r));
      }
    },
    close: () => abort.abort(),
    ended: endedP,
  };
}

/** A cookie header from a test client's jar. */
export function cookieOf(jar: Map<string, string>): string {
  return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
}
