// Live updates: a per-user stream of small events (server-sent events at GET /live), fanned out
// to every process. On PostgreSQL each process holds one dedicated connection that LISTENs on a
// channel named after the schema; `publish` is a NOTIFY, so every process (this one included)
// delivers the event to the streams it holds for that user. On SQLite there is one process, so
// events are delivered in process.
//
// Payloads carry a user id, an event name and a small piece of text (a count, a short fragment):
// never a secret, never a document. PostgreSQL caps a NOTIFY payload at 8000 bytes; we cap at 2000.
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Logger } from 'pino';
import type { AtriumConfig } from './config/schema.ts';
import { isPostgres, type Db } from './db/index.ts';
import type { DbCache } from './cache.ts';

export interface LiveSink {
  send(event: string, data: string): void;
  close(): void;
  /** The stream's session, as an opaque key (`streamKey`): signing out ends its streams. */
  key?: string;
}

/** An opaque key for a session's streams: never the session token or its stored hash. */
export function streamKey(sessionIdHash: string): string {
  return createHash('sha256').update(`live:${sessionIdHash}`).digest('hex').slice(0, 32);
}

/** The control event that ends streams (not forwarded to pages). */
const END_EVENT = 'live.end';

export const LIVE_MAX_PAYLOAD = 2000;
const EVENT_NAME = /^[a-z][a-z0-9._-]{0,63}$/;

export class LiveService {
  private readonly streams = new Map<string, Set<LiveSink>>();
  private client: pg.Client | undefined;
  private stopped = false;
  private reconnect: NodeJS.Timeout | undefined;
  readonly channel: string;
  /** Where the database's triggers announce committed writes to cached tables (core/cache.ts). */
  readonly cacheChannel: string;
  private cache: DbCache | undefined;
  /** How often an open stream gets a keep-alive comment and re-checks its session. */
  heartbeatMs = 25_000;

  constructor(
    private readonly config: AtriumConfig,
    private readonly logger: Logger,
    /** On PostgreSQL, NOTIFY goes through the pool: the listening connection only listens. */
    private readonly db?: Db,
  ) {
    const schema = (config.database.schema || 'public').toLowerCase().replace(/[^a-z0-9_]/g, '_');
    this.channel = `atrium_live_${schema}`.slice(0, 63);
    this.cacheChannel = `atrium_cache_${schema}`.slice(0, 63);
  }

  /**
   * PostgreSQL: feed the kernel's read cache from the listening connection. The cache is used only
   * while that connection is up (a write by another process could otherwise go unheard).
   */
  attachCache(cache: DbCache | undefined): void {
    if (!cache || !this.distributed) return;
    this.cache = cache;
    cache.setLinked(Boolean(this.client));
    // Notifications of commits made before this round trip began arrive before its answer.
    cache.barrier = async () => {
      const client = this.client;
      if (!client) throw new Error('live: not listening');
      await client.query('select 1');
    };
  }

  get distributed(): boolean {
    return isPostgres(this.config);
  }

  /** Open streams, counted (for tests and the operations page). */
  get openStreams(): number {
    let n = 0;
    for (const set of this.streams.values()) n += set.size;
    return n;
  }

  /** Hold a stream for `userId`; returns the function that lets it go. */
  subscribe(userId: string, sink: LiveSink): () => void {
    let set = this.streams.get(userId);
    if (!set) this.streams.set(userId, (set = new Set()));
    set.add(sink);
    return () => {
      set!.delete(sink);
      if (!set!.size && this.streams.get(userId) === set) this.streams.delete(userId);
    };
  }

