import type { Distribution, JobReport, ReportChunk } from '@mesh/read-model';

/** Flagged chunks shown with a thumbnail; the rest are listed by name only. */
export const FLAGGED_THUMBNAILS = 100;

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Fractions with three decimals, other numbers with four significant digits. */
export function formatNumber(v: number): string {
  if (Number.isInteger(v)) return String(v);
  if (Math.abs(v) < 1 && Math.abs(v) >= 0.001) return v.toFixed(3);
  return Number(v.toPrecision(4)).toString();
}

/** The thumbnail objects a report shows, so the caller can fetch exactly those. */
export function thumbnailsToShow(report: JobReport): string[] {
  const names = new Set<string>();
  for (const w of report.worst) for (const c of w.chunks) if (c.thumbnail_object) names.add(c.thumbnail_object);
  for (const c of report.flagged.slice(0, FLAGGED_THUMBNAILS)) if (c.thumbnail_object) names.add(c.thumbnail_object);
  return [...names];
}

function histogram(d: Distribution): string {
  const w = 320;
  const h = 90;
  const most = Math.max(1, ...d.bins.map((b) => b.count));
  const bw = w / d.bins.length;
  const bars = d.bins
    .map((b, i) => {
      const bh = Math.round((b.count / most) * (h - 14));
      const title = `${formatNumber(b.from)}–${formatNumber(b.to)}: ${b.count}`;
      return `<rect x="${(i * bw + 1).toFixed(1)}" y="${h - 12 - bh}" width="${(bw - 2).toFixed(1)}" height="${bh}"><title>${escapeHtml(title)}</title></rect>`;
    })
    .join('');
  const axis = `<text x="0" y="${h - 1}">${formatNumber(d.bins[0]!.from)}</text><text x="${w}" y="${h - 1}" text-anchor="end">${formatNumber(d.bins.at(-1)!.to)}</text>`;
  return `<svg class="hist" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="histogram of ${escapeHtml(d.label)}">${bars}${axis}</svg>`;
}

function thumb(c: ReportChunk, thumbnails: ReadonlyMap<string, Buffer>): string {
  const data = c.thumbnail_object ? thumbnails.get(c.thumbnail_object) : undefined;
  return data ? `<img src="data:image/jpeg;base64,${data.toString('base64')}" alt="comparison of ${escapeHtml(c.name)}">` : '';
}

function table(head: string[], rows: string[][]): string {
  if (rows.length === 0) return '<p class="none">none</p>';
  const th = head.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  return `<table><thead><tr>${th}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

/**
 * The job report as one self-contained HTML page: no scripts, no external resources; the
 * thumbnails (`thumbnails`: object name -> JPEG bytes) are inlined as data URIs.
 */
export function renderReportHtml(report: JobReport, thumbnails: ReadonlyMap<string, Buffer>): string {
  const t = report.totals;
  const totals = table(
    ['chunks', 'completed', 'failed', 'measured', 'flagged', 'with ground truth', 'skipped entries'],
    [[t.total, t.completed, t.failed, t.measured, t.flagged, t.with_ground_truth, t.skipped].map(String)],
  );
  const flags = table(
    ['flag', 'chunks'],
    Object.entries(report.flags).map(([k, v]) => [escapeHtml(k), String(v)]),
  );
  const distributions = report.distributions
    .map(
      (d) =>
        `<figure class="dist"><figcaption><b>${escapeHtml(d.label)}</b> — ${d.count} chunks; mean ${formatNumber(d.mean)}, ` +
        `median ${formatNumber(d.median)}, min ${formatNumber(d.min)}, max ${formatNumber(d.max)}</figcaption>${histogram(d)}</figure>`,
    )
    .join('');
  const worst = report.worst
    .map(
      (w) =>
        `<h3>worst by ${escapeHtml(w.label)}</h3><div class="cards">` +
        w.chunks
          .map((c) => `<figure class="card">${thumb(c, thumbnails)}<figcaption>${escapeHtml(c.name)}<br>${formatNumber(c.value)}</figcaption></figure>`)
          .join('') +
        '</div>',
    )
    .join('');
  const flagged = table(
    ['image', 'flags', 'comparison'],
    report.flagged.map((c, i) => [escapeHtml(c.name), escapeHtml(c.flags.join(', ')), i < FLAGGED_THUMBNAILS ? thumb(c, thumbnails) : '']),
  );
  const gtErrors = table(
    ['image', 'why the ground truth was not used'],
    report.ground_truth_errors.map((e) => [escapeHtml(e.name), escapeHtml(e.reason)]),
  );
  const failed = table(
    ['image', 'stage', 'reason'],
    report.failed.map((f) => [escapeHtml(f.name ?? f.chunk_id), escapeHtml(f.stage ?? ''), escapeHtml(f.reason ?? '')]),
  );
  const skipped = table(
    ['entry', 'reason'],
    report.skipped.map((s) => [escapeHtml(s.name), escapeHtml(s.reason)]),
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Job ${escapeHtml(report.job_id)}: report</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
.hist rect{fill:#4a7bd0}.hist text{font-size:10px;fill:#555}
.dist{display:inline-block;margin:0 1.5em 1em 0;vertical-align:top}.dist figcaption{max-width:320px}
.cards{display:flex;flex-wrap:wrap;gap:.8em}.card{margin:0;max-width:240px;font-size:12px}
img{max-width:240px;display:block}.none{color:#777}
</style></head><body>
<h1>Job ${escapeHtml(report.job_id)}</h1>
<p>state <b>${escapeHtml(report.state)}</b>, report of ${escapeHtml(report.generated_at)}</p>
<h2>Totals</h2>${totals}
<h2>Flags</h2>${flags}
<h2>Distributions</h2>${distributions || '<p class="none">no figures yet</p>'}
<h2>Worst chunks</h2>${worst || '<p class="none">no figures yet</p>'}
<h2>Flagged chunks</h2>${flagged}
<h2>Unusable ground truth</h2>${gtErrors}
<h2>Failed chunks</h2>${failed}
<h2>Skipped entries</h2>${skipped}
</body></html>
`;
}
