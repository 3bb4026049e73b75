// GET /live: the signed-in person's own server-sent-event stream (core/live.ts).
// - 401 without a signed-in user; the stream only ever carries the current user's events.
// - Only an EventSource is answered with a stream: a request that does not accept
//   text/event-stream, or comes from htmx (HX-Request), gets a short 406. Crawlers, prefetchers
//   and the isolation kit's GET of every route therefore get an answer that ends.
// - A comment line every 25 s keeps proxies from timing the stream out; shutdown ends it.
import { Router } from 'express';
import type { HttpDeps } from '../deps.ts';
import { streamKey } from '../../live.ts';



export function liveRoutes(deps: HttpDeps): Router {
  const r = Router();
  r.get('/live', (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    const user = req.ctx.user;
    if (!user) {
      res.status(401).type('text/plain').send('Sign in first.');
      return;
    }
    if (req.get('hx-request') || !(req.get('accept') ?? '').includes('text/event-stream')) {
      res.status(406).type('text/plain').send('This address serves an event stream (Accept: text/event-stream).');
      return;
    }
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('X-Accel-Buffering', 'no');
    res.setHeader('Connection', 'keep-alive');
    res.flushHeaders();
    let done = false;
    // Each heartbeat also checks the session is still alive: a session ended anywhere (signed
    // out elsewhere, "sign out other sessions", a password reset, a disabled account) ends its
    // streams within one beat even when no one told this process.
    const idHash = req.ctx.session!.idHash;
    const heartbeat = setInterval(() => {
      void deps.db('sessions').where({ id_hash: idHash }).andWhere('expires_at', '>', deps.clock.now()).first('id_hash').then(
        (alive) => (alive ? res.write(': heartbeat\n\n') : (finish(), res.end())),
        () => res.write(': heartbeat\n\n'),
      );
    }, deps.live.heartbeatMs);
    heartbeat.unref();
    const unsubscribe = deps.live.subscribe(user.id, {
      key: streamKey(idHash),
      send(event, data) {
        const lines = data.split(/\r\n|\r|\n/).map((l) => `data: ${l}`).join('\n');
        res.write(`event: ${event}\n${lines}\n\n`);
      },
      close() {
        finish();
        res.end();
      },
    });
    const finish = () => {
      if (done) return;
      done = true;
      clearInterval(heartbeat);
      unsubscribe();
    };
    req.on('close', finish);
    res.on('close', finish);
    // Written once subscribed, so a client that has read it misses nothing published after.
    res.write('retry: 5000\n: connected\n\n');
  });
  return r;
}
