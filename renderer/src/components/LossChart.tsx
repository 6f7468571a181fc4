// A line chart of a per-step series as plain SVG polylines (raw and, optionally, smoothed):
// cheap to redraw on every step, no chart library needed for a few thousand points.
import { smoothed } from '../train-form';

const W = 480;
const H = 160;
const PAD = { left: 48, right: 8, top: 8, bottom: 20 };

export interface SeriesPoint {
  step: number;
  value: number;
}

function ticksLabel(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e-2 && a < 1e4 ? v.toPrecision(3) : v.toExponential(1);
}

export function LineChart(props: {
  title: string;
  points: readonly SeriesPoint[];
  /** Draw an exponentially smoothed line over the raw one. */
  smooth?: boolean;
  testId: string;
}) {
  const { points } = props;
  const finite = points.filter((p) => Number.isFinite(p.value));
  const values = finite.map((p) => p.value);
  const smooth = props.smooth ? smoothed(values) : undefined;
  const minV = values.length ? Math.min(...values) : 0;
  const maxV = values.length ? Math.max(...values) : 1;
  const span = maxV - minV || Math.abs(maxV) || 1;
  const lo = maxV === minV ? minV - span / 2 : minV;
  const hi = maxV === minV ? maxV + span / 2 : maxV;
  const minS = finite.length ? finite[0].step : 0;
  const maxS = finite.length ? finite[finite.length - 1].step : 1;
  const x = (s: number) =>
    PAD.left + ((s - minS) / (maxS - minS || 1)) * (W - PAD.left - PAD.right);
  const y = (v: number) => PAD.top + (1 - (v - lo) / (hi - lo)) * (H - PAD.top - PAD.bottom);
  const line = (vals: readonly number[]) =>
    finite.map((p, i) => `${x(p.step).toFixed(1)},${y(vals[i]).toFixed(1)}`).join(' ');

  return (
    <figure className="chart" data-testid={props.testId} data-points={finite.length}>
      <figcaption className="small muted">{props.title}</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={props.title}>
        <line
          className="chart-axis"
          x1={PAD.left}
          y1={H - PAD.bottom}
          x2={W - PAD.right}
          y2={H - PAD.bottom}
        />
        <line className="chart-axis" x1={PAD.left} y1={PAD.top} x2={PAD.left} y2={H - PAD.bottom} />
        <text className="chart-label" x={PAD.left - 4} y={PAD.top + 8} textAnchor="end">
          {ticksLabel(hi)}
        </text>
        <text className="chart-label" x={PAD.left - 4} y={H - PAD.bottom} textAnchor="end">
          {ticksLabel(lo)}
        </text>
        <text className="chart-label" x={PAD.left} y={H - 4}>
          {finite.length ? `step ${minS + 1}` : 'no steps yet'}
        </text>
        <text className="chart-label" x={W - PAD.right} y={H - 4} textAnchor="end">
          {finite.length ? `step ${maxS + 1}` : ''}
        </text>
        {finite.length > 0 && (
          <polyline className={smooth ? 'chart-raw' : 'chart-main'} points={line(values)} />
        )}
        {finite.length > 0 && smooth && (
          <polyline
            className="chart-main"
            data-testid={`${props.testId}-smoothed`}
            points={line(smooth)}
          />
        )}
      </svg>
    </figure>
  );
}
