import type { Database } from 'better-sqlite3';
import type { ChunkRow, ChunkStatus } from './rows.js';
import { completedChunks, jobStatus, type JobStatus } from './status.js';

/** The four matting errors, scaled as in chunk.compared. */
export interface StoredErrors {
  sad: number;
  mse: number;
  grad: number;
  conn: number;
}

/**
 * What the `figures` column holds: chunk.compared's `figures`, plus its `ground_truth`,
 * `ground_truth_error` and `thumbnail_object` when the event had them.
 */
export interface StoredFigures {
  foreground_fraction: number;
  mean_alpha: number;
  uncertain_fraction: number;
  bbox?: { x: number; y: number; width: number; height: number } | null;
  components?: number;
  flags?: string[];
  ground_truth?: { whole: StoredErrors; unknown: StoredErrors; unknown_pixels: number; band_radius: number };
  ground_truth_error?: string;
  thumbnail_object?: string;
}

/** Every figure and metric a report describes, with the direction that is worse. */
export const REPORT_MEASURES = [
  { key: 'foreground_fraction', label: 'foreground fraction', range: 'unit', worst: null },
  { key: 'mean_alpha', label: 'mean alpha', range: 'unit', worst: null },
  { key: 'uncertain_fraction', label: 'uncertain fraction', range: 'unit', worst: 'high' },
  { key: 'components', label: 'pieces', range: 'open', worst: 'high' },
  ...(['whole', 'unknown'] as const).flatMap((region) =>
    (['sad', 'mse', 'grad', 'conn'] as const).map((metric) => ({
      key: `gt.${region}.${metric}`,
      label: `${metric.toUpperCase()} (${region === 'whole' ? 'whole image' : 'unknown band'})`,
      range: 'open' as const,
      worst: 'high' as const,
    })),
  ),
] as const satisfies readonly { key: string; label: string; range: 'unit' | 'open'; worst: 'high' | null }[];
export type MeasureKey = (typeof REPORT_MEASURES)[number]['key'];

/** Value of one measure for one chunk, undefined when the chunk does not have it. */
export function measureOf(f: StoredFigures, key: MeasureKey): number | undefined {
  if (key.startsWith('gt.')) {
    const [, region, metric] = key.split('.') as [string, 'whole' | 'unknown', keyof StoredErrors];
    return f.ground_truth?.[region][metric];
  }
  const v = f[key as 'foreground_fraction' | 'mean_alpha' | 'uncertain_fraction' | 'components'];
  return typeof v === 'number' ? v : undefined;
}

export interface ReportChunk {
  chunk_id: string;
  name: string;
  comparison_object: string | null;
  thumbnail_object: string | null;
}
export interface Distribution {
  key: MeasureKey;
  label: string;
  /** Chunks that have this measure. */
  count: number;
  mean: number;
  median: number;
  min: number;
  max: number;
  /** Equal-width bins; fractions on [0, 1], the rest on [0, max]. The last bin includes its upper edge. */
  bins: { from: number; to: number; count: number }[];
}

/** The job report: `GET /jobs/:job_id/report`, and `report.json` in the download. */
export interface JobReport {
  job_id: string;
  state: JobStatus['state'];
  generated_at: string;
  totals: {
    total: number;
    completed: number;
    failed: number;
    /** Completed chunks with figures. */
    measured: number;
    flagged: number;
    with_ground_truth: number;
    skipped: number;
  };
  /** Chunks per flag. */
  flags: Record<string, number>;
  distributions: Distribution[];
  /** The worst `worstCount` chunks by each measure that has a worse direction, worst first. */
  worst: { key: MeasureKey; label: string; chunks: (ReportChunk & { value: number })[] }[];
  flagged: (ReportChunk & { flags: string[] })[];
  /** Ground truths the upload carried that could not be used, with why. */
  ground_truth_errors: { chunk_id: string; name: string; reason: string }[];
  failed: { chunk_id: string; name: string | null; stage: string | null; reason: string | null }[];
  skipped: { name: string; reason: string }[];
}

/** The job's figures in a few numbers: `summary` in `GET /status/:job_id`. */
export interface JobSummary {
  measured: number;
  flags: Record<string, number>;
  mean: Partial<Record<MeasureKey, number>>;
  with_ground_truth: number;
}

export interface ReportOptions {
  worstCount?: number;
  bins?: number;
  now?: () => Date;
}

