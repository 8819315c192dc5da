// A time series for the Monitoring page's small charts.
export interface Sample {
  t: number; // ms since the epoch
  v: number;
}

// pushSample appends a sample and drops those older than windowMs.
export function pushSample(series: readonly Sample[], s: Sample, windowMs: number): Sample[] {
  const from = s.t - windowMs;
  return [...series.filter((x) => x.t >= from && x.t < s.t), s];
}

// sparklinePoints maps samples to an SVG polyline "x,y x,y" inside a
// width×height box; the time axis spans windowMs ending at `end`, the value
// axis 0..max(values) (at least 1, so a flat zero line sits on the bottom).
export function sparklinePoints(series: readonly Sample[], width: number, height: number, windowMs: number, end: number): string {
  if (series.length === 0) return "";
  const max = Math.max(1, ...series.map((s) => s.v));
  const start = end - windowMs;
  return series
    .map((s) => {
      const x = Math.max(0, Math.min(width, ((s.t - start) / windowMs) * width));
      const y = height - (s.v / max) * height;
      return `${round(x)},${round(y)}`;
    })
    .join(" ");
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
