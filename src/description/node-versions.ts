/**
 * Node.js release lines and their support dates, for choosing the image's Node major and warning
 * about end-of-life ones. Source: the Node.js Release Working Group's schedule
 * (github.com/nodejs/Release README and schedule.json), as of {@link NODE_SCHEDULE_DATE}. Up to
 * Node 26 only even majors become LTS; from Node 27 on every release line is promoted to LTS
 * (about six months after its first release) and stays supported 30 months in all.
 * Update this table when a new line is released; dates are the schedule's, UTC.
 */

/** One release line. Dates are `YYYY-MM-DD`. */
export interface NodeRelease {
  major: number;
  /** First day of Long Term Support (null: the line never becomes LTS). */
  lts: string | null;
  /** End of life: from this day on the line gets no fixes, security ones included. */
  end: string;
}

/** The day the table below was last checked against the Node.js schedule. */
export const NODE_SCHEDULE_DATE = "2026-12-07";

/** Release lines from the oldest the runtime could ever meet to the newest scheduled. */
export const NODE_RELEASES: readonly NodeRelease[] = [
  { major: 18, lts: "2022-10-25", end: "2025-04-30" },
  { major: 19, lts: null, end: "2023-06-01" },
  { major: 20, lts: "2023-10-24", end: "2026-04-30" },
  { major: 21, lts: null, end: "2024-06-01" },
  { major: 22, lts: "2024-10-29", end: "2027-04-30" },
  { major: 23, lts: null, end: "2025-06-01" },
  { major: 24, lts: "2025-10-28", end: "2028-04-30" },
  { major: 25, lts: null, end: "2026-06-01" },
  { major: 26, lts: "2026-10-28", end: "2029-04-30" },
  { major: 27, lts: "2027-10-20", end: "2030-04-30" },
];

const day = (d: Date): string => d.toISOString().slice(0, 10);

/** The release line of `major`, or undefined when the table does not know it. */
export function nodeRelease(major: number): NodeRelease | undefined {
  return NODE_RELEASES.find((r) => r.major === major);
}

/** LTS lines supported on `today` (LTS started, end of life not reached), newest first. */
export function supportedLtsMajors(today: Date = new Date()): number[] {
  const t = day(today);
  return NODE_RELEASES.filter((r) => r.lts !== null && r.lts <= t && t < r.end)
    .map((r) => r.major)
    .sort((a, b) => b - a);
}

/**
 * The newest LTS major on `today` that `allows` accepts (e.g. what `engines.node` allows), or
 * null when it accepts none of the supported LTS lines.
 */
export function newestLtsMajor(allows: (major: number) => boolean = () => true, today: Date = new Date()): number | null {
  return supportedLtsMajors(today).find(allows) ?? null;
}

/** The end-of-life date (`YYYY-MM-DD`) of `major` when it has passed on `today`, else null. */
export function endOfLife(major: number, today: Date = new Date()): string | null {
  const r = nodeRelease(major);
  return r && r.end <= day(today) ? r.end : null;
}

/**
 * A warning for a description or project pinned to an end-of-life Node major, naming the date
 * and the newest LTS; null when `major` is still supported (or newer than this table knows).
 */
export function endOfLifeWarning(major: number, today: Date = new Date()): string | null {
  const end = endOfLife(major, today);
  if (!end) return null;
  const lts = newestLtsMajor(() => true, today);
  return `Node ${major} reached end of life on ${end} and gets no security fixes${lts ? `; the newest LTS is Node ${lts}` : ""} (set "node" in the description, or widen engines.node)`;
}
