/** Prometheus metrics (prom-client): decisions by result and reason, and their latency. */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Decision } from '../verifier/verify-request.js';

export interface Metrics {
  observe(decision: Decision, seconds: number): void;
  /** A forward-auth call denied before verification (its forwarded request was unusable). */
  refused(code: string): void;
  render(): Promise<string>;
  contentType: string;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const decisions = new Counter({
    name: 'posture_decisions_total',
    help: 'Decisions by result (allow/deny) and first reason code.',
    labelNames: ['result', 'reason'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'posture_decision_duration_seconds',
    help: 'Time to verify a request and decide.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
    registers: [registry],
  });
  // One child counter per (result, reason): prom-client then skips hashing a label object per decision.
  const children = new Map<string, ReturnType<typeof decisions.labels>>();
  const count = (result: string, reason: string) => {
    const key = `${result} ${reason}`;
    let child = children.get(key);
    if (!child) {
      child = decisions.labels(result, reason);
      children.set(key, child);
    }
    child.inc();
  };
  return {
    observe(decision, seconds) {
      count(decision.allowed ? 'allow' : 'deny', decision.reasons[0]?.code ?? 'none');
      latency.observe(seconds);
    },
    refused: (code) => count('deny', code),
    render: () => registry.metrics(),
    contentType: registry.contentType,
  };
}
