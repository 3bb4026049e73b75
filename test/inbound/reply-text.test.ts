// The text of a reply by email without what mail programs add: table-driven, with the shapes
// Gmail, Outlook (desktop, web, iOS), Apple Mail and Thunderbird really produce.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { htmlToPlain, replyText } from '../../core/inbound/reply-text.ts';

const test = suite('inbound reply text');

const cases: Array<{ name: string; body: string; want: string }> = [
  {
    name: 'Gmail: attribution on one line, quoted with ">"',
    body: `Thanks, the March statements are attached.\r\n\r\nAda\r\n\r\nOn Thu, Dec 3, 2026 at 10:04 AM Harbor & Vale LLP <portal@harbor.example> wrote:\r\n\r\n> Olivia Owner wrote in "Year-end documents":\r\n> Could you send the March bank statements?\r\n>\r\n`,
    want: 'Thanks, the March statements are attached.\n\nAda',
  },
  {
    name: 'Gmail: a long attribution wrapped over two lines',
    body: `Yes, Tuesday works.\n\nOn Thu, Dec 3, 2026 at 10:04 AM Harbor & Vale LLP via Atrium <\nportal@harbor.example> wrote:\n\n> When can we meet?\n`,
    want: 'Yes, Tuesday works.',
  },
  {
    name: 'Apple Mail: "On <date>, at <time>, <name> wrote:" and the iPhone footer',
    body: `Got it, will sign tonight.\n\nSent from my iPhone\n\n> On 3 Dec 2026, at 10:04, Harbor & Vale LLP <portal@harbor.example> wrote:\n>\n> Please sign the engagement letter.\n`,
    want: 'Got it, will sign tonight.',
  },
  {
    name: 'Apple Mail on a Mac: attribution without a footer',
    body: `Attached.\n\n> On 3 Dec 2026, at 10:04, Olivia Owner <owner@harbor.example> wrote:\n> \n> Please send it.\n`,
    want: 'Attached.',
  },
  {
    name: 'Outlook desktop: the rule, then From / Sent / To / Subject, not quoted',
    body: `Hi Olivia,\n\nPlease find the payroll file attached.\n\nKind regards,\nBen\n\n________________________________\nFrom: Harbor & Vale LLP <portal@harbor.example>\nSent: Thursday, December 3, 2026 10:04 AM\nTo: Ben Baker <ben@northwind.example>\nSubject: New message in "Payroll"\n\nOlivia Owner wrote: Could you send the payroll file?\n`,
    want: 'Hi Olivia,\n\nPlease find the payroll file attached.\n\nKind regards,\nBen',
  },
  {
    name: 'Outlook: the header block in bold (HTML turned to text), no rule',
    body: `Done, thanks.\n\n*From:* Harbor & Vale LLP <portal@harbor.example>\n*Sent:* Thursday, December 3, 2026 10:04\n*To:* ben@northwind.example\n*Subject:* Re: Payroll\n\nThe old message\n`,
    want: 'Done, thanks.',
  },
  {
    name: 'Outlook (plain text, older): -----Original Message-----',
    body: `Confirmed.\n\n-----Original Message-----\nFrom: portal@harbor.example\nSent: 03 December 2026 10:04\nSubject: Payroll\n\nPlease confirm.\n`,
    want: 'Confirmed.',
  },
  {
    name: 'Outlook for iOS: "Get Outlook for iOS" footer, then the header block',
    body: `On my way to the bank now.\n\nGet Outlook for iOS<https://aka.ms/o0ukef>\n________________________________\nFrom: Harbor & Vale LLP <portal@harbor.example>\nSent: Thursday, December 3, 2026 10:04:12 AM\n`,
    want: 'On my way to the bank now.',
  },
  {
    name: 'A "-- " signature delimiter drops the signature',
    body: `See the figures below:\n  Q1 1,200\n  Q2 1,450\n\n-- \nBen Baker | Northwind Traders\n+1 555 0100\n`,
    want: 'See the figures below:\n  Q1 1,200\n  Q2 1,450',
  },
  {
    name: 'Thunderbird: quoted lines interleaved with answers keep the answers',
    body: `On 03/12/2026 10:04, Harbor & Vale LLP wrote:\n> Question one?\nAnswer one.\n> Question two?\nAnswer two.\n`,
    want: 'Answer one.\nAnswer two.',
  },
  {
    name: 'Inline answers without an attribution: only the ">" lines go',
    body: `> Question one?\nAnswer one.\n\n> Question two?\nAnswer two.\n`,
    want: 'Answer one.\n\nAnswer two.',
  },
  {
    name: 'A sentence that starts with "On" and mentions writing is kept',
    body: `On Monday I will send the letter we wrote about.\nThanks`,
    want: 'On Monday I will send the letter we wrote about.\nThanks',
  },
  {
    name: 'French Gmail: "Le … a écrit :"',
    body: `Merci, c'est noté.\n\nLe jeu. 3 déc. 2026 à 10:04, Harbor & Vale LLP <portal@harbor.example> a écrit :\n> Bonjour\n`,
    want: "Merci, c'est noté.",
  },
  {
    name: 'Android footer, non-breaking spaces and blank runs',
    body: `Fine\u00a0by me.\n\n\n\nSee you then.\n\nSent from my Galaxy\n`,
    want: 'Fine by me.\n\nSee you then.',
  },
  {
    name: 'Only quoted text: nothing of the reply is left',
    body: `> Could you send it?\n> Thanks\n`,
    want: '',
  },
];

for (const c of cases) {
  test(c.name, () => {
    assert.is(replyText(c.body), c.want);
  });
}

test('HTML-only mail: the quote block (Gmail, Outlook, Apple) and tags are dropped, entities decoded', () => {
  const gmail = `<div dir="ltr">Sure &amp; thanks &#8212; see you <b>Tuesday</b>.<br><br>Ada</div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Thu, Dec 3, 2026 at 10:04 AM Harbor &amp; Vale LLP &lt;portal@harbor.example&gt; wrote:<br></div><blockquote class="gmail_quote">When?</blockquote></div>`;
  assert.is(replyText(htmlToPlain(gmail)), 'Sure & thanks — see you Tuesday.\n\nAda');
  const outlook = `<html><head><style>p{margin:0}</style></head><body><div>Approved.</div><div id="appendonsend"></div><hr><div id="divRplyFwdMsg"><b>From:</b> Harbor &amp; Vale LLP<br><b>Sent:</b> Thursday</div><div>old</div></body></html>`;
  assert.is(replyText(htmlToPlain(outlook)), 'Approved.');
  const apple = `<html><body><div>Yes.</div><div><br><blockquote type="cite"><div>On 3 Dec 2026, at 10:04, Olivia wrote:</div><div>Ok?</div></blockquote></div></body></html>`;
  assert.is(replyText(htmlToPlain(apple)), 'Yes.');
  assert.is(htmlToPlain('<p>a &#0; b &#xD800; c</p>').trim(), 'a  b  c', 'no NUL or lone surrogate from entities');
});

test.run();
