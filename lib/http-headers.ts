/**
 * HTTP header data as plain objects, so the handshake checks work on anything:
 * node:http's `req.headers`, a parsed response, or a form in the browser.
 * Header names are case-insensitive (RFC 9110 §5.1); node gives them lower-cased.
 */
export type HeaderValue = string | string[] | undefined;
export type Headers = Record<string, HeaderValue>;

/** The value of header `name`, looked up case-insensitively; repeated fields joined with ", ". */
export function getHeader(headers: Headers, name: string): string | undefined {
  const wanted = name.toLowerCase();
  const values: string[] = [];
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== wanted || value === undefined) continue;
    values.push(...(Array.isArray(value) ? value : [value]));
  }
  // RFC 9110 §5.3: repeated fields mean the same as one field with the values comma-joined.
  return values.length === 0 ? undefined : values.join(", ");
}

/** Splits a comma-separated header value into lower-cased tokens ("keep-alive, Upgrade" → ["keep-alive", "upgrade"]). */
export function headerTokens(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(",")
    .map((token) => token.trim().toLowerCase())
    .filter((token) => token !== "");
}
