/**
 * The server-sent stream of status changes (`GET /v1/events`): each subscriber gets the current
 * status at once, then every published change, as `event: status` lines (text/event-stream).
 * A subscriber that does not read (its socket buffer stays full past `maxBufferedBytes`) is
 * dropped, so one stuck client cannot hold memory or slow the others. A comment line every
 * `keepAliveMs` lets clients notice a dead daemon.
 */
import type { ServerResponse } from 'node:http';
import type { DaemonStatus, StatusEvent } from '../../shared/local-api.js';
import { LOCAL_API_VERSION } from '../../shared/local-api.js';

interface Subscriber {
  response: ServerResponse;
  key: string;
}

export interface StatusStreams {
  /** Adds a subscriber, or answers false when the total or per-user limit is reached. */
  subscribe(response: ServerResponse, key: string, current: DaemonStatus): boolean;
  publish(status: DaemonStatus): void;
  count(): number;
  closeAll(): void;
}

export function createStatusStreams(options: {
  maxStreams: number;
  maxStreamsPerKey: number;
  keepAliveMs?: number;
  maxBufferedBytes?: number;
}): StatusStreams {
  const subscribers = new Set<Subscriber>();
  const maxBuffered = options.maxBufferedBytes ?? 256 * 1024;
  let sequence = 0;
  const keepAlive = setInterval(() => {
    for (const s of subscribers) send(s, ': keep-alive\n\n');
  }, options.keepAliveMs ?? 15_000);
  keepAlive.unref();

  function send(subscriber: Subscriber, text: string): void {
    const { response } = subscriber;
    if (response.writableLength > maxBuffered) {
      drop(subscriber);
      return;
    }
    response.write(text);
  }
  function drop(subscriber: Subscriber): void {
    subscribers.delete(subscriber);
    subscriber.response.destroy();
  }
  function frame(status: DaemonStatus): string {
    const event: StatusEvent = { apiVersion: LOCAL_API_VERSION, sequence: sequence++, status };
    return `event: status\nid: ${event.sequence}\ndata: ${JSON.stringify(event)}\n\n`;
  }

  return {
    subscribe(response, key, current) {
      const mine = [...subscribers].filter((s) => s.key === key).length;
      if (subscribers.size >= options.maxStreams || mine >= options.maxStreamsPerKey) return false;
      const subscriber = { response, key };
      subscribers.add(subscriber);
      response.on('close', () => subscribers.delete(subscriber));
      response.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
      });
      send(subscriber, frame(current));
      return true;
    },
    publish(status) {
      const text = frame(status);
      for (const s of subscribers) send(s, text);
    },
    count: () => subscribers.size,
    closeAll() {
      clearInterval(keepAlive);
      for (const s of subscribers) drop(s);
    },
  };
}
