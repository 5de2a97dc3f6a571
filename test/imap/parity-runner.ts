/**
 * Runs one IMAP transcript against two servers (Dovecot and Sealbox) and
 * records every step's full answer, for the parity tests of extensions
 * (dovecot-parity-extensions.test.ts).
 *
 * Invariants:
 * - Both servers get byte-identical requests, except where a step is built
 *   from a value the same server answered earlier (a UIDVALIDITY, a MODSEQ):
 *   such values are captured per server, so each server is asked about its own.
 * - A step's answer is every line up to and including its tagged completion,
 *   continuation requests included, literals inlined.
 */
import { WireClient, quote } from "./harness.ts";

export type Vars = Record<string, string>;

export interface KnownDifference {
  why: string;
  dovecot: string[];
  sealbox: string[];
}

export interface StepObject {
  /** Command text after the tag; a function builds it from captured values. */
  send?: string | ((vars: Vars) => string);
  /**
   * A command sent in pieces: after each piece but the last the server must
   * answer with a continuation request (synchronizing literals), which is recorded.
   */
  parts?: (string | Buffer)[];
  /** Which session sends it (the second one is logged in too, nothing selected). */
  session?: "main" | "second";
  /** Values to take from this step's answer: name → pattern with one group. */
  capture?: Record<string, RegExp>;
  differs?: KnownDifference;
  /** How the step is named in the test list (default: the command text). */
  label?: string;
}

export type Step = string | StepObject;

export interface Target {
  port: number;
  user: string;
  password: string;
}

export async function connect(target: Target): Promise<WireClient> {
  const client = await WireClient.connect(target.port);
  await client.readLine();
  const login = await client.command(`LOGIN ${quote(target.user)} ${quote(target.password)}`);
  if (login.status !== "OK") throw new Error(`login failed: ${login.tagged}`);
  return client;
}

export function stepObject(step: Step): StepObject {
  return typeof step === "string" ? { send: step } : step;
}

export function labelOf(step: Step): string {
  const object = stepObject(step);
  if (object.label) return object.label;
  const text = typeof object.send === "function" ? object.send({}) : (object.send ?? String(object.parts?.[0] ?? "")).split("\r\n")[0];
  return object.session === "second" ? `(second session) ${text}` : text;
}

/** Runs the transcript; returns, per step, the raw lines (untagged, continuations, tagged). */
export async function record(target: Target, transcript: readonly Step[]): Promise<string[][]> {
  const sessions = { main: await connect(target), second: await connect(target) };
  const vars: Vars = {};
  const answers: string[][] = [];
  let n = 0;
  try {
    for (const step of transcript) {
      const object = stepObject(step);
      const client = sessions[object.session ?? "main"];
      const tag = `P${++n}`;
      const lines: string[] = [];
      if (object.parts) {
        for (let i = 0; i < object.parts.length; i++) {
          const part = object.parts[i];
          client.write(i === 0 ? Buffer.concat([Buffer.from(`${tag} `), Buffer.from(part)]) : part);
          if (i < object.parts.length - 1) {
            const line = await client.readLine();
            lines.push(line ?? "<closed>");
            if (!line?.startsWith("+")) break;
          }
        }
      } else {
        const text = typeof object.send === "function" ? object.send(vars) : (object.send ?? "");
        client.write(`${tag} ${text}\r\n`);
      }
      const last = lines.at(-1);
      if (last === undefined || !last.startsWith(`${tag} `)) {
        const result = await client.readTagged(tag);
        lines.push(...result.lines, result.tagged);
      }
      for (const [name, pattern] of Object.entries(object.capture ?? {})) {
        const match = lines.map((line) => pattern.exec(line)).find((m) => m);
        if (!match) throw new Error(`step ${n}: nothing to capture as ${name} in ${JSON.stringify(lines)}`);
        vars[name] = match[1];
      }
      answers.push(lines);
    }
  } finally {
    sessions.main.close();
    sessions.second.close();
  }
  return answers;
}

export interface Rule {
  why: string;
  apply(line: string, command: string): string | null;
}

export function normalize(lines: string[], command: string, rules: readonly Rule[]): string[] {
  const out: string[] = [];
  for (const original of lines) {
    let line: string | null = original;
    for (const rule of rules) {
      if (line === null) break;
      line = rule.apply(line, command);
    }
    if (line !== null) out.push(line);
  }
  return out;
}
