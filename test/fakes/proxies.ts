/**
 * Real access proxies in front of the verifier for tests: nginx (auth_request) and Caddy
 * (forward_auth), each with its own configuration in a temporary folder, on loopback ports, in front
 * of a small upstream that echoes the device header it was given.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './ports.js';

export { freePort };

export interface Running {
  port: number;
  stop(): Promise<void>;
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
}

/** An upstream that answers 200 with the X-Posture-Device header the proxy passed on, the method and path. */
export async function startUpstream(): Promise<Running & { server: Server }> {
  const server = createHttpServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        upstream: true,
        device: req.headers['x-posture-device'] ?? null,
        method: req.method,
        path: req.url,
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    server,
    port: (server.address() as { port: number }).port,
    stop: () => new Promise((r) => server.close(() => r())),
  };
}

export const nginxAvailable = () => existsSync('/usr/sbin/nginx');
export const caddyAvailable = () => existsSync('/usr/bin/caddy');

/** The page docs/verifier-service.md's nginx snippet answers when the verifier cannot be asked. */
export const NGINX_UNAVAILABLE_PAGE =
  '<!doctype html><title>Access check unavailable</title><h1>The access check is unavailable</h1><p>Access is refused until the posture verifier answers again. Try again in a minute; if this lasts, contact IT.</p>';

export async function startNginx(verifierPort: number, upstreamPort: number): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), 'posture-nginx-'));
  const port = await freePort();
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  upstream posture_verifier { server 127.0.0.1:${verifierPort}; keepalive 16; }
  server {
    listen 127.0.0.1:${port};
    location = /_posture {
      internal;
      proxy_pass http://posture_verifier/v1/forward-auth;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-Method $request_method;
      proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
    }
    location @posture_denied {
      proxy_pass http://posture_verifier/v1/denied/$posture_decision;
      proxy_method GET;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
    }
    location / {
      auth_request /_posture;
      auth_request_set $posture_device $upstream_http_x_posture_device;
      auth_request_set $posture_decision $upstream_http_x_posture_decision;
      error_page 401 403 = @posture_denied;
      error_page 500 = @posture_unavailable;
      proxy_set_header X-Posture-Device $posture_device;
      proxy_pass http://127.0.0.1:${upstreamPort};
    }
    location @posture_unavailable {
      default_type text/html;
      add_header Retry-After 30 always;
      add_header Cache-Control no-store always;
      return 503 '${NGINX_UNAVAILABLE_PAGE}';
    }
  }
}
`,
  );
  const child = spawn('/usr/sbin/nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], {
    stdio: 'ignore',
  });
  await waitForPort(port, 'the proxy');
  return { port, stop: stopper(child) };
}

export async function startCaddy(verifierPort: number, upstreamPort: number): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), 'posture-caddy-'));
  const port = await freePort();
  writeFileSync(
    join(dir, 'Caddyfile'),
    `{
	admin off
	auto_https off
}
http://127.0.0.1:${port} {
	forward_auth 127.0.0.1:${verifierPort} {
		uri /v1/forward-auth
		copy_headers X-Posture-Device
	}
	reverse_proxy 127.0.0.1:${upstreamPort}
}
`,
  );
  const child = spawn(
    '/usr/bin/caddy',
    ['run', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile'],
    {
      stdio: 'ignore',
      env: {
        PATH: '/usr/bin:/bin',
        HOME: dir,
        XDG_DATA_HOME: join(dir, 'data'),
        XDG_CONFIG_HOME: join(dir, 'config'),
      },
    },
  );
  await waitForPort(port, 'the proxy');
  return { port, stop: stopper(child) };
}
