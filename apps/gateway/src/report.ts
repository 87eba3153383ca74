import type { ObjectStore } from '@nats-io/obj';
import { jobReport, type Database, type JobReport } from '@mesh/read-model';
import { readObject } from '@mesh/nats';
import { renderReportHtml, thumbnailsToShow } from './report-html.js';

/** The report of a job and its HTML page with the thumbnails read from the object store. */
export async function reportWithHtml(db: Database, store: ObjectStore, jobId: string): Promise<{ report: JobReport; html: string } | null> {
  const report = jobReport(db, jobId);
  if (!report) return null;
  const thumbnails = new Map<string, Buffer>();
  for (const name of thumbnailsToShow(report)) {
    // A missing thumbnail leaves a card without picture rather than failing the whole report.
    const data = await readObject(store, name).catch(() => undefined);
    if (data) thumbnails.set(name, data);
  }
  return { report, html: renderReportHtml(report, thumbnails) };
}
