/** A GitHub-flavoured markdown table with padded columns; `align` marks right-aligned columns. */
export function markdownTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  align: readonly ('left' | 'right')[] = [],
): string {
  const body = rows.map((r) => headers.map((_, i) => (r[i] ?? '').replace(/\|/g, '\\|')));
  const widths = headers.map((h, i) => Math.max(3, h.length, ...body.map((r) => r[i]!.length)));
  const cell = (text: string, i: number) =>
    align[i] === 'right' ? text.padStart(widths[i]!) : text.padEnd(widths[i]!);
  const line = (cells: readonly string[]) => `| ${cells.map(cell).join(' | ')} |`;
  const rule = widths.map((w, i) => '-'.repeat(w + 1) + (align[i] === 'right' ? ':' : '-'));
  return [line(headers), `|${rule.join('|')}|`, ...body.map(line)].join('\n');
}
