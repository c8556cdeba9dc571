/**
 * A small line chart as inline SVG (no library): the series scaled to a top value, an area under its
 * line and a baseline; the label (also the visible caption) states the latest value and the peak.
 */
import { el, svg } from "./dom.js";

const W = 300;
const H = 60;

export interface Chart {
  node: HTMLElement;
  /** Redraw in place (no node rebuilt): `top` is the value at the chart's top edge. */
  update(values: number[], top: number, label: string): void;
}

function points(values: number[], top: number): string {
  const n = values.length;
  return values
    .map((v, i) => {
      const x = (i * W) / (n - 1);
      const y = H - 1 - (Math.min(v, top) / top) * (H - 2);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(" ");
}

export function chart(): Chart {
  const area = svg("polygon", { class: "chart-area" });
  const line = svg("polyline", { class: "chart-line" });
  const base = svg("line", { class: "chart-base", x1: 0, y1: H - 0.5, x2: W, y2: H - 0.5 });
  const image = svg("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img", focusable: "false" });
  image.append(area, line, base);
  const caption = el("p", { "aria-hidden": "true" });
  const node = el("div", { class: "chart" }, caption, image);
  return {
    node,
    update(values, top, label) {
      const series = values.length > 1 ? values : [values[0] ?? 0, values[0] ?? 0];
      const pts = points(series, top > 0 ? top : 1);
      line.setAttribute("points", pts);
      area.setAttribute("points", `0,${H} ${pts} ${W},${H}`);
      image.setAttribute("aria-label", label);
      caption.textContent = label;
    },
  };
}
