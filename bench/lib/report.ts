/** Markdown of saved results (bench/results/*.json), for BENCHMARKS.md: `npm run bench -- --markdown`. */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatMarkdownTable, type SavedResult } from './harness.js';

export async function markdownReport(dir: string, names: readonly string[]): Promise<string> {
  const parts: string[] = [];
  for (const name of names) {
    const file = join(dir, `${name}.json`);
    if (!existsSync(file)) continue;
    const saved = JSON.parse(await readFile(file, 'utf8')) as Partial<SavedResult>;
    // Script-style benchmarks (run as child processes) write their own JSON shape: show it as it is.
    if (!Array.isArray(saved.rows) || !saved.machine) {
      parts.push(`### ${name}`, '```json', JSON.stringify(saved, null, 2).slice(0, 6_000), '```');
      continue;
    }
    parts.push(`### ${name}`);
    if (!saved.profile || !saved.date || !saved.machine || saved.durationMs === undefined) continue;
    parts.push(
      `Profile \`${saved.profile}\`, ${saved.date}, ${saved.machine.cores} × ${saved.machine.cpuModel}, ${saved.machine.memoryMiB} MiB, Node ${saved.machine.node}, ${(saved.durationMs / 1000).toFixed(0)} s${saved.loadAverage ? `, load average ${saved.loadAverage.start.toFixed(1)} → ${saved.loadAverage.end.toFixed(1)}` : ''}.`,
    );
    if (saved.rows.length > 0) parts.push(formatMarkdownTable({ rows: saved.rows }));
    if (saved.goals?.length) {
      parts.push(
        saved.goals
          .map(
            (g) =>
              `- **${g.met === null ? 'not measured' : g.met ? 'met' : 'missed'}** — ${g.description}: ${g.detail}`,
          )
          .join('\n'),
      );
    }
    if (saved.notes?.length) parts.push(saved.notes.map((n) => `- ${n}`).join('\n'));
  }
  return parts.join('\n\n');
}
