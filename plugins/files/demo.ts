// The files plugin's demo data (the `demo` hook, core/demo.ts). The firm's staff member fills the
// demo workspaces the way the pages would: folders in both areas, PDFs (made with pdf-lib), a
// logo (PNG) and a budget (CSV), each checked by the upload's own sniffer, encrypted by the
// kernel's storage and recorded by service.ts (rows, audit event, `files.version.created`); a
// second version of the brand guidelines, delivered (the workspace is notified by preference,
// mail waits in the outbox); a client's download receipt; a client's upload, which tells the
// account team. Documents other plugins may build on are offered (`approvable`, `signable`).
import { Readable } from 'node:stream';
import { crc32, deflateSync } from 'node:zlib';
import { AtriumError, newId, transaction, type DemoContext, type DemoPerson, type DemoWorkspace, type Trx } from '../../core/index.ts';
import { bindFor } from './download.ts';
import { createFolder, deliver, notifyClientUpload, recordDownloads, recordVersion, type FilesDeps } from './service.ts';
import { sniff, SNIFF_BYTES } from '../../core/index.ts';

type Area = 'shared' | 'internal';
interface DemoFile {
  name: string;
  bytes: Buffer;
}

/** A small valid PDF: a coloured title band, a few paragraphs per page, page numbers. */
export async function demoPdf(title: string, subtitle: string, paragraphs: string[], pages = 1): Promise<Buffer> {
  const { PDFDocument, StandardFonts, rgb } = await import('pdf-lib');
  const doc = await PDFDocument.create();
  doc.setTitle(title);
  doc.setCreator('Atrium demo data');
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const bold = await doc.embedFont(StandardFonts.HelveticaBold);
  const width = 595;
  const height = 842;
  for (let n = 1; n <= pages; n++) {
    const page = doc.addPage([width, height]);
    page.drawRectangle({ x: 0, y: height - 110, width, height: 110, color: rgb(0.12, 0.31, 0.47) });
    page.drawText(title, { x: 56, y: height - 62, size: 22, font: bold, color: rgb(1, 1, 1) });
    page.drawText(subtitle, { x: 56, y: height - 88, size: 11, font, color: rgb(0.85, 0.9, 0.95) });
    let y = height - 160;
    for (const para of n === 1 ? paragraphs : [`${title}, continued.`, ...paragraphs.slice(1)]) {
      for (const line of wrap(para, 88)) {
        page.drawText(line, { x: 56, y, size: 11, font, color: rgb(0.15, 0.15, 0.15) });
        y -= 16;
      }
      y -= 12;
    }
    page.drawText(`Page ${n} of ${pages}`, { x: 56, y: 40, size: 9, font, color: rgb(0.4, 0.4, 0.4) });
  }
  return Buffer.from(await doc.save());
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/**
 * A logo tile as a PNG, drawn pixel by pixel (a sun over three bars on navy) and encoded with
 * zlib: no image library to load for one picture.
 */
export function demoPng(width = 480, height = 240): Buffer {
  const navy = [31, 78, 121];
  const sun = [242, 193, 78];
  const white = [255, 255, 255];
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    raw[row] = 0; // filter: none
    for (let x = 0; x < width; x++) {
      const inSun = (x - 110) ** 2 + (y - 120) ** 2 <= 56 ** 2;
      const bar = x >= 200 && x < 420 && [[84, 108, 420], [124, 140, 380], [156, 168, 330]].some(([top, bottom, end]) => y >= top! && y < bottom! && x < end!);
      raw.set(inSun ? sun : bar ? white : navy, row + 1 + x * 3);
    }
  }
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, no interlace
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

export async function seedFilesDemo(deps: FilesDeps, demo: DemoContext): Promise<void> {
  const northwind = demo.workspaces.northwind;
  const globex = demo.workspaces.globex;
  const sam = demo.people['sam.staff'];
  const ada = demo.people.ada;
  if (!northwind || !globex || !sam || !ada) throw new AtriumError('ATR_NOT_FOUND', 'the demo workspaces and people are missing');
  const now = () => demo.clock.now();
  const asSam = { actorId: sam.id, ip: null, userAgent: null };
  const by = `Prepared for ${northwind.name}`;

  // Bytes first (storage writes outside the transaction; an unrecorded blob is swept later).
  const [guidelines1, guidelines2, engagement, sow, review, welcome, po] = await Promise.all([
    demoPdf('Brand guidelines 2026', by, ['How the Northwind name, logo, colours and type are used across print, web and packaging.', 'Draft for review: colour values to be confirmed.'], 4),
    demoPdf('Brand guidelines 2026', by, ['How the Northwind name, logo, colours and type are used across print, web and packaging.', 'Final: colour values confirmed with the print supplier; the secondary palette is now accessible on white.'], 4),
    demoPdf('Engagement letter 2026', by, ['This letter sets out the scope of our work for Northwind Traders in 2026, our fees and how we will work together.', 'Please sign where shown to confirm that you agree to these terms.'], 2),
    demoPdf('Statement of work: website refresh', by, ['Scope: a refreshed website with a new product catalogue, built on the brand guidelines of 2026.', 'Milestones: design in April, build in May and June, launch in July. Fixed fee, invoiced per milestone.'], 3),
    demoPdf('Quarterly review Q1 2026', by, ['Sales grew 8% on the previous quarter; the new packaging line accounts for most of it.', 'Next quarter: the website refresh and a review of distribution costs.'], 3),
    demoPdf('Welcome pack', `Prepared for ${globex.name}`, ['Everything you need to get started: who is on your account team, how to share files with us and what to expect in the first month.'], 2),
    demoPdf('Purchase order PO-4471', 'Northwind Traders', ['Purchase order for the website refresh, first milestone.', 'Please quote PO-4471 on every invoice.'], 1),
  ]);
  const logo = demoPng();
  const budget = Buffer.from('month,planned,actual\nJanuary,12000,11850\nFebruary,12000,12410\nMarch,13500,13120\n', 'utf8');
  const notes = Buffer.from('# Pricing notes (internal)\n\n- Website refresh quoted at a fixed fee per milestone.\n- Review rates with the partners before the Q3 renewal.\n', 'utf8');

  const delivered = await transaction(deps.db, async (trx) => {
    const folder = (ws: DemoWorkspace, name: string, area: Area, clientAccess: 'view' | 'upload' | 'manage') =>
      createFolder(deps, trx, asSam, ws.id, { parentId: null, name, area, clientAccess, createdBy: sam.id, now: now() });
    const agreements = await folder(northwind, 'Agreements', 'shared', 'upload');
    const reports = await folder(northwind, 'Reports', 'shared', 'view');
    const papers = await folder(northwind, 'Firm working papers', 'internal', 'view');
    const onboarding = await folder(globex, 'Onboarding', 'shared', 'view');

    const put = (ws: DemoWorkspace, who: DemoPerson, f: DemoFile, at: { folderId: string | null; area: Area }) => store(deps, trx, ws, who, f, at, now());
    const guidelines = await put(northwind, sam, { name: 'Brand guidelines 2026.pdf', bytes: guidelines1 }, { folderId: null, area: 'shared' });
    await put(northwind, sam, { name: 'Northwind logo.png', bytes: logo }, { folderId: null, area: 'shared' });
    const letter = await put(northwind, sam, { name: 'Engagement letter 2026.pdf', bytes: engagement }, { folderId: agreements, area: 'shared' });
    const statement = await put(northwind, sam, { name: 'Statement of work - website refresh.pdf', bytes: sow }, { folderId: agreements, area: 'shared' });
    const quarterly = await put(northwind, sam, { name: 'Quarterly review Q1 2026.pdf', bytes: review }, { folderId: reports, area: 'shared' });
    await put(northwind, sam, { name: 'Budget 2026.csv', bytes: budget }, { folderId: reports, area: 'shared' });
    await put(northwind, sam, { name: 'Pricing notes.md', bytes: notes }, { folderId: papers, area: 'internal' });
    const pack = await put(globex, sam, { name: 'Welcome pack.pdf', bytes: welcome }, { folderId: onboarding, area: 'shared' });

    // The final brand guidelines: a second version, delivered (everyone in Northwind is told).
    const final = await store(deps, trx, northwind, sam, { name: 'Brand guidelines 2026.pdf', bytes: guidelines2 }, { folderId: null, area: 'shared', fileId: guidelines.fileId }, now());
    await deliver(deps, trx, asSam, northwind, { id: guidelines.fileId, name: 'Brand guidelines 2026.pdf' }, now());
    await deliver(deps, trx, asSam, globex, { id: pack.fileId, name: 'Welcome pack.pdf' }, now());

    // Ada answers with a purchase order: a client's upload, which tells the account team.
    const order = await put(northwind, ada, { name: 'Purchase order PO-4471.pdf', bytes: po }, { folderId: agreements, area: 'shared' });
    await notifyClientUpload(deps, trx, { id: ada.id, name: ada.name }, northwind, { id: agreements, name: 'Agreements', area: 'shared' }, [{ id: order.fileId, name: 'Purchase order PO-4471.pdf', area: 'shared', newVersion: false }]);

    demo.offer('approvable', { workspace: 'northwind', type: 'files.version', subjectId: statement.fileId, title: 'Statement of work: website refresh' });
    demo.offer('approvable', { workspace: 'northwind', type: 'files.version', subjectId: quarterly.fileId, title: 'Quarterly review Q1 2026' });
    demo.offer('signable', { workspace: 'northwind', fileId: letter.fileId, title: 'Engagement letter 2026' });
    return { fileId: guidelines.fileId, versionId: final.versionId };
  });

  // Ada downloads the delivered guidelines: a receipt, recorded as a download from the file page records it.
  await recordDownloads(deps, { actorId: ada.id, ip: null, userAgent: null }, northwind.id, ada.id, [delivered], 'file', {}, now());
}

/** Sniff, encrypt and store one file's bytes, then record them as a version (a new file unless `fileId`). */
async function store(deps: FilesDeps, trx: Trx, ws: DemoWorkspace, who: DemoPerson, f: DemoFile, at: { folderId: string | null; area: Area; fileId?: string }, now: number): Promise<{ fileId: string; versionId: string }> {
  const verdict = await sniff(f.name, f.bytes.subarray(0, SNIFF_BYTES));
  if (!verdict.ok) throw new AtriumError('ATR_VALIDATION', `demo file ${f.name}: ${verdict.reason}`);
  const fileId = at.fileId ?? newId();
  const versionId = newId();
  const blob = await deps.storage.put(Readable.from([f.bytes]), { bind: bindFor(fileId, versionId) });
  try {
    await recordVersion(deps, trx, { actorId: who.id, ip: null, userAgent: null }, ws.id, {
      fileId,
      versionId,
      blob,
      contentType: verdict.contentType,
      uploadedBy: who.id,
      now,
      name: f.name,
      ...(at.fileId ? {} : { newFile: { folderId: at.folderId, area: at.area } }),
    });
  } catch (err) {
    await deps.storage.discard(blob);
    throw err;
  }
  return { fileId, versionId };
}
