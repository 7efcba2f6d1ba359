/** Durations on the command line: "30s", "500ms", "2m" (a unit is required, so 30 is never a guess). */
const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000 };

/** `text` ("30s", "500ms", "1.5m") in ms, or an Error naming `flag` and the forms it takes. */
export function parseDuration(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text.trim());
  const ms = match === null ? Number.NaN : Math.round(Number(match[1]) * UNITS[match[2]!]!);
  if (!(ms > 0 && ms <= 2 ** 31 - 1)) throw new Error(`${flag} ${text} is not a duration: write it like 30s, 500ms or 2m`);
  return ms;
}
