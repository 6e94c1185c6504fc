/**
 * A minimal local API client for tests: HTTP over the Unix socket, as this process or, through
 * setpriv, as another Unix user (a real second user: the kernel sees its uid).
 */
import { execFile } from 'node:child_process';
import { request as httpRequest } from 'node:http';

export interface ApiAnswer {
  status: number;
  body: Record<string, unknown>;
}

export function callApi(
  socketPath: string,
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<ApiAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
        });
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

/**
 * The same request made by a child process running as `uid` (setpriv drops root for real). Its
 * groups are `groups` (setpriv options), by default gid = uid and no supplementary groups.
 */
export function callApiAs(
  uid: number,
  socketPath: string,
  method: string,
  path: string,
  body?: string,
  groups: readonly string[] = [`--regid=${uid}`, '--clear-groups'],
): Promise<ApiAnswer> {
  const script = `
    const http = require('node:http');
    const [socketPath, method, path, body] = process.argv.slice(1);
    const req = http.request({ socketPath, method, path }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => process.stdout.write(JSON.stringify({ status: res.statusCode, text, uid: process.getuid() })));
    });
    req.on('error', (e) => { process.stdout.write(JSON.stringify({ error: e.code })); });
    body ? req.end(body) : req.end();`;
  const args = [`--reuid=${uid}`, ...groups, process.execPath, '-e', script];
  args.push(socketPath, method, path, body ?? '');
  return new Promise((resolve, reject) => {
    execFile('/usr/bin/setpriv', args, { timeout: 20_000 }, (error, stdout) => {
      if (error) return reject(error);
      const out = JSON.parse(stdout) as { status: number; text: string; uid: number; error?: string };
      if (out.error) return reject(new Error(`client error ${out.error}`));
      if (out.uid !== uid) return reject(new Error(`client ran as ${out.uid}, not ${uid}`));
      resolve({
        status: out.status,
        body: out.text ? (JSON.parse(out.text) as Record<string, unknown>) : {},
      });
    });
  });
}