  /**
   * Send `event` with `data` to every open stream of `userId`, in every process. `data` is text
   * (objects are sent as JSON); htmx's `sse-swap` puts it into the page as HTML, so publishers
   * send numbers or escaped fragments only.
   */
  async publish(userId: string, event: string, data: unknown): Promise<void> {
    if (!EVENT_NAME.test(event)) throw new Error(`live: bad event name ${JSON.stringify(event)}`);
    const text = typeof data === 'string' ? data : JSON.stringify(data ?? null);
    const payload = JSON.stringify({ u: userId, e: event, d: text });
    if (Buffer.byteLength(payload) > LIVE_MAX_PAYLOAD) throw new Error(`live: payload over ${LIVE_MAX_PAYLOAD} bytes`);
    if (!this.distributed) return this.deliver(userId, event, text);
    // Through the pool, not the LISTEN connection: publishes never queue behind each other on one
    // client, and a process that does not listen (a CLI command) can still publish.
    if (this.db) {
      await this.db.raw('select pg_notify(?, ?)', [this.channel, payload]);
      return;
    }
    if (!this.client) {
      this.logger.debug({ event }, 'live: not connected (reconnecting): event dropped');
      return;
    }
    await this.client.query('select pg_notify($1, $2)', [this.channel, payload]);
  }

  /**
   * End `userId`'s open streams of the sessions with these keys (`streamKey`), or all of them
   * ('all'), in every process: signing out closes the page's live connection at once.
   */
  async endStreams(userId: string, keys: string[] | 'all'): Promise<void> {
    await this.publish(userId, END_EVENT, keys === 'all' ? '*' : keys.join(','));
  }

  private deliver(userId: string, event: string, data: string): void {
    if (event === END_EVENT) {
      const keys = new Set(data.split(','));
      for (const sink of [...(this.streams.get(userId) ?? [])]) {
        if (data !== '*' && !keys.has(sink.key ?? '')) continue;
        try {
          sink.close();
        } catch {
          /* already gone */
        }
      }
      return;
    }
    for (const sink of this.streams.get(userId) ?? []) {
      try {
        sink.send(event, data);
      } catch (err) {
        this.logger.debug({ err }, 'live: a stream failed');
      }
    }
  }

  /** On PostgreSQL: open the listening connection. Boot calls this before it listens. */
  async start(): Promise<void> {
    this.stopped = false;
    if (!this.distributed) return;
    await this.connect();
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.config.database.url });
    client.on('notification', (msg) => {
      if (msg.channel === this.cacheChannel) {
        if (msg.payload) this.cache?.invalidate([msg.payload]);
        return;
      }
      if (msg.channel !== this.channel || !msg.payload) return;
      try {
        const { u, e, d } = JSON.parse(msg.payload) as { u: string; e: string; d: string };
        if (typeof u === 'string' && typeof e === 'string' && typeof d === 'string') this.deliver(u, e, d);
      } catch {
        this.logger.warn('live: unreadable notification ignored');
      }
    });
    client.on('error', (err) => {
      this.logger.error({ err }, 'live: listening connection failed');
      if (this.client === client) this.client = undefined;
      this.cache?.setLinked(false);
      client.end().catch(() => {});
      this.scheduleReconnect();
    });
    client.on('end', () => {
      // Closed without an error event (the server went away): the same as a failure.
      if (this.client !== client) return;
      this.client = undefined;
      this.cache?.setLinked(false);
      this.scheduleReconnect();
    });
    await client.connect();
    await client.query(`listen "${this.channel}"`);
    await client.query(`listen "${this.cacheChannel}"`);
    this.client = client;
    this.cache?.setLinked(true);
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnect) return;
    this.reconnect = setTimeout(() => {
      this.reconnect = undefined;
      this.connect().catch((err) => {
        this.logger.error({ err }, 'live: reconnect failed');
        this.scheduleReconnect();
      });
    }, 1000);
    this.reconnect.unref();
  }

  /** End every open stream (shutdown: the server cannot drain while they stay open). */
  closeStreams(): void {
    for (const set of [...this.streams.values()]) {
      for (const sink of [...set]) {
        try {
          sink.close();
        } catch {
          /* already gone */
        }
      }
    }
    this.streams.clear();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnect) clearTimeout(this.reconnect);
    this.reconnect = undefined;
    this.closeStreams();
    const client = this.client;
    this.client = undefined;
    this.cache?.setLinked(false);
    await client?.end().catch(() => {});
  }
}
