// The consent to do business electronically that every signer gives before signing (ESIGN
// §7001(c)). The text is versioned: a signer's record keeps the version and the SHA-256 of the
// exact text they agreed to, so a later change of wording never rewrites what someone accepted.
// To change the wording, add a new entry and point CURRENT at it; never edit a published one.
import { sha256Hex } from '../../core/index.ts';

export interface ConsentText {
  version: string;
  paragraphs: string[];
}

const TEXTS: Record<string, ConsentText> = {
  '2026-11-1': {
    version: '2026-11-1',
    paragraphs: [
      'You agree to review and sign this document electronically, and that your electronic signature has the same effect as a handwritten one.',
      'You may refuse: choose "Decline to sign" instead, or ask the sender for a paper copy to sign by hand. Withdrawing consent later does not undo a signature already given.',
      'To take part you need a device with a current web browser and a way to open PDF documents. You can download the document before you sign and receive the signed copy afterwards.',
      'We record when you opened, agreed and signed, your IP address and browser, and the document\'s SHA-256 fingerprint; these appear on the certificate attached to the signed document.',
    ],
  },
};

export const CURRENT_CONSENT = TEXTS['2026-11-1']!;

/** The fingerprint recorded with a consent: SHA-256 of the version and its paragraphs. */
export function consentHash(c: ConsentText): string {
  return sha256Hex(`${c.version}\n${c.paragraphs.join('\n')}`);
}

export function consentByVersion(version: string): ConsentText | undefined {
  return Object.hasOwn(TEXTS, version) ? TEXTS[version] : undefined;
}
