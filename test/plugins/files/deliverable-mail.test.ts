// A deliverable reaches the workspace's people by email through a real SMTP server (the kernel's
// outbox worker and SMTP transport), with a link into the portal; the home widget shows it as new.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import { filesWorld, upload, type FilesWorld } from './helpers.ts';

const test = suite('files deliverable mail');
const received: ParsedMail[] = [];
let server: SMTPServer;
let w: FilesWorld;

test.before(async () => {
  server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData(stream, _session, cb) {
      simpleParser(stream).then((m) => {
        received.push(m);
        cb();
      }, cb);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as { port: number }).port;
  w = await filesWorld({ overrides: { mail: { transport: 'smtp', pollSeconds: 1, smtp: { host: '127.0.0.1', port, secure: false, requireTLS: false, ignoreTLS: true, user: '', pass: '' } } } });
});

test.after(async () => {
  await w.app.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test('staff upload a deliverable: every other member gets one email with a link; the widget counts it', async () => {
  // The client viewer saw Files before the delivery; the widget counts what came after.
  const res = await upload(w.as.staff, `${w.base}/upload`, [{ name: 'Final design.txt', data: 'the design' }], { deliverable: 'yes' });
  assert.is(res.status, 200, res.text);
  const file = await w.app.kernel.db('files_files').where({ workspace_id: w.ws.id, name: 'Final design.txt' }).first('id', 'delivered_at');
  assert.ok(file.delivered_at);
  for (let i = 0; i < 200 && received.length < 3; i++) await new Promise((r) => setTimeout(r, 50));
  const to = received.map((m) => (Array.isArray(m.to) ? m.to[0] : m.to)!.value[0]!.address).sort();
  assert.equal(to, ['client.admin@acme.example', 'client.member@acme.example', 'client.viewer@acme.example']);
  for (const m of received) {
    assert.is(m.subject, 'New deliverable: Final design.txt');
    assert.match(m.text ?? '', `http://127.0.0.1:3000/w/acme/files/f/${file.id}`);
  }
  const home = await w.as.client_viewer.get(`/w/${w.ws.slug}/`);
  assert.match(home.text, '1 new deliverable since your last visit');
  assert.match(home.text, 'Final design.txt');
  await w.as.client_viewer.get(`${w.base}/`);
  assert.match((await w.as.client_viewer.get(`/w/${w.ws.slug}/`)).text, 'No new deliverables since your last visit');
  assert.ok(await w.app.kernel.db('audit_events').where({ action: 'files.file.deliver', subject_id: file.id }).first());
});

test.run();
