/**
 * What every stub in `chapters/` throws until the reader writes it.
 *
 * It deliberately extends plain `Error`, not `TypeError` or `SyntaxError`:
 * a test that expects one of those must not pass just because a stub threw.
 */
export class NotImplementedError extends Error {
  override name = "NotImplementedError";
  constructor(what: string) {
    super(`${what} is not written yet: this is your exercise (see the chapter page)`);
  }
}
