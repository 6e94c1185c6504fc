// nginx with auth_request in front of a verifier, for the benchmarks: a static page behind it (not
// "return 200": return runs before the access phase, so auth_request would never be asked).
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitPort } from './lib.js';

export const NGINX = '/usr/sbin/nginx';
export const nginxInstalled = () => existsSync(NGINX);

/**
 * Starts nginx on `port` asking the verifier on `verifierPort` (its /v1/forward-auth) for every
 * request; `argv(cmd, args)` may wrap the command (CPU pinning). Resolves once it listens.
 */
export async function startNginx({ port, verifierPort, argv = (cmd, args) => [cmd, args] }) {
  const dir = mkdtempSync(join(tmpdir(), `bench-nginx-${process.pid}-`));
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1; error_log ${dir}/error.log warn; pid ${dir}/nginx.pid; events { worker_connections 1024; }
http { access_log off; client_body_temp_path ${dir}/b; proxy_temp_path ${dir}/p; fastcgi_temp_path ${dir}/f; uwsgi_temp_path ${dir}/u; scgi_temp_path ${dir}/s;
  large_client_header_buffers 4 16k;
  upstream verifier { server 127.0.0.1:${verifierPort}; keepalive 32; }
  server { listen 127.0.0.1:${port};
    location = /_posture { internal; proxy_pass http://verifier/v1/forward-auth; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_pass_request_body off; proxy_set_header Content-Length ""; proxy_set_header X-Original-Method $request_method; proxy_set_header X-Original-URL $scheme://$http_host$request_uri; }
    location / { auth_request /_posture; root ${dir}/www; try_files /ok.txt =404; } } }`,
  );
  mkdirSync(join(dir, 'www'));
  writeFileSync(join(dir, 'www', 'ok.txt'), 'ok');
  chmodSync(dir, 0o755); // nginx workers run as nobody
  chmodSync(join(dir, 'www'), 0o755);
  chmodSync(join(dir, 'www', 'ok.txt'), 0o644);
  const child = spawn(...argv(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;']), {
    stdio: 'inherit',
  });
  await waitPort(port);
  return {
    port,
    pid: child.pid,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
