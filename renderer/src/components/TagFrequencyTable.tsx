// ss_tag_frequency as a table the user can sort by tag or by count (click a column header).

import { useMemo, useState } from 'react';
import type { LoraDetails } from '../../../core/api';

type SortKey = 'count' | 'tag';

export function TagFrequencyTable(props: { tags: LoraDetails['tagFrequency'] }) {
  const [sort, setSort] = useState<{ key: SortKey; desc: boolean }>({ key: 'count', desc: true });
  const rows = useMemo(() => {
    const sorted = [...props.tags].sort((a, b) =>
      sort.key === 'count'
        ? a.count - b.count || a.tag.localeCompare(b.tag)
        : a.tag.localeCompare(b.tag),
    );
    return sort.desc ? sorted.reverse() : sorted;
  }, [props.tags, sort]);
  if (props.tags.length === 0) {
    return <p className="muted small">This LoRA records no tag frequency (ss_tag_frequency).</p>;
  }
  const header = (key: SortKey, label: string, className?: string) => {
    const active = sort.key === key;
    return (
      <th
        scope="col"
        className={className}
        aria-sort={active ? (sort.desc ? 'descending' : 'ascending') : 'none'}
      >
        <button
          type="button"
          className="quiet"
          data-testid={`sort-${key}`}
          onClick={() => setSort({ key, desc: active ? !sort.desc : key === 'count' })}
        >
          {label}
          {active ? (sort.desc ? ' ▼' : ' ▲') : ''}
        </button>
      </th>
    );
  };
  return (
    <table className="table" data-testid="tag-frequency">
      <thead>
        <tr>
          {header('tag', 'Tag')}
          {header('count', 'Count', 'num')}
        </tr>
      </thead>
      <tbody>
        {rows.map((t) => (
          <tr key={t.tag}>
            <td>{t.tag}</td>
            <td className="num">{t.count}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
