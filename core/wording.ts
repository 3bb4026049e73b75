// How the kernel says things to people: possessives of names, role names and permission rules in
// words. Pages and mails use these instead of building text from raw keys (`client_admin`,
// `{"$in":[…]}`) or gluing "’s" onto a name ("Partners’s").

/**
 * The possessive of a name: "Harbor & Vale’s", and for a name ending in s, "Partners’" (not
 * "Partners’s"). Typographic apostrophe, as in the rest of the product's text.
 */
export function possessive(name: string): string {
  const trimmed = name.trim();
  if (!trimmed) return '';
  return /s$/i.test(trimmed) ? `${trimmed}’` : `${trimmed}’s`;
}
