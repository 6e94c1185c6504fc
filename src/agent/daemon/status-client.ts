/**
 * The client side of `GET /v1/status` on the local API socket, for `posture status` (and later the
 * SDK). No daemon there: ERR_DAEMON_NOT_RUNNING; an answer that is not the contract's:
 * ERR_DAEMON_BAD_ANSWER.
 */
import { request } from 'node:http';
import type { StatusResponse } from '../../shared/local-api.js';
import { statusResponseSchema } from '../../shared/local-api.js';
import { DaemonError } from './errors.js';

const MAX_ANSWER_BYTES = 1024 * 1024;

export function readDaemonStatus(socketPath: string, timeoutMs = 10_000): Promise<StatusResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: '/v1/status', method: 'GET', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
        if (body.length > MAX_ANSWER_BYTES) req.destroy(new Error('answer too large'));
      });
      res.on('end', () => {
        try {
          if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}: ${body.slice(0, 200)}`);
          resolve(statusResponseSchema.parse(JSON.parse(body)));
        } catch (error) {
          reject(badAnswer(socketPath, error));
        }
      });
      res.on('error', (error) => reject(badAnswer(socketPath, error)));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ECONNREFUSED' || error.code === 'ENOTSOCK')
        reject(
          new DaemonError(
            'ERR_DAEMON_NOT_RUNNING',
            `no Posture Agent daemon answers on ${socketPath} (${error.code}); start the service (systemctl start posture-agent) or run \`posture daemon\`.`,
          ),
        );
      else reject(badAnswer(socketPath, error));
    });
    req.end();
  });
}

function badAnswer(socketPath: string, error: unknown): DaemonError {
  return new DaemonError(
    'ERR_DAEMON_BAD_ANSWER',
    `the daemon on ${socketPath} did not answer as expected (${error instanceof Error ? error.message : String(error)}).`,
  );
}
