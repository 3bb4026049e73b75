// The messaging plugin's demo data (the `demo` hook, core/demo.ts): in Northwind's general thread a
// short exchange about a supplier contract (Ada asks, an internal note of the firm, Sam answers),
// and a conversation with its own subject (Eli asks about the board pack, Sam answers). Written
// through service.ts (rows, audit events, read marks, the mail batches), on a clock set back so the
// conversation reads as the last few days. Ada has not read Sam's answer about the board pack yet:
// a new firm sees the menu's unread count and the "new" badge at once.
import { AtriumError, transaction, type DemoContext } from '../../core/index.ts';
import { toThread } from './repo.ts';
import { ensureThread, markRead, postMessage, type MessagingDeps } from './service.ts';

const HOUR = 3_600_000;

export async function seedMessagingDemo(deps: MessagingDeps, demo: DemoContext): Promise<void> {
  const ws = demo.workspaces.northwind;
  const { ada, eli } = demo.people;
  const sam = demo.people['sam.staff'];
  if (!ws || !ada || !eli || !sam) throw new AtriumError('ATR_NOT_FOUND', 'the demo workspaces and people are missing');
  const now = demo.clock.now();
  const as = (p: { id: string }) => ({ actorId: p.id, ip: null, userAgent: null });

  /** Post as `who`, `hoursAgo` before now (the service reads the time from the clock it is given). */
  const post = (key: { kind: 'general' | 'topic'; key: string; title: string }, who: typeof ada, firm: boolean, hoursAgo: number, body: string, visibility: 'public' | 'internal' = 'public') => {
    const at = now - hoursAgo * HOUR;
    const d: MessagingDeps = { ...deps, clock: { now: () => at } };
    return transaction(deps.db, async (trx) => {
      const made = await ensureThread(d, trx, { workspaceId: ws.id, kind: key.kind, key: key.key, title: key.title, createdBy: who.id, actor: as(who) });
      const thread = toThread((await trx('messaging_threads').where({ id: made.id, workspace_id: ws.id }).first()) as Record<string, unknown>);
      await postMessage(d, trx, { workspaceId: ws.id, thread, authorId: who.id, authorFirm: firm, body, visibility, attachments: [], via: 'portal', actor: as(who) });
      return { threadId: thread.id, at };
    });
  };

  const general = { kind: 'general' as const, key: 'general', title: 'General' };
  await post(general, ada, false, 50, "Hello Sam,\n\nContoso sent us their draft supply agreement this morning. Could you look at **clause 12** (limitation of liability) before Friday? Their draft caps liability at the fees paid in the last three months, which seems low to us.");
  await post(general, sam, true, 47, 'A three-month cap is well below market for a contract of this size. I will propose twelve months of fees, with confidentiality and data protection breaches outside the cap. Worth a partner’s look before it goes out.', 'internal');
  const answer = await post(general, sam, true, 26, "Thanks, Ada. We agree the cap is low. We suggest:\n\n- twelve months of fees as the cap;\n- breaches of confidentiality and data protection outside it.\n\nYou will have a marked-up draft by Thursday.");
  await post(general, ada, false, 25, 'Perfect, thank you. Thursday works for us.');

  const board = { kind: 'topic' as const, key: 'topic:demo-board-pack', title: 'Board pack for the March meeting' };
  const question = await post(board, eli, false, 20, 'Hi, could the board pack include a one-page summary of the open contracts? The board meets on the 14th.');
  await post(board, sam, true, 3, 'Yes, of course. We will add a one-page summary of the six open contracts, with their renewal dates, and send the pack by the 10th.');

  // Who has read what: everyone the general thread up to its end (Ada wrote its last message),
  // and in the board pack thread Eli and Sam their own; Ada has not opened it.
  await transaction(deps.db, async (trx) => {
    for (const p of [sam, eli]) await markRead(trx, ws.id, answer.threadId, p.id, now - 25 * HOUR, now - 24 * HOUR);
    await markRead(trx, ws.id, question.threadId, eli.id, now - 3 * HOUR, now - HOUR);
  });
}
