/**
 * A durable job queue over the spool database: runs due jobs of one kind
 * (forward or webhook), retries with exponential backoff, gives up after a
 * deadline.
 *
 * Invariants:
 * - A job leaves the database only after its outcome is known: delivered,
 *   permanently refused, or past `giveUpAfterMs`. A crash at any point leaves
 *   the job in place, so it runs again after a restart (at least once; the
 *   delivery id the job carries lets the receiver drop a repeat).
 * - Never more than `concurrency` jobs in flight; one job never runs twice at
 *   the same time.
 * - Retry n (1-based) waits min(retryMaxMs, retryBaseMs · 2^(n−1)), ±20 %
 *   jitter, so many failing jobs do not retry in lock step.
 * - `stop()` stops starting jobs, aborts those in flight (their `signal`) and
 *   waits for them; an aborted job stays due and runs again after a restart.
 */
import type { Logger } from "../log.ts";
import type { SpoolDatabase, SpoolJobData, SpoolJobKind, SpooledMessageData } from "./spool-database.ts";

export type JobOutcomeData = { kind: "done" } | { kind: "retry"; reason: string } | { kind: "fail"; reason: string };

export interface JobQueueOptions {
  spool: SpoolDatabase;
  kind: SpoolJobKind;
  concurrency: number;
  retryBaseMs: number;
  retryMaxMs: number;
  giveUpAfterMs: number;
  logger: Logger;
  run(job: SpoolJobData, message: SpooledMessageData, signal: AbortSignal): Promise<JobOutcomeData>;
  /** Called once when a job is abandoned (permanent failure or deadline), before it is deleted. */
  onGiveUp?(job: SpoolJobData, message: SpooledMessageData, reason: string): Promise<void>;
  now?: () => number;
}

/** Longest sleep between scans, so a clock jump or a missed poke heals itself. */
const MAX_IDLE_MS = 60_000;

export function retryDelay(attempt: number, baseMs: number, maxMs: number, random = Math.random()): number {
  const exponential = Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 40));
  return Math.max(1, Math.round(exponential * (0.8 + 0.4 * random)));
}

export class JobQueue {
  private readonly options: JobQueueOptions;
  private readonly inFlight = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = true;
  private abort = new AbortController();

  constructor(options: JobQueueOptions) {
    this.options = options;
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  start(): void {
    this.stopped = false;
    if (this.abort.signal.aborted) this.abort = new AbortController();
    this.pump();
  }

  /** New work may be due: look now instead of at the next timer. */
  poke(): void {
    if (!this.stopped) this.pump();
  }

  get running(): number {
    return this.inFlight.size;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.abort.abort();
    await Promise.allSettled([...this.inFlight.values()]);
  }

  private pump(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const free = this.options.concurrency - this.inFlight.size;
    let jobs: SpoolJobData[] = [];
    try {
      if (free > 0) jobs = this.options.spool.dueJobs(this.options.kind, this.now(), free, new Set(this.inFlight.keys()));
    } catch (error) {
      this.options.logger.warn({ err: error instanceof Error ? error.message : "error", kind: this.options.kind }, "queue scan failed");
    }
    for (const job of jobs) {
      const running = this.runOne(job).finally(() => {
        this.inFlight.delete(job.id);
        this.pump();
      });
      this.inFlight.set(job.id, running);
    }
    if (this.inFlight.size >= this.options.concurrency) return;
    let next: number | null = null;
    try {
      next = this.options.spool.nextDueAt(this.options.kind);
    } catch {
      next = null;
    }
    const wait = next === null ? MAX_IDLE_MS : Math.min(MAX_IDLE_MS, Math.max(10, next - this.now()));
    this.timer = setTimeout(() => this.pump(), wait);
    this.timer.unref();
  }

  private async runOne(job: SpoolJobData): Promise<void> {
    const { spool, logger } = this.options;
    const message = spool.message(job.messageId);
    if (!message) {
      spool.finishJob(job.id, job.messageId);
      return;
    }
    let outcome: JobOutcomeData;
    try {
      outcome = await this.options.run(job, message, this.abort.signal);
    } catch (error) {
      outcome = { kind: "retry", reason: error instanceof Error ? error.message : "error" };
    }
    if (this.stopped && outcome.kind === "retry") {
      // Shutting down: leave the job due, it runs again after the restart.
      return;
    }
    const attempts = job.attempts + 1;
    if (outcome.kind === "done") {
      spool.finishJob(job.id, job.messageId);
      logger.debug({ job: job.id, kind: job.kind, attempts }, "job delivered");
      return;
    }
    const expired = this.now() - job.createdAt >= this.options.giveUpAfterMs;
    if (outcome.kind === "fail" || expired) {
      logger.info({ job: job.id, kind: job.kind, attempts, reason: outcome.reason }, "job abandoned");
      try {
        await this.options.onGiveUp?.(job, message, outcome.reason);
      } catch (error) {
        logger.warn({ job: job.id, err: error instanceof Error ? error.message : "error" }, "give-up handler failed; job kept");
        spool.rescheduleJob(job.id, attempts, this.now() + retryDelay(attempts, this.options.retryBaseMs, this.options.retryMaxMs), outcome.reason);
        return;
      }
      spool.finishJob(job.id, job.messageId);
      return;
    }
    const delay = retryDelay(attempts, this.options.retryBaseMs, this.options.retryMaxMs);
    spool.rescheduleJob(job.id, attempts, this.now() + delay, outcome.reason);
    logger.debug({ job: job.id, kind: job.kind, attempts, delayMs: delay }, "job will be retried");
  }
}
