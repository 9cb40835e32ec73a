/**
 * The command line of `deno task validate:stats` (loco.ts) and its call of
 * NAB's scorer, `nab_score.py`.
 *
 * @module
 */
import { z } from "zod";

/** Parsed command line. */
export interface LocoArgs {
  input: string;
  out: string;
  scorer: string;
}

/** Usage text. */
export const USAGE =
  "usage: deno task validate:stats <NAB data folder> [--out <folder>] [--scorer <nab_score.py>]";

/**
 * Parses the command line. The scorer defaults to `<input>/../../tools/nab_score.py`
 * (the layout of `../shared`).
 *
 * @throws {TypeError} with the usage text on a bad command line.
 */
export function parseLocoArgs(args: readonly string[]): LocoArgs {
  let input: string | undefined;
  let out = "test-output/loco";
  let scorer: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = (name: string) => {
      const v = a.includes("=") ? a.slice(a.indexOf("=") + 1) : args[++i];
      if (!v) throw new TypeError(`Cannot parse arguments: ${name} needs a value\n${USAGE}`);
      return v;
    };
    if (a === "--out" || a.startsWith("--out=")) out = value("--out");
    else if (a === "--scorer" || a.startsWith("--scorer=")) scorer = value("--scorer");
    else if (a.startsWith("-")) {
      throw new TypeError(`Cannot parse arguments: unknown option ${a}\n${USAGE}`);
    } else if (input === undefined) input = a;
    else throw new TypeError(`Cannot parse arguments: unexpected ${a}\n${USAGE}`);
  }
  if (!input) throw new TypeError(`Cannot parse arguments: need the NAB data folder\n${USAGE}`);
  const base = input.replace(/\/+$/, "");
  return {
    input: base,
    out: out.replace(/\/+$/, ""),
    scorer: scorer ?? `${base}/../../tools/nab_score.py`,
  };
}

/** What `nab_score.py --json` writes at its optimised threshold (the parts read). */
export const optimisedSchema = z.object({
  results: z.array(z.object({
    profiles: z.record(z.string(), z.object({ normalized: z.number(), threshold: z.number() })),
  })).min(1),
});

/** Scores the results folder `dir` with `nab_score.py`, writing and returning its JSON. */
export async function score(args: LocoArgs, dir: string, json: string, threshold?: number) {
  const cmd = new Deno.Command("python3", {
    args: [
      args.scorer,
      dir,
      "--labels",
      `${args.input}/labels.json`,
      "--data-dir",
      args.input,
      "--detector",
      "vigil",
      "-q",
      "--json",
      json,
      ...(threshold === undefined ? [] : ["--threshold", String(threshold)]),
    ],
    stdout: "null",
    stderr: "piped",
  });
  const r = await cmd.output();
  if (!r.success) {
    throw new Error(`nab_score.py failed on ${dir}: ${new TextDecoder().decode(r.stderr)}`);
  }
  return JSON.parse(await Deno.readTextFile(json)) as unknown;
}
