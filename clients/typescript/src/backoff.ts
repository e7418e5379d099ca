// Exponential backoff with jitter, so that many clients coming back do not retry in step.

export interface BackoffOptions {
  /** First delay (default 250 ms). */
  minDelayMs?: number;
  /** Longest delay (default 5000 ms). */
  maxDelayMs?: number;
}

export function backoffDelay(attempt: number, { minDelayMs = 250, maxDelayMs = 5000 }: BackoffOptions = {}): number {
  const base = Math.min(maxDelayMs, minDelayMs * 2 ** Math.max(0, attempt - 1));
  return base / 2 + Math.random() * (base / 2);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
