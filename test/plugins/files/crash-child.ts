// Child process for crash.test.ts: boots Atrium with `files` on the database given in argv,
// signs in a staff member and prints what the parent needs, then serves until it is killed.
import 'reflect-metadata';
import { filesWorld } from './helpers.ts';

const db = { ...JSON.parse(process.argv[2]!), drop: async () => undefined };
const w = await filesWorld({ db, slug: 'crash' });
const c = w.as.staff;
console.log(JSON.stringify({ url: w.app.url, cookie: [...c.cookies].map(([k, v]) => `${k}=${v}`).join('; '), csrf: c.csrf, base: w.base }));
