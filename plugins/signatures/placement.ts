// Where a signer's signature goes, as the send form chose it: one of the position presets (pdf.ts
// rectFor, the way without a pointer and without JavaScript), or a place the sender clicked on
// the rendered page (assets/placement.js), sent as the box's lower-left corner in PDF points and
// checked here against that page's size, so a stored placement always lies inside its page.
import { POSITIONS, rectFor, SIGNATURE_BOX, type PageSize, type Position } from './pdf.ts';

/** The position value of "the place marked on the page" (the form's select offers it once there is one). */
export const CLICKED = 'custom';

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A coordinate as the form sends it: a plain decimal number of points (at most 2 decimals kept). */
const COORD = /^-?\d{1,6}(\.\d{1,6})?$/;

/**
 * The signature box for one signer row: `position` is a preset, or CLICKED with `x`/`y` (the box's
 * lower-left corner, in points from the page's lower-left corner). A sentence for the form when
 * the choice is missing or the box would not lie wholly inside the page.
 */
export function placementFor(position: string, x: string, y: string, page: PageSize, pageNo: number): { rect: Rect } | { problem: string } {
  if (Object.hasOwn(POSITIONS, position)) return { rect: rectFor(position as Position, page) };
  if (position !== CLICKED) return { problem: 'Choose where the signature goes' };
  if (!COORD.test(x.trim()) || !COORD.test(y.trim())) return { problem: 'Mark the place on the page again, or choose a position' };
  const px = Math.round(Number(x) * 100) / 100;
  const py = Math.round(Number(y) * 100) / 100;
  const { width, height } = SIGNATURE_BOX;
  // The whole box on the page (a hair of tolerance for rounding in the browser).
  if (px < 0 || py < 0 || px + width > page.width + 0.01 || py + height > page.height + 0.01) return { problem: `That place is outside page ${pageNo}: the ${width} × ${height} point box must fit on the page. Mark it again, or choose a position.` };
  return { rect: { x: Math.min(px, page.width - width), y: Math.min(py, page.height - height), width, height } };
}
