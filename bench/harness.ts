/**
 * What the benchmarks share: the description of the machine a figure was measured on,
 * a plain two-column table, and the parsing of their few numeric flags. A figure without
 * its machine is not comparable with any other, so every benchmark prints both.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';

/** The machine a benchmark ran on, as far as it matters for comparing figures. */
export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryBytes: number;
  readonly node: string;
}

/** Reads the CPU model from /proc/cpuinfo (Linux), with the core count and Node version. */
export function machineInfo(): MachineInfo {
  let cpuModel = 'unknown CPU';
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (match?.[1] !== undefined) cpuModel = match[1].trim();
  } catch {
    // Not Linux: the model stays unknown; the other figures still hold.
  }
  return { cpuModel, cores: availableParallelism(), memoryBytes: totalmem(), node: process.version };
}

/** The machine as one table row's value. */
export function describeMachine(m: MachineInfo): string {
  return `${m.cpuModel}, ${m.cores} cores, ${gib(m.memoryBytes)} RAM, Node ${m.node}`;
}

/** One row of a report table: a label and its value. */
export type Row = readonly [label: string, value: string];

/** Renders rows as a left-aligned two-column table under a title line. */
export function table(title: string, rows: readonly Row[]): string {
  const width = Math.max(...rows.map(([label]) => label.length));
  const body = rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`);
  return `${title}\n${body.join('\n')}\n`;
}

/** The median of a non-empty list (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length % 2 === 1) return sorted[mid] as number;
  return ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** A count with thousands separators. */
export function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Bytes as MiB with one decimal. */
export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** Bytes as GiB with two decimals. */
export function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
}

/** Flags of the form `--name N` with positive integer values; anything else is an error naming the usage. */
export function positiveIntFlags<K extends string>(argv: readonly string[], defaults: Readonly<Record<K, number>>, usage: string): Record<K, number> {
  const values: Record<K, number> = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${usage}\n`);
      process.exit(0);
    }
    const name = arg.startsWith('--') ? arg.slice(2) : '';
    if (!(name in defaults)) throw new Error(`unknown argument ${arg}\n${usage}`);
    const text = argv[++i];
    const value = Number(text);
    if (text === undefined || !Number.isSafeInteger(value) || value < 1) throw new Error(`${arg} needs a positive integer\n${usage}`);
    values[name as K] = value;
  }
  return values;
}
