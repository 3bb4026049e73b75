// The text of a reply by email, without what the mail program added: the quoted message ("> "
// lines, "On … wrote:" and everything below it, Outlook's "From: … Sent: …" block, "-----Original
// Message-----"), the signature after "-- ", and mobile footers ("Sent from my iPhone"). Mail
// programs put the reply on top; anything they quote below the first such line is dropped whole,
// since quoted text is often not prefixed with ">" (Outlook, most HTML mail).

/** A line that starts what the mail program appended: cut here and drop the rest. */
const CUT_AT: RegExp[] = [
  /^-{2,}\s*Original Message\s*-{2,}\s*$/i, // Outlook (plain text), older clients
  /^-{2,}\s*Forwarded message\s*-{2,}\s*$/i, // Gmail
  /^Begin forwarded message:\s*$/i, // Apple Mail
  /^_{10,}\s*$/, // Outlook's rule above "From: … Sent: …"
  /^--\s?$/, // the signature delimiter ("-- ", often trimmed to "--" on the way)
  /^Sent from my [\w ,.'-]{1,40}$/i, // "Sent from my iPhone", "Sent from my Galaxy"
  /^Sent from (Outlook|Mail|Yahoo Mail|Proton Mail|ProtonMail|Samsung Mobile|Gmail)\b.{0,60}$/i, // "Sent from Mail for Windows"
  /^Sent (with|via) (Proton Mail|ProtonMail|BlackBerry|the Samsung|Superhuman|Spark)\b.{0,60}$/i,
  /^Get Outlook for (iOS|Android|Mac|Windows)\b.{0,80}$/i,
];

/** "On <date>, <name> wrote:" and its translations, on one line. */
const WROTE = /^(On|Le|Am|El|Il|Op|Den|På|Em)\s.{0,400}(wrote|a écrit|schrieb|escribió|ha scritto|schreef|skrev|escreveu)\s?:\s*$/i;
/** Gmail wraps a long attribution over two lines: "On …, Name <" / "name@host> wrote:". */
const WROTE_START = /^(On|Le|Am|El|Il|Op|Den|På|Em)\s.{4,400}$/i;
const WROTE_END = /^.{0,200}\b(wrote|a écrit|schrieb|escribió|ha scritto|schreef|skrev|escreveu)\s?:\s*$/i;
/** Outlook's header block: "From: …" followed within a few lines by "Sent: …" or "Date: …". */
const HEADER_FROM = /^\*?(From|De|Von|Van)\s?:\*?\s/i;
const HEADER_SENT = /^\*?(Sent|Date|Envoyé|Gesendet|Verzonden|Enviado)\s?:\*?\s/i;
const QUOTED = /^\s*>/;

/** Where the appended part starts (a line index; lines.length if nothing is), and whether it is an attribution. */
function cutAt(lines: string[]): { index: number; attribution: number } {
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    const raw = lines[i]!.replace(/\s+$/, '');
    if (CUT_AT.some((re) => re.test(raw) || re.test(line))) return { index: i, attribution: 0 };
    if (WROTE.test(line)) return { index: i, attribution: 1 };
    if (WROTE_START.test(line) && i + 1 < lines.length && WROTE_END.test(lines[i + 1]!.trim())) return { index: i, attribution: 2 };
    if (HEADER_FROM.test(line) && lines.slice(i + 1, i + 6).some((l) => HEADER_SENT.test(l.trim()))) return { index: i, attribution: 0 };
  }
  return { index: lines.length, attribution: 0 };
}

function ownLines(lines: string[]): string[] {
  const cut = cutAt(lines);
  const before = lines.slice(0, cut.index).filter((l) => !QUOTED.test(l));
  // Answers written between the quoted lines under an attribution (Thunderbird, mutt, anyone
  // who answers point by point): nothing above, and the rest is quoted with ">". Only then are
  // the unquoted lines below the attribution the reply; a block quoted without ">" never is.
  if (cut.attribution && before.every((l) => !l.trim())) {
    const rest = lines.slice(cut.index + cut.attribution);
    if (rest.some((l) => QUOTED.test(l))) return ownLines(rest);
  }
  return before;
}

/** Turn HTML into rough text (only when a message has no text part and no parser did it). */
export function htmlToPlain(html: string): string {
  return html
    .replace(/<(script|style|head)\b[\s\S]*?<\/\1>/gi, '')
    // The quoted message: everything from the first quote block on (replies go on top).
    .replace(/<(blockquote\b|div[^>]*\b(gmail_quote|moz-cite-prefix|OutlookMessageHeader)\b|div id="?(appendonsend|divRplyFwdMsg)"?)[\s\S]*$/i, '')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div|li|tr|h[1-6])>/gi, '\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&nbsp;/gi, ' ')
    .replace(/&lt;/gi, '<')
    .replace(/&gt;/gi, '>')
    .replace(/&quot;/gi, '"')
    .replace(/&#39;|&apos;/gi, "'")
    .replace(/&#(\d{1,7});/g, (_, d: string) => safeChar(Number(d)))
    .replace(/&#x([0-9a-f]{1,6});/gi, (_, h: string) => safeChar(Number.parseInt(h, 16)))
    .replace(/&amp;/gi, '&');
}

function safeChar(code: number): string {
  return code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff) ? String.fromCodePoint(code) : '';
}

/** The reply's own text: one string with `\n` line ends, trimmed; '' when nothing is left. */
export function replyText(body: string): string {
  const lines = body
    .replace(/\r\n?/g, '\n')
    .replace(/[\u2028\u2029]/g, '\n')
    .replace(/[\u00a0\u202f]/g, ' ')
    .replace(/[\u200b\u200c\u200d\ufeff]/g, '')
    .split('\n');
  const own = ownLines(lines).map((l) => l.replace(/\s+$/, ''));
  return own
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
