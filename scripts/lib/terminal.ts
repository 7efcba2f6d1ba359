/** Colours for the terminal, only when it is one (and NO_COLOR is not set). */
import { stripVTControlCharacters, styleText } from "node:util";

const useColour = process.stdout.isTTY === true && process.env.NO_COLOR === undefined;

/** Text that may carry colour codes (vitest's diffs do), made plain when the output is not a terminal. */
export const plainUnlessTerminal = (text: string) => (useColour ? text : stripVTControlCharacters(text));
type Style = Parameters<typeof styleText>[0];
const paint = (style: Style) => (text: string) => (useColour ? styleText(style, text) : text);

export const green = paint("green");
export const red = paint("red");
export const yellow = paint("yellow");
export const bold = paint("bold");
export const dim = paint("dim");
export const cyan = paint("cyan");

/** Parses the chapter numbers among a script's arguments ("2", "02"). */
export function chapterNumbers(args: readonly string[]): number[] {
  return args.filter((a) => /^\d+$/.test(a)).map(Number);
}
