import uPlot from "./uPlot.esm.js";

/** How far back the charts reach: the last five minutes, a point a second. */
const WINDOW_SECONDS = 300;
const HEIGHT = 180;

/**
 * @typedef {object} Line
 * @property {string} label
 * @property {string} color A CSS custom property of the page's theme, e.g. `--accent`.
 * @property {boolean} [fill] Shade the area under it.
 * @property {boolean} [dashed] A reference line (a limit) rather than a measurement.
 */

/**
 * A live chart of rates per second over the last minutes, one point per
 * snapshot, drawn by uPlot (a canvas: 300 points a line redrawn every
 * second cost next to nothing). It follows its container's width and the
 * page's light or dark theme.
 */
export class RateChart {
    /** @type {[number[], ...(number | null)[][]]} */
    #data;
    /** @type {uPlot | undefined} */
    #plot;

    /**
     * @param {HTMLElement} container
     * @param {Line[]} lines
     */
    constructor(container, lines) {
        this.container = container;
        this.lines = lines;
        this.#data = [[], ...lines.map(() => /** @type {(number | null)[]} */ ([]))];
        this.#draw();
        new ResizeObserver(() => this.#plot?.setSize(this.#size())).observe(container);
        // Colours are read from the theme when drawn: a switch between light and dark draws again.
        matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => this.#draw());
    }

    /**
     * Adds a point to each line (`null`: a gap) and drops what left the window.
     *
     * @param {number} at unix ms
     * @param {(number | null)[]} values one per line
     */
    push(at, values) {
        const [times, ...columns] = this.#data;
        times.push(at / 1000);
        for (const [i, column] of columns.entries()) column.push(values[i] ?? null);
        while ((times[0] ?? Number.POSITIVE_INFINITY) < at / 1000 - WINDOW_SECONDS) for (const column of this.#data) column.shift();
        this.#show();
    }

    /** Empties the chart (another login, maybe to another bot). */
    clear() {
        for (const column of this.#data) column.length = 0;
        this.#show();
    }

    /**
     * Draws the points there are, over the time they span; before there are
     * two, over the last minute (uPlot would span a point, or none, from 1970).
     */
    #show() {
        this.#plot?.setData(this.#data);
        const [times] = this.#data;
        if (times.length < 2) this.#plot?.setScale("x", { min: Date.now() / 1000 - 60, max: Date.now() / 1000 });
    }

    #size() {
        return { width: Math.max(200, this.container.clientWidth), height: HEIGHT };
    }

    #draw() {
        this.#plot?.destroy();
        const style = getComputedStyle(this.container);
        const color = (/** @type {string} */ name) => style.getPropertyValue(name).trim();
        const axis = {
            stroke: color("--muted"),
            grid: { stroke: color("--grid"), width: 1 },
            ticks: { stroke: color("--grid"), width: 1 },
            font: `12px ${style.fontFamily}`,
        };
        this.#plot = new uPlot(
            {
                ...this.#size(),
                // With several lines, a key of their names (values would show only under the pointer).
                legend: { show: this.lines.length > 1, live: false },
                cursor: { drag: { x: false, y: false, setScale: false } },
                scales: { x: { time: true }, y: { range: (_plot, _min, max) => [0, Math.max(1, max * 1.15)] } },
                axes: [
                    // A time label is about 80 px wide: ticks this far apart never overlap.
                    { ...axis, space: 100, values: (_plot, splits) => splits.map(clockTime) },
                    { ...axis, size: 48 },
                ],
                series: [
                    {},
                    ...this.lines.map((line) => ({
                        label: line.label,
                        stroke: color(line.color),
                        width: line.dashed ? 1.5 : 2,
                        ...(line.dashed ? { dash: [6, 4] } : {}),
                        ...(line.fill ? { fill: color(`${line.color}-fill`) } : {}),
                        points: { show: false },
                        value: (/** @type {uPlot} */ _plot, /** @type {number | null} */ value) =>
                            value === null ? "–" : `${value.toFixed(1)}/s`,
                    })),
                ],
            },
            this.#data,
            this.container,
        );
        this.#show();
    }
}

/**
 * A tick of the time axis as the local time of day, `14:05:30`: the window
 * is minutes long, so the date would only crowd the axis.
 *
 * @param {number} seconds unix time
 */
function clockTime(seconds) {
    return new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}
