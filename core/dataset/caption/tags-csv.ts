// The label file of WD14-style taggers (SmilingWolf's `selected_tags.csv`): one row per model
// output, in output order, with columns tag_id,name,category,count.
export const TAG_CATEGORIES = { general: 0, character: 4, rating: 9 } as const;

export type TagKind = 'general' | 'character' | 'rating';

export interface TagLabel {
  name: string;
  /** The CSV's category number (0 general, 4 character, 9 rating; others count as general). */
  category: number;
  kind: TagKind;
}

const REQUIRED_COLUMNS = ['name', 'category'] as const;

/** One CSV line into fields: commas separate, double quotes wrap, `""` is a quote. */
function splitCsvLine(line: string): string[] {
  const fields: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      fields.push(cur);
      cur = '';
    } else cur += ch;
  }
  fields.push(cur);
  return fields;
}

export function kindOfCategory(category: number): TagKind {
  if (category === TAG_CATEGORIES.rating) return 'rating';
  if (category === TAG_CATEGORIES.character) return 'character';
  return 'general';
}

/** Parses `selected_tags.csv`; throws naming the line of the first bad row. */
export function parseTagsCsv(text: string): TagLabel[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const header = splitCsvLine(lines[0] ?? '').map((h) => h.trim().toLowerCase());
  const missing = REQUIRED_COLUMNS.filter((c) => !header.includes(c));
  if (missing.length) {
    throw new Error(
      `tags CSV header is "${lines[0] ?? ''}": missing column(s) ${missing.join(', ')} ` +
        '(expected tag_id,name,category,count)',
    );
  }
  const nameAt = header.indexOf('name');
  const categoryAt = header.indexOf('category');
  const labels: TagLabel[] = [];
  for (let i = 1; i < lines.length; i++) {
    if (!lines[i].trim()) continue;
    const f = splitCsvLine(lines[i]);
    const name = f[nameAt];
    const category = Number(f[categoryAt]);
    if (!name || !Number.isInteger(category)) {
      throw new Error(
        `tags CSV line ${i + 1} ("${lines[i]}"): needs a name and an integer category`,
      );
    }
    labels.push({ name, category, kind: kindOfCategory(category) });
  }
  if (!labels.length) throw new Error('tags CSV has a header but no tag rows');
  return labels;
}