const median = (sorted: number[]) => {
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

function distribution(key: MeasureKey, label: string, unit: boolean, values: number[], binCount: number): Distribution | null {
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  const min = sorted[0]!;
  const max = sorted[sorted.length - 1]!;
  const top = unit ? 1 : max;
  const width = top > 0 ? top / binCount : 0;
  const bins = Array.from({ length: width > 0 ? binCount : 1 }, (_, i) => ({
    from: i * width,
    to: width > 0 ? (i + 1) * width : top,
    count: 0,
  }));
  for (const v of sorted) bins[width > 0 ? Math.min(binCount - 1, Math.floor(v / width)) : 0]!.count++;
  return {
    key,
    label,
    count: values.length,
    mean: values.reduce((s, v) => s + v, 0) / values.length,
    median: median(Array.from(sorted)),
    min,
    max,
    bins,
  };
}

function parseFigures(row: ChunkRow): StoredFigures | null {
  if (!row.figures) return null;
  try {
    return JSON.parse(row.figures) as StoredFigures;
  } catch {
    return null;
  }
}

/**
 * Build a job's report from its status, its completed chunks (read once, in any order) and its
 * failed chunks. Pure: no I/O, so it is tested from rows.
 */
export function buildReport(
  status: JobStatus,
  completed: Iterable<ChunkRow>,
  failed: JobReport['failed'],
  options: ReportOptions = {},
): JobReport {
  const worstCount = options.worstCount ?? 10;
  const binCount = options.bins ?? 10;
  const values = new Map<MeasureKey, number[]>(REPORT_MEASURES.map((m) => [m.key, []]));
  const worst = new Map<MeasureKey, (ReportChunk & { value: number })[]>();
  const flags: Record<string, number> = { empty: 0, full_frame: 0, fragmented: 0 };
  const flagged: JobReport['flagged'] = [];
  const gtErrors: JobReport['ground_truth_errors'] = [];
  let measured = 0;
  let withGroundTruth = 0;
  for (const row of completed) {
    const f = parseFigures(row);
    if (!f) continue;
    measured++;
    const ref: ReportChunk = {
      chunk_id: row.chunk_id,
      name: row.name ?? row.chunk_id,
      comparison_object: row.comparison_object,
      thumbnail_object: f.thumbnail_object ?? null,
    };
    if (f.ground_truth) withGroundTruth++;
    if (f.ground_truth_error) gtErrors.push({ chunk_id: ref.chunk_id, name: ref.name, reason: f.ground_truth_error });
    if (f.flags && f.flags.length > 0) {
      flagged.push({ ...ref, flags: f.flags });
      for (const flag of f.flags) flags[flag] = (flags[flag] ?? 0) + 1;
    }
    for (const m of REPORT_MEASURES) {
      const v = measureOf(f, m.key);
      if (v === undefined) continue;
      values.get(m.key)!.push(v);
      if (m.worst !== 'high') continue;
      // A short list kept sorted, worst first: N insertions into N slots, whatever the job's size.
      const list = worst.get(m.key) ?? [];
      if (list.length < worstCount || v > list[list.length - 1]!.value) {
        let at = list.findIndex((c) => v > c.value);
        if (at < 0) at = list.length;
        list.splice(at, 0, { ...ref, value: v });
        if (list.length > worstCount) list.pop();
        worst.set(m.key, list);
      }
    }
  }
  const byId = (a: { chunk_id: string }, b: { chunk_id: string }) => (a.chunk_id < b.chunk_id ? -1 : a.chunk_id > b.chunk_id ? 1 : 0);
  return {
    job_id: status.job_id,
    state: status.state,
    generated_at: (options.now?.() ?? new Date()).toISOString(),
    totals: {
      total: status.total,
      completed: status.completed,
      failed: status.failed,
      measured,
      flagged: flagged.length,
      with_ground_truth: withGroundTruth,
      skipped: status.skipped.length,
    },
    flags,
    distributions: REPORT_MEASURES.map((m) => distribution(m.key, m.label, m.range === 'unit', values.get(m.key)!, binCount)).filter(
      (d): d is Distribution => d !== null,
    ),
    worst: REPORT_MEASURES.filter((m) => worst.has(m.key)).map((m) => ({ key: m.key, label: m.label, chunks: worst.get(m.key)! })),
    flagged: flagged.sort(byId),
    ground_truth_errors: gtErrors.sort(byId),
    failed: [...failed].sort(byId),
    skipped: status.skipped,
  };
}

/** The few numbers of a report that `GET /status/:job_id` carries. */
export function summarise(report: JobReport): JobSummary {
  return {
    measured: report.totals.measured,
    flags: report.flags,
    mean: Object.fromEntries(report.distributions.map((d) => [d.key, d.mean])),
    with_ground_truth: report.totals.with_ground_truth,
  };
}

const FAILED: ChunkStatus = 'permanently_failed';

/** The report of a job from the read model, or null when the job is unknown. */
export function jobReport(db: Database, jobId: string, options: ReportOptions = {}): JobReport | null {
  const status = jobStatus(db, jobId);
  if (!status) return null;
  const failed = db
    .prepare(
      `SELECT chunk_id, name, failed_stage AS stage, error AS reason FROM chunks
       WHERE job_id = ? AND status = ? ORDER BY chunk_id`,
    )
    .all(jobId, FAILED) as JobReport['failed'];
  return buildReport(status, completedChunks(db, jobId), failed, options);
}
