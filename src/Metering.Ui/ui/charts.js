// Small SVG bar charts drawn from the API's numbers: no chart library, nothing from the internet.
const NS = 'http://www.w3.org/2000/svg';
export const palette = ['#1d4ed8', '#047857', '#b45309', '#7c3aed', '#be123c', '#0e7490'];

function svg(tag, attrs = {}, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v != null) el.setAttribute(k, v);
  if (text != null) el.textContent = text;
  return el;
}

let uid = 0;

/**
 * Horizontal bars, one row per item {label, value, limit?, color?}: the bar is the value, a dashed
 * line marks the limit (a quota). Each row has its own scale (meters differ by orders of magnitude);
 * the numbers are written next to it. Labels sit above the bars so it reads on a phone.
 */
export function hbarChart({ title, items, format, limitLabel }) {
  const width = 400, row = 46, top = 6;
  const height = top + items.length * row + 4;
  const id = `chart-${++uid}`;
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': `${id}-t ${id}-d`, class: 'chart' });
  root.append(svg('title', { id: `${id}-t` }, title));
  root.append(svg('desc', { id: `${id}-d` }, items.map(i => `${i.label}: ${format(i.value)}${i.limit != null ? ` / ${format(i.limit)} ${limitLabel}` : ''}`).join('; ')));
  items.forEach((item, n) => {
    const y = top + n * row;
    const max = Math.max(1, item.value, item.limit ?? 0) * 1.08;
    root.append(svg('text', { x: 0, y: y + 13, class: 'chart-label' }, item.label));
    root.append(svg('text', { x: width, y: y + 13, class: 'chart-value', 'text-anchor': 'end' },
      item.limit != null ? `${format(item.value)} / ${format(item.limit)}` : format(item.value)));
    root.append(svg('rect', { x: 0, y: y + 19, width, height: 16, rx: 3, class: 'chart-track' }));
    const bar = svg('rect', { x: 0, y: y + 19, width: Math.max(item.value > 0 ? 2 : 0, (item.value / max) * width), height: 16, rx: 3,
      fill: item.limit != null && item.value > item.limit ? '#b91c1c' : (item.color ?? palette[0]), class: 'chart-bar' });
    bar.append(svg('title', {}, `${item.label}: ${format(item.value)}`));
    root.append(bar);
    if (item.limit != null && item.limit > 0) {
      const x = (item.limit / max) * width;
      root.append(svg('line', { x1: x, x2: x, y1: y + 16, y2: y + 38, class: 'chart-limit' }));
    }
  });
  return root;
}

/**
 * Vertical bars over time, stacked by group: periods [{label, values: {group: number}}], groups in order.
 * An optional limit draws a dashed horizontal line (the quota of the period), named by limitLabel in the
 * description. Drawn narrow (360 units) so the text stays legible when three sit side by side or on a phone.
 */
export function seriesChart({ title, periods, groups, format, limit, limitLabel }) {
  const width = 360, height = 200, left = 40, bottom = 24, top = 10;
  const totals = periods.map(p => groups.reduce((s, g) => s + (p.values[g] ?? 0), 0));
  const max = Math.max(1, ...totals, limit ?? 0) * 1.1;
  const plotH = height - top - bottom, plotW = width - left - 4;
  const slot = plotW / Math.max(1, periods.length), barW = Math.max(2, slot * 0.7);
  const id = `chart-${++uid}`;
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': `${id}-t ${id}-d`, class: 'chart' });
  root.append(svg('title', { id: `${id}-t` }, title));
  root.append(svg('desc', { id: `${id}-d` }, [...periods.map((p, i) => `${p.label}: ${format(totals[i])}`), limit > 0 && limitLabel].filter(Boolean).join('; ')));
  for (let i = 0; i <= 4; i++) {
    const v = (max / 1.1) * i / 4, y = top + plotH - (v / max) * plotH;
    root.append(svg('line', { x1: left, x2: width, y1: y, y2: y, class: 'chart-grid' }));
    root.append(svg('text', { x: left - 4, y: y + 4, 'text-anchor': 'end', class: 'chart-axis' }, format(v)));
  }
  const every = Math.ceil(periods.length / 5);
  periods.forEach((p, i) => {
    const x = left + i * slot + (slot - barW) / 2;
    let y = top + plotH;
    groups.forEach((g, gi) => {
      const h = ((p.values[g] ?? 0) / max) * plotH;
      if (h <= 0) return;
      y -= h;
      const bar = svg('rect', { x, y, width: barW, height: h, fill: palette[gi % palette.length], class: 'chart-bar' });
      bar.append(svg('title', {}, `${p.label}${g ? ` · ${g}` : ''}: ${format(p.values[g] ?? 0)}`));
      root.append(bar);
    });
    if (i % every === 0) root.append(svg('text', { x: x + barW / 2, y: height - 8, 'text-anchor': 'middle', class: 'chart-axis' }, p.label));
  });
  if (limit != null && limit > 0) {
    const y = top + plotH - (limit / max) * plotH;
    root.append(svg('line', { x1: left, x2: width, y1: y, y2: y, class: 'chart-limit' }));
  }
  return root;
}
