// Strict mail address and header checks (SECURITY.md control 46): no CR/LF or other control
// characters in any header field, and only plain `local@domain` addresses. Quoted local parts
// (`"a@evil.com x"@corp`), comments, display names and source routes are refused outright
// rather than parsed, since that is where header injection and misrouting bugs live
// (CVE-2021-23400, GHSA-mm7p-fcc7-pg87).
const ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
const LOCAL = `${ATEXT}(?:\\.${ATEXT})*`;
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const ADDRESS = new RegExp(`^${LOCAL}@(?:${LABEL}\\.)+[A-Za-z]{2,63}$`);
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f\u2028\u2029]/;

export function isPlainAddress(value: string): boolean {
  return value.length <= 320 && !CONTROL.test(value) && ADDRESS.test(value) && value.split('@')[0]!.length <= 64;
}

export function isSafeHeaderText(value: string): boolean {
  return !CONTROL.test(value);
}
