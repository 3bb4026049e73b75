// Times as people read them (core/time.ts): the exact time in a zone, relative times, the start
// of a day in a zone across daylight-saving changes, and which zones are accepted.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { pastTense, ActivitySentences } from '../core/activity.ts';
import { formatDay, formatExact, formatRelative, isTimeZone, startOfDay, timeZones, zoneOffset } from '../core/time.ts';

const test = suite('time');
const at = Date.parse('2026-12-04T17:30:00Z');

test('the exact time is shown in the reader’s zone, with the zone named', () => {
  assert.is(formatExact(at, 'UTC'), '4 Dec 2026, 17:30 UTC');
  assert.match(formatExact(at, 'Asia/Tokyo'), /^5 Dec 2026, 02:30 GMT\+9$/);
  assert.match(formatExact(at, 'America/New_York'), /^4 Dec 2026, 12:30 (EST|GMT-5)$/);
  assert.is(formatDay(at, 'Asia/Tokyo'), '5 Dec 2026');
  // An unknown zone falls back to UTC rather than throwing while a page renders.
  assert.is(formatExact(at, 'Mars/Olympus'), '4 Dec 2026, 17:30 UTC');
});

test('relative times: just now, minutes, hours, calendar days in the zone, then the date', () => {
  assert.is(formatRelative(at - 10_000, at, 'UTC'), 'just now');
  assert.is(formatRelative(at - 5 * 60_000, at, 'UTC'), '5 minutes ago');
  assert.is(formatRelative(at - 2 * 3_600_000, at, 'UTC'), '2 hours ago');
  assert.is(formatRelative(at + 3 * 3_600_000, at, 'UTC'), 'in 3 hours');
  assert.is(formatRelative(at - 26 * 3_600_000, at, 'UTC'), 'yesterday');
  assert.is(formatRelative(at - 3 * 86_400_000, at, 'UTC'), '3 days ago');
  assert.is(formatRelative(at - 90 * 86_400_000, at, 'UTC'), '5 Sept 2026');
  // Calendar days in the reader's zone: 01:00 on the 4th seen at 23:00 on the 5th is "yesterday"
  // in Tokyo, while the same two instants are two days apart in UTC.
  const now = Date.parse('2026-12-05T14:00:00Z'); // 23:00 on the 5th in Tokyo
  const then = Date.parse('2026-12-03T16:00:00Z'); // 01:00 on the 4th in Tokyo
  assert.is(formatRelative(then, now, 'Asia/Tokyo'), 'yesterday');
  assert.is(formatRelative(then, now, 'UTC'), '2 days ago');
});

test('a day starts at its local midnight, also on a daylight-saving change', () => {
  assert.is(new Date(startOfDay('2026-12-04', 'UTC')).toISOString(), '2026-12-04T00:00:00.000Z');
  assert.is(new Date(startOfDay('2026-12-04', 'Europe/Paris')).toISOString(), '2026-12-03T23:00:00.000Z');
  assert.is(new Date(startOfDay('2026-07-04', 'Europe/Paris')).toISOString(), '2026-07-03T22:00:00.000Z');
  // Europe/London moves to summer time on 29 March 2026 at 01:00: midnight is still GMT.
  assert.is(new Date(startOfDay('2026-03-29', 'Europe/London')).toISOString(), '2026-03-29T00:00:00.000Z');
  assert.is(new Date(startOfDay('2026-03-30', 'Europe/London')).toISOString(), '2026-03-29T23:00:00.000Z');
  assert.is(zoneOffset(Date.parse('2026-07-01T12:00:00Z'), 'Asia/Kolkata'), 5.5 * 3_600_000);
});

test('only real IANA zones are accepted', () => {
  for (const tz of ['UTC', 'Europe/London', 'America/Argentina/Buenos_Aires', 'Etc/GMT+5']) assert.ok(isTimeZone(tz), tz);
  for (const tz of ['', 'Mars/Olympus', 'Europe/London\r\nX', '../../etc', 'a'.repeat(80), 42, null]) assert.not.ok(isTimeZone(tz), String(tz));
  const zones = timeZones();
  assert.ok(zones.includes('UTC') && zones.includes('Europe/Paris') && zones.length > 300);
});

test('activity sentences: a plugin words only its own actions, once; an action without one still reads as words', () => {
  assert.is(pastTense('rename'), 'renamed');
  assert.is(pastTense('copy'), 'copied');
  assert.is(pastTense('send'), 'sent');
  assert.is(pastTense('requestChanges'), 'requested changes');
  const s = new ActivitySentences();
  s.seed('notes', { 'notes.note.create': '{actor} wrote {subject}' });
  assert.throws(() => s.seed('other', { 'notes.note.delete': '{actor} deleted {subject}' }), /must be for its own actions/);
  assert.throws(() => s.seed('notes', { 'notes.note.create': 'again' }), /given by notes and notes/);
});

test.run();
